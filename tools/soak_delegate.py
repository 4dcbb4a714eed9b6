"""Soak: several interpreters, each with its own tfq delegate, invoked from as
many threads at once, against a single-threaded run of the same inputs.

    python -m tfq_tools.soak_delegate --threads=4 --invokes=10000 --output_json=soak.json

Every output must be byte-identical to the single-threaded reference (the
delegate's kernels share nothing mutable between interpreters), and the
process's resident memory must stay flat after warm-up: RSS is read after
the first --warmup invokes of every thread and again at the end. Exit
status 1 on any mismatch or if RSS grows by more than --max_rss_growth_mb.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The program's flags: defined when it runs, not on import (tests import
    several of these modules into one process, and absl flags are global)."""
    flags.DEFINE_integer("threads", 4, "Interpreters, each invoked from its own thread.")
    flags.DEFINE_integer("invokes", 10000, "Invokes per thread.")
    flags.DEFINE_integer("warmup", 500, "Invokes per thread before the first RSS reading.")
    flags.DEFINE_integer("delegate_threads", 1, "num_threads of each delegate.")
    flags.DEFINE_float("max_rss_growth_mb", 16.0, "RSS growth after warm-up that fails the soak.")
    flags.DEFINE_string("output_json", None, "Write the figures here.")


INPUT_VARIANTS = 16  # distinct inputs, cycled: each thread starts at its own offset


def soak_model() -> bytes:
    """A small MobileNet-style int8 model (conv, depthwise, add, pool, dense, softmax)."""
    import keras  # pylint: disable=import-outside-toplevel  (slow: only when soaking)
    import tfq  # pylint: disable=import-outside-toplevel
    layers = keras.layers
    keras.utils.set_random_seed(8)
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(inputs)
    for _ in range(2):
        y = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
        y = layers.Conv2D(16, 1)(y)
        x = layers.Add()([x, y])
    x = layers.GlobalAveragePooling2D()(layers.MaxPooling2D()(x))
    model = keras.Model(inputs, layers.Softmax()(layers.Dense(10)(x)))
    data = np.random.default_rng(8).normal(size=(32, 32, 32, 3)).astype(np.float32)
    return tfq.convert(model, representative_data=data, progress=False)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def _inputs(interpreter) -> List[np.ndarray]:
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(8)
    return [rng.integers(-128, 128, size=detail["shape"], dtype=np.int8)
            for _ in range(INPUT_VARIANTS)]


def _interpreter(model_bytes: bytes, delegate_threads: int):
    import tfq  # pylint: disable=import-outside-toplevel
    interpreter = tfq.Interpreter(model_content=model_bytes,
                                  delegate={"num_threads": delegate_threads})
    interpreter.allocate_tensors()
    total, claimed = interpreter.tfq_delegate.last_claim()
    if claimed != total:
        raise RuntimeError(f"the delegate took {claimed} of {total} nodes of the soak model")
    return interpreter


def _invoke(interpreter, values: np.ndarray) -> bytes:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], values)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).tobytes()


def soak(model_bytes: bytes, *, threads: int, invokes: int, warmup: int,
         delegate_threads: int = 1) -> Dict[str, float]:
    reference_interpreter = _interpreter(model_bytes, delegate_threads)
    inputs = _inputs(reference_interpreter)
    reference = [_invoke(reference_interpreter, values) for values in inputs]
    del reference_interpreter
    interpreters = [_interpreter(model_bytes, delegate_threads) for _ in range(threads)]
    mismatches = [0] * threads
    warmed = threading.Barrier(threads + 1)
    finish = threading.Barrier(threads + 1)

    def run(worker: int):
        interpreter = interpreters[worker]
        for step in range(invokes):
            if step == warmup:
                warmed.wait()
            variant = (worker + step) % INPUT_VARIANTS
            if _invoke(interpreter, inputs[variant]) != reference[variant]:
                mismatches[worker] += 1
        if invokes <= warmup:
            warmed.wait()
        finish.wait()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    warmed.wait()
    rss_after_warmup = rss_mb()
    finish.wait()
    rss_end = rss_mb()
    for worker in workers:
        worker.join()
    return {"threads": threads, "invokes_per_thread": invokes, "delegate_threads": delegate_threads,
            "mismatches": sum(mismatches), "seconds": time.perf_counter() - start,
            "rss_after_warmup_mb": rss_after_warmup, "rss_end_mb": rss_end,
            "rss_growth_mb": rss_end - rss_after_warmup}


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    figures = soak(soak_model(), threads=FLAGS.threads, invokes=FLAGS.invokes,
                   warmup=FLAGS.warmup, delegate_threads=FLAGS.delegate_threads)
    print(json.dumps(figures, indent=2))
    if FLAGS.output_json:
        from tfq import files  # pylint: disable=import-outside-toplevel
        files.write_atomically(FLAGS.output_json, json.dumps(figures, indent=2))
    failed = figures["mismatches"] or figures["rss_growth_mb"] > FLAGS.max_rss_growth_mb
    return 1 if failed else 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
