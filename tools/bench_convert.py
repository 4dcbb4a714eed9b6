"""Conversion time: tfq.convert against the plain TFLiteConverter PTQ, both
turning the same float MobileNetV2 (weights=None) into a full-integer int8
.tflite from the same calibration samples. Runs alternate between the two so
that machine noise hits both; the ratio is of the medians.

    .venv/bin/python tools/bench_convert.py [--runs=3] [--samples=100] [--json=out.json]

Target (issue 5): tfq.convert time / TFLiteConverter time <= 1.2.
"""
import json
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("runs", 3, "Timed conversions per converter (after one warm-up each).")
flags.DEFINE_integer("samples", 100, "Calibration samples (random images, seeded).")
flags.DEFINE_integer("image_size", 224, "MobileNetV2 input height and width.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


def main(_):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # the converter logs every captured tensor at INFO
    import keras
    import numpy as np
    import tensorflow as tf
    import tfq

    keras.utils.set_random_seed(0)
    shape = (FLAGS.image_size, FLAGS.image_size, 3)
    model = keras.applications.MobileNetV2(weights=None, input_shape=shape)
    samples = np.random.default_rng(0).uniform(-1, 1, (FLAGS.samples,) + shape).astype(np.float32)

    def tflite_converter():
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([sample[np.newaxis]] for sample in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        return converter.convert()

    def tfq_convert():
        return tfq.convert(model, representative_data=samples, progress=False)

    variants = {"TFLiteConverter": tflite_converter, "tfq.convert": tfq_convert}
    times = {name: [] for name in variants}
    sizes = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, convert in variants.items():  # warm-up: Keras tracing, TF's first graphs
            sizes[name] = len(convert())
        for run in range(FLAGS.runs):
            for name, convert in variants.items():
                start = time.perf_counter()
                convert()
                times[name].append(time.perf_counter() - start)
                print(f"run {run + 1}: {name:16s} {times[name][-1]:6.1f} s")

    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["tfq.convert"] / medians["TFLiteConverter"]
    print()
    print(f"MobileNetV2 {shape}, weights=None, int8 full integer, {FLAGS.samples} calibration "
          f"samples, median of {FLAGS.runs} runs")
    for name in variants:
        print(f"{name:16s} {medians[name]:6.1f} s   {sizes[name] / 2**20:5.2f} MiB")
    print(f"tfq.convert / TFLiteConverter = {ratio:.2f} (target <= 1.2)")
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            json.dump({"seconds": times, "medians": medians, "ratio": ratio, "bytes": sizes}, f,
                      indent=2)


if __name__ == "__main__":
    app.run(main)
