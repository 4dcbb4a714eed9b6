"""Calibration on real data: Fashion-MNIST, a MobileNet-style depthwise CNN
trained with a fixed seed. Prints, for every tfq calibration method, the int8
.tflite accuracy next to the float accuracy and to plain TFLiteConverter PTQ
(same float model, same calibration samples); calibration throughput against
model.predict on the same images (median of --runs); and the peak RSS growth
while calibrating 1,000 and 10,000 images (flat if activations stream).

    .venv/bin/python tools/bench_calibration.py [--epochs=15] [--json=out.json]

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
flags.DEFINE_integer("epochs", 15, "Float training epochs (fixed seed).")
flags.DEFINE_list("calibration_samples", ["1000", "10000"],
                  "Calibration set sizes to compare (images from the training split); "
                  "absolute min/max widens as data grows, which is where TFLiteConverter's "
                  "PTQ loses accuracy (tensorflow/tensorflow#49927).")
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


def tflite_correct(tflite_model, images, labels):
    """Per test image: 1 if the int8 .tflite classifies it right, else 0."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=tflite_model)
    interpreter.allocate_tensors()
    (input_detail,), (output_detail,) = (interpreter.get_input_details(),
                                         interpreter.get_output_details())
    scale, zero_point = input_detail["quantization"]
    quantized = np.clip(np.round(images / scale) + zero_point, -128, 127).astype(np.int8)
    correct = np.zeros(len(labels), np.int8)
    for index, (image, label) in enumerate(zip(quantized, labels)):
        interpreter.set_tensor(input_detail["index"], image[np.newaxis])
        interpreter.invoke()
        correct[index] = np.argmax(interpreter.get_tensor(output_detail["index"])[0]) == label
    return correct


def difference_with_error(correct_a, correct_b):
    """Accuracy of a minus accuracy of b in points, and its standard error
    (paired: the same test images), which says what difference is noise."""
    import numpy as np
    paired = correct_a.astype(np.float64) - correct_b
    return 100 * paired.mean(), 100 * paired.std(ddof=1) / np.sqrt(paired.size)


def int8_converter(converter):
    """int8 in and out. tfq's models carry their ranges as fake-quant ops; the
    plain float model gets them from representative_dataset."""
    import tensorflow as tf
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def accuracies(model, calibration, test_images, test_labels):
    """int8 .tflite test accuracy of TFLiteConverter's PTQ and of every tfq
    method, all calibrated on `calibration`."""
    import numpy as np
    import tensorflow as tf
    import tfq
    results = {"methods": {}, "chosen": {}, "correct": {}}

    def representative_dataset():
        for image in calibration:
            yield [image[np.newaxis]]

    converter = int8_converter(tf.lite.TFLiteConverter.from_keras_model(model))
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results["correct"]["tflite_converter"] = tflite_correct(converter.convert(), test_images,
                                                                test_labels)
    results["tflite_converter"] = float(results["correct"]["tflite_converter"].mean())
    print(f"{len(calibration)} images: TFLiteConverter int8 accuracy "
          f"{results['tflite_converter']:.4f}")
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
        results["correct"][method] = tflite_correct(tflite_model, test_images, test_labels)
        results["methods"][method] = float(results["correct"][method].mean())
        print(f"{len(calibration)} images: tfq {method:10s} int8 accuracy "
              f"{results['methods'][method]:.4f}")
    return results


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
    results = {"float": float_accuracy, "by_samples": {}}
    for count in map(int, FLAGS.calibration_samples):
        results["by_samples"][count] = accuracies(model, train_images[order[:count]],
                                                  test_images, test_labels)

    # Throughput: calibrate vs predict on the same 1,000 images (medians of --runs).
    images = train_images[order[:1000]]
    quantized = tfq.quantize_model(model)
    model.predict(images, batch_size=32, verbose=0)  # warm-up: tracing
    for method in FLAGS.methods:  # 10 batches: enough for auto's held-back ones
        tfq.calibrate(quantized, images[:320], method=method, progress=False)
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
    print(f"Fashion-MNIST, MobileNet-style depthwise CNN trained {FLAGS.epochs} epochs, "
          f"10,000 test images; float accuracy {float_accuracy:.4f}")
    for count, by_count in results["by_samples"].items():
        print(f"\n{count} calibration images")
        print(f"{'':24s} {'accuracy':>9s} {'drop (pts)':>11s} {'calib/predict':>14s}")
        rows = [("TFLiteConverter PTQ", by_count["tflite_converter"], None)]
        rows += [(f"tfq {m}", a, results["throughput"][m])
                 for m, a in by_count["methods"].items()]
        for name, accuracy, ratio in rows:
            ratio_text = f"{ratio:13.2f}x" if ratio is not None else ""
            print(f"{name:24s} {accuracy:9.4f} {100 * (float_accuracy - accuracy):11.2f} "
                  f"{ratio_text}")
        if by_count["chosen"]:
            print(f"auto chose: {by_count['chosen']}")
        singles = {m: a for m, a in by_count["methods"].items() if m != "auto"}
        if singles:
            best = max(singles, key=singles.get)
            best_overall = max(by_count["methods"], key=by_count["methods"].get)
            difference, error = difference_with_error(by_count["correct"][best_overall],
                                                      by_count["correct"]["tflite_converter"])
            print(f"best single method: {best} (drop "
                  f"{100 * (float_accuracy - singles[best]):.2f} pts; target <= 0.5); "
                  f"tfq best ({best_overall}) - TFLiteConverter = {difference:+.2f} "
                  f"+- {error:.2f} pts (target >= 0)")
            if "auto" in by_count["methods"]:
                print(f"auto - best single = "
                      f"{100 * (by_count['methods']['auto'] - singles[best]):+.2f} pts "
                      "(target >= -0.1)")
    print()
    print("calibrate / predict throughput on 1,000 images (target >= 0.5x): " + ", ".join(
        f"{m} {r:.2f}x" for m, r in results["throughput"].items()))
    for count, growth in results["rss_growth_mb"].items():
        print(f"peak RSS growth calibrating {count:6d} images (entropy): {growth:7.1f} MiB")
    if FLAGS.json:
        for by_count in results["by_samples"].values():
            by_count.pop("correct")
        with open(FLAGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
