"""Calibration on real data: Fashion-MNIST, a MobileNet-style depthwise CNN
trained with a fixed seed. Prints, for every tfq calibration method, the int8
.tflite accuracy next to the float accuracy and to plain TFLiteConverter PTQ
(same float model, same calibration samples); calibration throughput against
model.predict on the same images (median of --runs); and the peak RSS growth
while calibrating 1,000 and 10,000 images (flat if activations stream).

    .venv/bin/python tools/bench_calibration.py [--epochs=3] [--json=out.json]

Targets (issue 4): best method drop <= 0.5 points; auto >= best single - 0.1;
tfq's best >= TFLiteConverter's; calibration >= 0.5x predict throughput.
"""
import json
import os
import statistics
import threading
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from models import mobilenet_style  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 5, "Float training epochs (fixed seed).")
flags.DEFINE_integer("calibration_samples", 1000, "Calibration images (from the training split).")
flags.DEFINE_list("methods", ["minmax", "ema", "percentile", "entropy", "mse", "auto"],
                  "tfq calibration methods to compare.")
flags.DEFINE_integer("runs", 3, "Timed runs for the throughput medians.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples this process's RSS every 5 ms; `growth` = peak - RSS at entry."""

    def __enter__(self):
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        self.growth = self.peak - self.start


def tflite_accuracy(tflite_model, images, labels):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=tflite_model)
    interpreter.allocate_tensors()
    (input_detail,), (output_detail,) = (interpreter.get_input_details(),
                                         interpreter.get_output_details())
    scale, zero_point = input_detail["quantization"]
    quantized = np.clip(np.round(images / scale) + zero_point, -128, 127).astype(np.int8)
    correct = 0
    for image, label in zip(quantized, labels):
        interpreter.set_tensor(input_detail["index"], image[np.newaxis])
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(output_detail["index"])[0]) == label)
    return correct / len(labels)


def int8_converter(converter):
    """int8 in and out. tfq's models carry their ranges as fake-quant ops; the
    plain float model gets them from representative_dataset."""
    import tensorflow as tf
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def main(_):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # the converter logs every captured tensor at INFO
    import keras
    import numpy as np
    import tensorflow as tf
    import tfq
    from tfq.datasets import fashion_mnist

    train_images, train_labels = fashion_mnist("train")
    test_images, test_labels = fashion_mnist("test")
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    model = mobilenet_style(keras, input_shape=(28, 28, 1))
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(train_images, train_labels, batch_size=128, epochs=FLAGS.epochs, verbose=2)
    print(f"trained {FLAGS.epochs} epochs in {time.perf_counter() - start:.0f} s")
    float_accuracy = model.evaluate(test_images, test_labels, verbose=0)[1]

    order = np.random.default_rng(0).permutation(len(train_images))
    calibration = train_images[order[:FLAGS.calibration_samples]]
    results = {"float": float_accuracy, "methods": {}, "chosen": {}}

    def representative_dataset():
        for image in calibration:
            yield [image[np.newaxis]]

    converter = int8_converter(tf.lite.TFLiteConverter.from_keras_model(model))
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results["tflite_converter"] = tflite_accuracy(converter.convert(), test_images,
                                                      test_labels)

    for method in FLAGS.methods:
        quantized = tfq.quantize_model(model)
        result = tfq.calibrate(quantized, calibration, method=method, progress=False)
        if result.chosen:
            counts = {}
            for chosen in result.chosen.values():
                counts[chosen] = counts.get(chosen, 0) + 1
            results["chosen"] = counts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tflite_model = int8_converter(tf.lite.TFLiteConverter.from_keras_model(quantized)
                                          ).convert()
        results["methods"][method] = tflite_accuracy(tflite_model, test_images, test_labels)
        print(f"{method:10s} int8 accuracy {results['methods'][method]:.4f}")

    # Throughput: calibrate vs predict on the same 1,000 images (medians of --runs).
    images = calibration[:1000]
    quantized = tfq.quantize_model(model)
    model.predict(images, batch_size=32, verbose=0)  # warm-up: tracing
    tfq.calibrate(quantized, images[:64], progress=False)
    results["throughput"] = {}
    predict_times = []
    for _ in range(FLAGS.runs):
        start = time.perf_counter()
        model.predict(images, batch_size=32, verbose=0)
        predict_times.append(time.perf_counter() - start)
    for method in FLAGS.methods:
        times = []
        for _ in range(FLAGS.runs):
            start = time.perf_counter()
            tfq.calibrate(quantized, images, method=method, batch_size=32, progress=False)
            times.append(time.perf_counter() - start)
        results["throughput"][method] = statistics.median(predict_times) / statistics.median(times)

    # Peak RSS growth while calibrating 1,000 vs 10,000 images (data held by the caller).
    results["rss_growth_mb"] = {}
    for count in (1000, 10000):
        data = train_images[order[:count]]
        with PeakRss() as peak:
            tfq.calibrate(quantized, data, method="entropy", progress=False)
        results["rss_growth_mb"][count] = peak.growth / 2**20

    print()
    print(f"Fashion-MNIST, MobileNet-style depthwise CNN, {FLAGS.calibration_samples} "
          f"calibration images, 10,000 test images")
    print(f"{'':24s} {'accuracy':>9s} {'drop (pts)':>11s} {'calib/predict':>14s}")
    print(f"{'float':24s} {float_accuracy:9.4f}")
    rows = [("TFLiteConverter PTQ", results["tflite_converter"], None)]
    rows += [(f"tfq {m}", a, results["throughput"][m]) for m, a in results["methods"].items()]
    for name, accuracy, ratio in rows:
        ratio_text = f"{ratio:13.2f}x" if ratio is not None else ""
        print(f"{name:24s} {accuracy:9.4f} {100 * (float_accuracy - accuracy):11.2f} {ratio_text}")
    if results["chosen"]:
        print(f"auto chose: {results['chosen']}")
    for count, growth in results["rss_growth_mb"].items():
        print(f"peak RSS growth calibrating {count:6d} images (entropy): {growth:7.1f} MiB")
    singles = {m: a for m, a in results["methods"].items() if m != "auto"}
    if singles:
        best = max(singles, key=singles.get)
        print(f"best single method: {best} (drop {100 * (float_accuracy - singles[best]):.2f} "
              f"pts; target <= 0.5); tfq best - TFLiteConverter = "
              f"{100 * (max(results['methods'].values()) - results['tflite_converter']):+.2f} pts")
        if "auto" in results["methods"]:
            print(f"auto - best single = {100 * (results['methods']['auto'] - singles[best]):+.2f} "
                  "pts (target >= -0.1)")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
