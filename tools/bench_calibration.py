"""Calibration on real data: Fashion-MNIST (or, --dataset=digits,
scikit-learn's 8x8 digits with 200 calibration images), a MobileNet-style
depthwise CNN trained with a fixed seed. Prints, for every tfq calibration method, the int8
.tflite accuracy next to the float accuracy and to plain TFLiteConverter PTQ
(same float model, same calibration samples); calibration throughput against
model.predict on the same images (median of --runs); and the peak RSS growth
while calibrating 1,000 and 10,000 images (flat if activations stream).

Accuracies are means over --draws calibration sets (draw k: the first N
images of the training split in the order of seed k), every variant on the
same sets. One draw is not enough to rank methods: two variants' int8 files
round differently and flip ~1 % of borderline test images each way, so one
draw's difference between them has a standard error of ~0.1 point, the size
of the targets' margins.

    .venv/bin/python tools/bench_calibration.py [--epochs=15] [--draws=5] [--json=out.json]
    .venv/bin/python tools/bench_calibration.py --dataset=digits --draws=10

On digits only the accuracies are measured (1,300 training images: too few
for the throughput and memory figures).

Targets: best method drop <= 0.5 points; auto >= best single - 0.1 (0.2 on
digits); entropy >= best single - 0.5; tfq's best >= TFLiteConverter's;
calibration >= 0.5x predict throughput.
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
flags.DEFINE_enum("dataset", "fashion_mnist", ["fashion_mnist", "digits"],
                  "fashion_mnist: 28x28, 60,000 training images; digits: scikit-learn's "
                  "8x8 digits, 1,300 training and 497 test images.")
flags.DEFINE_integer("epochs", None, "Float training epochs (fixed seed; default 15 on "
                     "Fashion-MNIST, 30 on digits).")
flags.DEFINE_list("calibration_samples", None,
                  "Calibration set sizes to compare (images from the training split; default "
                  "1000,10000 on Fashion-MNIST, 200 on digits); absolute min/max widens as "
                  "data grows, which is where TFLiteConverter's PTQ loses accuracy "
                  "(tensorflow/tensorflow#49927).")
flags.DEFINE_list("methods", ["minmax", "ema", "percentile", "entropy", "mse", "auto"],
                  "tfq calibration methods to compare.")
flags.DEFINE_integer("draws", 5, "Calibration sets per size (seeds 0..draws-1); accuracies "
                     "are their means.", lower_bound=1)
flags.DEFINE_integer("runs", 5, "Timed runs for the throughput medians.")
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


def mean_difference(draws, a, b):
    """Accuracy of variant a minus that of b in points, averaged over the
    draws, and the standard error of that mean from its spread over the draws
    (one draw: the paired standard error over the test images)."""
    import numpy as np
    per_draw = np.array([100 * (d["correct"][a].astype(np.float64) - d["correct"][b]).mean()
                         for d in draws])
    if len(draws) == 1:
        paired = draws[0]["correct"][a].astype(np.float64) - draws[0]["correct"][b]
        return per_draw[0], 100 * paired.std(ddof=1) / np.sqrt(paired.size)
    return per_draw.mean(), per_draw.std(ddof=1) / np.sqrt(len(draws))


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
          f"{results['tflite_converter']:.4f}", flush=True)
    for method in FLAGS.methods:
        quantized = tfq.quantize_model(model)
        result = tfq.calibrate(quantized, calibration, method=method, progress=False)
        if result.kept:  # auto: the configuration kept at the model output
            results["chosen"] = result.kept
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tflite_model = int8_converter(tf.lite.TFLiteConverter.from_keras_model(quantized)
                                          ).convert()
        results["correct"][method] = tflite_correct(tflite_model, test_images, test_labels)
        results["methods"][method] = float(results["correct"][method].mean())
        print(f"{len(calibration)} images: tfq {method:10s} int8 accuracy "
              f"{results['methods'][method]:.4f}", flush=True)
    return results


def main(_):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # the converter logs every captured tensor at INFO
    import keras
    import numpy as np
    import tensorflow as tf
    import tfq
    from tfq import datasets

    fashion = FLAGS.dataset == "fashion_mnist"
    load = datasets.fashion_mnist if fashion else datasets.digits
    train_images, train_labels = load("train")
    test_images, test_labels = load("test")
    epochs = FLAGS.epochs or (15 if fashion else 30)
    sizes = FLAGS.calibration_samples or (["1000", "10000"] if fashion else ["200"])
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    model = mobilenet_style(keras, input_shape=train_images.shape[1:])
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(train_images, train_labels, batch_size=128 if fashion else 64, epochs=epochs,
              verbose=2 if fashion else 0)
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
    float_accuracy = model.evaluate(test_images, test_labels, verbose=0)[1]

    results = {"float": float_accuracy, "by_samples": {}}
    for count in map(int, sizes):
        results["by_samples"][count] = [
            accuracies(model, train_images[np.random.default_rng(draw).permutation(
                len(train_images))[:count]], test_images, test_labels)
            for draw in range(FLAGS.draws)]

    if fashion:
        results.update(throughput_and_memory(model, train_images))
    print_results(results, epochs, "Fashion-MNIST" if fashion else "8x8 digits",
                  len(test_labels))


def throughput_and_memory(model, train_images):
    """Calibration throughput against model.predict on the same 1,000 images
    (medians of --runs), and the peak RSS growth calibrating 1,000 and 10,000."""
    import numpy as np
    import tfq
    results = {}
    order = np.random.default_rng(0).permutation(len(train_images))
    images = train_images[order[:1000]]
    quantized = tfq.quantize_model(model)
    model.predict(images, batch_size=32, verbose=0)  # warm-up: tracing
    for method in FLAGS.methods:  # warm-up: tracing
        tfq.calibrate(quantized, images[:320], method=method, progress=False)
    # Runs interleaved (predict, then every method), so that a slow moment of
    # this shared machine lands on all of them alike.
    predict_times, times = [], {method: [] for method in FLAGS.methods}
    for _ in range(FLAGS.runs):
        start = time.perf_counter()
        model.predict(images, batch_size=32, verbose=0)
        predict_times.append(time.perf_counter() - start)
        for method in FLAGS.methods:
            start = time.perf_counter()
            tfq.calibrate(quantized, images, method=method, batch_size=32, progress=False)
            times[method].append(time.perf_counter() - start)
    results["throughput"] = {method: statistics.median(predict_times) / statistics.median(t)
                             for method, t in times.items()}

    # Peak RSS growth while calibrating 1,000 vs 10,000 images (data held by the caller).
    results["rss_growth_mb"] = {}
    for count in (1000, 10000):
        data = train_images[order[:count]]
        with PeakRss() as peak:
            tfq.calibrate(quantized, data, method="entropy", progress=False)
        results["rss_growth_mb"][count] = peak.growth / 2**20
    return results


def print_results(results, epochs, dataset, test_count):
    import numpy as np
    float_accuracy = results["float"]
    print()
    print(f"{dataset}, MobileNet-style depthwise CNN trained {epochs} epochs, "
          f"{test_count:,} test images; float accuracy {float_accuracy:.4f}; int8 accuracy "
          f"means over {FLAGS.draws} calibration draw(s)")
    for count, draws in results["by_samples"].items():
        variants = ["tflite_converter"] + list(draws[0]["methods"])
        accuracy = {v: float(np.mean([d["correct"][v].mean() for d in draws])) for v in variants}
        print(f"\n{count} calibration images")
        print(f"{'':24s} {'accuracy':>9s} {'drop (pts)':>11s} {'calib/predict':>14s}  per draw")
        for variant in variants:
            name = "TFLiteConverter PTQ" if variant == "tflite_converter" else f"tfq {variant}"
            ratio = results.get("throughput", {}).get(variant)
            ratio_text = f"{ratio:13.2f}x" if ratio is not None else " " * 14
            per_draw = " ".join(f"{d['correct'][variant].mean():.4f}" for d in draws)
            print(f"{name:24s} {accuracy[variant]:9.4f} "
                  f"{100 * (float_accuracy - accuracy[variant]):11.2f} {ratio_text}  {per_draw}")
        if any(d["chosen"] for d in draws):
            print("auto kept (per draw): " + ", ".join(str(d["chosen"]) for d in draws))
        singles = [v for v in draws[0]["methods"] if v != "auto"]
        if singles:
            best = max(singles, key=accuracy.get)
            best_overall = max(draws[0]["methods"], key=accuracy.get)
            difference, error = mean_difference(draws, best_overall, "tflite_converter")
            print(f"best single method: {best} (drop "
                  f"{100 * (float_accuracy - accuracy[best]):.2f} pts; target <= 0.5); "
                  f"tfq best ({best_overall}) - TFLiteConverter = {difference:+.2f} "
                  f"+- {error:.2f} pts (target >= 0)")
            if "auto" in draws[0]["methods"]:
                difference, error = mean_difference(draws, "auto", best)
                print(f"auto - best single = {difference:+.2f} +- {error:.2f} pts "
                      "(target >= -0.1 on Fashion-MNIST, -0.2 on digits)")
            if "entropy" in draws[0]["methods"]:
                difference, error = mean_difference(draws, "entropy", best)
                print(f"entropy - best single = {difference:+.2f} +- {error:.2f} pts "
                      "(target >= -0.5)")
    print()
    if "throughput" in results:
        print("calibrate / predict throughput on 1,000 images (target >= 0.5x): " + ", ".join(
            f"{m} {r:.2f}x" for m, r in results["throughput"].items()))
    for count, growth in results.get("rss_growth_mb", {}).items():
        print(f"peak RSS growth calibrating {count:6d} images (entropy): {growth:7.1f} MiB")
    if FLAGS.json:
        for draws in results["by_samples"].values():
            for draw in draws:
                draw.pop("correct")
        with open(FLAGS.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
