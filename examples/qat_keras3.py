"""Quantization-aware training with Keras 3, then a full-int8 .tflite on the
tfq delegate.

    .venv/bin/python examples/qat_keras3.py [--train_images=60000] [--output=qat.tflite]

Trains a small CNN on Fashion-MNIST in float, wraps it with
`tfq.quantize_model`, starts the activation ranges from a calibration pass,
fine-tunes with plain `model.fit`, converts with `tfq.convert` and runs the
.tflite with `tfq.Interpreter`. Exits non-zero unless the .tflite predicts
the class the Keras QAT model predicts on at least 99 % of the test images
(the .tflite does in integers what the fake-quant model simulates).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("train_images", 60000, "Fashion-MNIST training images to use.")
flags.DEFINE_integer("test_images", 10000, "Test images to evaluate on.")
flags.DEFINE_integer("float_epochs", 3, "Float training epochs.")
flags.DEFINE_integer("qat_epochs", 1, "Quantization-aware fine-tuning epochs.")
flags.DEFINE_string("output", "qat_keras3.tflite", "Where to write the int8 .tflite.")


def small_cnn(K):
    """Conv-BN-ReLU, a depthwise-separable block, pooling, Dense: the layer
    kinds tfq folds and fuses. `K` is keras or tf_keras."""
    inputs = K.Input((28, 28, 1))
    x = K.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    x = K.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    x = K.layers.Conv2D(32, 1, use_bias=False)(x)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    x = K.layers.GlobalAveragePooling2D()(x)
    return K.Model(inputs, K.layers.Dense(10)(x))


def train_and_quantize(K):
    """The whole flow for Keras flavour `K`; returns (QAT model, .tflite
    bytes, test images, test labels)."""
    from tfq.datasets import fashion_mnist
    import tfq
    K.utils.set_random_seed(0)
    train_images, train_labels = fashion_mnist("train")
    train_images, train_labels = (train_images[:FLAGS.train_images],
                                  train_labels[:FLAGS.train_images])
    model = small_cnn(K)
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_images, train_labels, batch_size=128, epochs=FLAGS.float_epochs, verbose=2)

    qat_model = tfq.quantize_model(model)  # a copy with fake-quant wrappers; BN folded
    tfq.calibrate(qat_model, train_images[:1000], method="percentile")  # ranges to start from
    qat_model.compile(optimizer=K.optimizers.Adam(1e-4), metrics=["accuracy"],
                      loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat_model.fit(train_images, train_labels, batch_size=128, epochs=FLAGS.qat_epochs, verbose=2)
    tflite_model = tfq.convert(qat_model)  # full int8, int8 input and output
    test_images, test_labels = fashion_mnist("test")
    return qat_model, tflite_model, test_images[:FLAGS.test_images], test_labels[:FLAGS.test_images]


def quantize_input(images, input_detail):
    """Float images to the .tflite's int8 input, rounded as TFLite's QUANTIZE."""
    import numpy as np
    import tfq
    scale, zero_point = input_detail["quantization"]
    return tfq.quant_math.quantize(images, tfq.quant_math.QuantParams(
        np.float32([scale]), np.int64([zero_point]), np.int8))


def tflite_predictions(tflite_model, images):
    """Classes the .tflite predicts, run on the tfq delegate."""
    import numpy as np
    import tfq
    interpreter = tfq.Interpreter(model_content=tflite_model)
    input_detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(input_detail["index"], [len(images), 28, 28, 1])
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_detail["index"], quantize_input(images, input_detail))
    interpreter.invoke()
    total, claimed = interpreter.tfq_delegate.last_claim()
    print(f"tfq delegate ran {claimed} of {total} nodes")
    return np.argmax(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), axis=1)


def report(qat_model, tflite_model, test_images, test_labels, output):
    """Writes the .tflite, prints accuracies; 0 if Keras and .tflite agree."""
    import numpy as np
    with open(output, "wb") as handle:
        handle.write(tflite_model)
    keras_classes = np.argmax(qat_model.predict(test_images, batch_size=500, verbose=0), axis=1)
    tflite_classes = tflite_predictions(tflite_model, test_images)
    agreement = float(np.mean(keras_classes == tflite_classes))
    print(f"QAT model (Keras, fake-quant) accuracy: {np.mean(keras_classes == test_labels):.4f}")
    print(f"int8 .tflite accuracy:                  {np.mean(tflite_classes == test_labels):.4f}"
          f" ({len(tflite_model) / 1024:.0f} KB, {output})")
    print(f"same class from Keras and .tflite: {100 * agreement:.2f} % of "
          f"{len(test_labels)} images")
    return 0 if agreement >= 0.99 else 1


def main(_):
    import keras
    return report(*train_and_quantize(keras), FLAGS.output)


if __name__ == "__main__":
    app.run(main)
