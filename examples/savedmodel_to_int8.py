"""A SavedModel to a full-int8 .tflite with the `tfq-convert` command line.

    .venv/bin/python examples/savedmodel_to_int8.py [--workdir=savedmodel_example]

Trains a small Fashion-MNIST CNN, exports it as a SavedModel (what a
training pipeline hands over), writes 500 calibration images to a .npy, then
runs, as you would in a shell:

    tfq-convert --input=<SavedModel> --output=model_int8.tflite \\
        --calibration_data=calibration.npy --calibration_method=percentile

and compares the .tflite (on the tfq delegate) with the float SavedModel.
Exits non-zero unless they predict the same class on at least 97 % of the
test images.
"""
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

import qat_keras3  # noqa: E402  (its small CNN and .tflite runner)

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "savedmodel_example", "Where the SavedModel and files go.")


def main(_):
    import keras
    import numpy as np
    import tensorflow as tf
    from tfq.datasets import fashion_mnist

    keras.utils.set_random_seed(0)
    images, labels = fashion_mnist("train")
    images, labels = images[:FLAGS.train_images], labels[:FLAGS.train_images]
    model = qat_keras3.small_cnn(keras)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    model.fit(images, labels, batch_size=128, epochs=FLAGS.float_epochs, verbose=2)

    os.makedirs(FLAGS.workdir, exist_ok=True)
    saved_model = os.path.join(FLAGS.workdir, "saved_model")
    model.export(saved_model)  # a plain TF SavedModel with a serving signature
    calibration = os.path.join(FLAGS.workdir, "calibration.npy")
    np.save(calibration, images[:500])
    output = os.path.join(FLAGS.workdir, "model_int8.tflite")
    command = [os.path.join(os.path.dirname(sys.executable), "tfq-convert"),
               f"--input={saved_model}", f"--output={output}",
               f"--calibration_data={calibration}", "--calibration_method=percentile",
               "--noprogress"]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)

    test_images, test_labels = fashion_mnist("test")
    test_images, test_labels = test_images[:FLAGS.test_images], test_labels[:FLAGS.test_images]
    loaded = tf.saved_model.load(saved_model)  # keep it: its variables live as long as it does
    float_classes = np.argmax(loaded.serve(tf.constant(test_images)).numpy(), axis=1)
    with open(output, "rb") as handle:
        int8_classes = qat_keras3.tflite_predictions(handle.read(), test_images)
    agreement = float(np.mean(float_classes == int8_classes))
    print(f"float SavedModel accuracy: {np.mean(float_classes == test_labels):.4f}")
    print(f"int8 .tflite accuracy:     {np.mean(int8_classes == test_labels):.4f} "
          f"({os.path.getsize(output) / 1024:.0f} KB)")
    print(f"same class: {100 * agreement:.2f} % of {len(test_labels)} images")
    return 0 if agreement >= 0.97 else 1


if __name__ == "__main__":
    app.run(main)
