"""QAT training overhead: epoch time of the quantization-aware model divided
by the float model's, for tfq (Keras 3 and tf_keras) and for
tensorflow-model-optimization (tf_keras), measured in the same run on the same
MobileNet-style CNN and data. Medians of several epochs after a warm-up, the
float and QAT models' epochs interleaved.

    .venv/bin/python tools/bench_qat_overhead.py --epochs=5 [--json=out.json]

tensorflow-model-optimization needs TF_USE_LEGACY_KERAS=1, so the tf_keras
measurements run in a child process of this script.
"""
import json
import os
import subprocess
import sys
import time

from absl import app, flags

from models import mobilenet_style

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 5, "Timed epochs per variant (after one warm-up epoch).")
flags.DEFINE_integer("samples", 2048, "Training images per epoch (32x32x3, random).")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
flags.DEFINE_string("_child", None, "Internal: run the tf_keras measurements and print JSON.")


def training_data(samples):
    import numpy as np
    rng = np.random.default_rng(0)
    return (rng.normal(size=(samples, 32, 32, 3)).astype(np.float32),
            rng.integers(0, 10, size=samples))


def epoch_timer(K):
    """A Keras callback (of flavour K) recording each epoch's seconds in
    `.times`, timed from epoch begin to end inside fit: what a user's
    training run costs per epoch, without fit's own set-up and tear-down
    (which tf_keras makes ~0.4 s for the QAT model on some calls, and which
    a long run pays once)."""
    class EpochTimer(K.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
    return EpochTimer()


def interleaved_epoch_times(models, K, epochs, samples, batch_size):
    """Seconds per epoch of each model, the models' epochs taken in turn (so
    a slow spell of the shared machine hits all of them alike), after one
    warm-up (tracing) epoch each."""
    x, y = training_data(samples)
    timers = []
    for model in models:
        model.compile(optimizer="adam",
                      loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        timers.append(epoch_timer(K))
    for _ in range(epochs):
        for model, timer in zip(models, timers):
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
    return [timer.times for timer in timers]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure(name, make_model, K, results):
    import tfq
    if name == "tensorflow-model-optimization":
        import tensorflow_model_optimization as tfmot
        qat = tfmot.quantization.keras.quantize_model(make_model())
    else:
        qat = tfq.quantize_model(make_model())
    float_times, qat_times = interleaved_epoch_times(
        [make_model(), qat], K, FLAGS.epochs, FLAGS.samples, FLAGS.batch_size)
    results[name] = {"float_epoch_s": median(float_times), "qat_epoch_s": median(qat_times),
                     "ratio": median(qat_times) / median(float_times)}


def run_child():
    import tf_keras as K
    results = {}
    measure("tfq (tf_keras)", lambda: mobilenet_style(K), K, results)
    measure("tensorflow-model-optimization", lambda: mobilenet_style(K), K, results)
    print(json.dumps(results))


def main(argv):
    del argv
    if FLAGS._child:
        run_child()
        return 0
    import keras
    results = {}
    measure("tfq (Keras 3)", lambda: mobilenet_style(keras), keras, results)
    child = subprocess.run(
        [sys.executable, __file__, "--_child=1", f"--epochs={FLAGS.epochs}",
         f"--samples={FLAGS.samples}", f"--batch_size={FLAGS.batch_size}"],
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"}, capture_output=True, text=True,
        check=False)
    if child.returncode != 0:
        print(child.stderr[-3000:], file=sys.stderr)
        return 1
    results.update(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"{'variant':32s} {'float s/epoch':>14s} {'QAT s/epoch':>12s} {'QAT/float':>10s}")
    for name, row in results.items():
        print(f"{name:32s} {row['float_epoch_s']:14.3f} {row['qat_epoch_s']:12.3f} "
              f"{row['ratio']:10.2f}")
    if FLAGS.json:
        with open(FLAGS.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    app.run(main)
