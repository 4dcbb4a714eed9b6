"""Quantization-aware training of a tf_keras (Keras 2) model: the same tfq
calls as with Keras 3, plus a save / load round trip in the .h5 format.

    .venv/bin/python examples/qat_tf_keras.py [--train_images=60000] [--output=qat.tflite]

tfq takes tf_keras models as they are: no TF_USE_LEGACY_KERAS needed. A
saved QAT model holds tfq's wrapper layers; load it inside
`tfq.quantize_scope()`. Exits non-zero unless the reloaded model predicts as
the trained one and the .tflite agrees with it on at least 99 % of the test
images.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

import qat_keras3  # noqa: E402  (the flow and flags, shared with the Keras 3 example)

FLAGS = flags.FLAGS
FLAGS.set_default("output", "qat_tf_keras.tflite")


def main(_):
    import numpy as np
    import tf_keras
    import tfq
    qat_model, tflite_model, test_images, test_labels = qat_keras3.train_and_quantize(tf_keras)

    h5_path = os.path.splitext(FLAGS.output)[0] + ".h5"
    qat_model.save(h5_path)
    with tfq.quantize_scope():
        reloaded = tf_keras.models.load_model(h5_path)
    before = qat_model.predict(test_images[:200], verbose=0)
    after = reloaded.predict(test_images[:200], verbose=0)
    if not np.array_equal(before, after):
        print(f"the model reloaded from {h5_path} predicts differently")
        return 1
    print(f"saved and reloaded {h5_path}: identical predictions")
    return qat_keras3.report(reloaded, tflite_model, test_images, test_labels, FLAGS.output)


if __name__ == "__main__":
    app.run(main)
