"""Fuzzes the tfq delegate with mutated int8 models, each run in a child process.

    python -m tfq_tools.fuzz_delegate --mutants=2000 --seed=0 --output_json=fuzz.json

Seed models: small Keras models converted by tfq.convert (int8), between them
every op the delegate takes. Each mutant (fuzz_mutations.py: bytes, shapes,
quantization, op options, tensor indices, buffers, types; mutant i replays
from --seed and i alone) is loaded, allocated and invoked on random inputs
with the delegate in a worker process (fuzz_worker.py). A worker that dies
(a signal, an abort) or goes silent past --timeout is a crash or a hang; that
mutant is then run without the delegate in a fresh worker: if TFLite crashes
or hangs there too, it is TFLite's own and recorded apart; if not, it counts
against tfq and the mutant is kept in --keep_dir. Exit status 1 if any counts
against tfq.

Under AddressSanitizer (tools/sanitize.sh builds the library and runs this
with LD_PRELOAD) an out-of-bounds read in the delegate aborts the worker, so
it is caught even when it would not crash.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from tfq_tools import fuzz_mutations  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The program's flags: defined when it runs, not on import (tests import
    several of these modules into one process, and absl flags are global)."""
    flags.DEFINE_integer("mutants", 2000, "How many mutants to run.")
    flags.DEFINE_integer("seed", 0, "Mutant i is mutation (seed, i) of seed model i mod 3.")
    flags.DEFINE_string("library", None, "The delegate library (default: tfq's).")
    flags.DEFINE_float("timeout", 30.0, "Seconds a mutant may run before it counts as a hang.")
    flags.DEFINE_float("memory_gb", 8.0, "Address-space limit of a worker (0: none; ASan needs 0).")
    flags.DEFINE_string("output_json", None, "Write the summary here.")
    flags.DEFINE_string("keep_dir", "fuzz_crashes", "Where mutants that crash tfq are kept.")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")


def seed_models() -> Dict[str, bytes]:
    """Three int8 models covering the delegate's ops, converted by tfq."""
    import keras  # pylint: disable=import-outside-toplevel  (slow: only when fuzzing)
    import tfq  # pylint: disable=import-outside-toplevel
    layers = keras.layers
    keras.utils.set_random_seed(5)
    inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = layers.Add()([x, y])
    x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    cnn = keras.Model(inputs, layers.Softmax()(layers.Dense(5)(x)))

    inputs = keras.Input((8, 8, 4))
    a = layers.Conv2D(4, 3)(layers.ZeroPadding2D(1)(inputs))
    a = layers.AveragePooling2D(2)(a)
    b = layers.Activation("sigmoid")(layers.Conv2D(4, 2, strides=2)(inputs))
    c = layers.Multiply()([b, layers.Activation("tanh")(b)])
    x = layers.UpSampling2D(interpolation="bilinear")(layers.Concatenate()([c, a]))
    mixed = keras.Model(inputs, layers.Dense(3)(layers.Reshape((-1,))(x)))

    inputs = keras.Input((6, 6, 4))
    x = layers.Conv2DTranspose(3, 3, strides=2, padding="same")(inputs)
    transpose = keras.Model(inputs, layers.LeakyReLU(0.1)(x))

    rng = np.random.default_rng(5)
    return {name: tfq.convert(model, progress=False, representative_data=rng.normal(
        size=(16,) + tuple(model.inputs[0].shape[1:])).astype(np.float32))
        for name, model in (("cnn", cnn), ("mixed", mixed), ("transpose_conv", transpose))}


class Worker:
    """A child process answering one line per request; restarted after it dies."""

    def __init__(self, argv: List[str], timeout: float):
        self.argv, self.timeout, self.process = argv, timeout, None

    def _start(self):
        self.process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        if self._read_line(max(self.timeout, 60.0)) != "ready":
            self.stop()
            raise RuntimeError(f"fuzz worker {self.argv} did not start")

    def _read_line(self, timeout) -> Optional[str]:
        """A line; "" at end of output (the worker died); None after `timeout`."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            return None
        return self.process.stdout.readline().strip() or ""

    def request(self, line: str) -> str:
        """The worker's answer, or `crash <signal or status>` / `hang`."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        answer = self._read_line(self.timeout)
        if answer:
            return answer
        if answer is None:  # silent past the timeout, still alive
            self.stop()
            return "hang"
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # closed its output but does not exit
            self.stop()
            return "hang"
        self.process = None
        return f"crash {signal.Signals(-status).name if status < 0 else f'exit {status}'}"

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def worker_argv(library: str, memory_gb: float) -> List[str]:
    return [sys.executable, "-m", "tfq_tools.fuzz_worker", library, str(memory_gb)]


@dataclasses.dataclass
class FuzzResult:
    mutants: int
    outcomes: Dict[str, int]  # ok / refused / skipped / crash / hang
    # Mutants on which the delegate took nodes / turned nodes down (its checks at work).
    delegate_claimed: int
    delegate_declined: int
    by_mutation: Dict[str, Dict[str, int]]
    delegate_failures: List[dict]  # crashes or hangs with the delegate only: against tfq
    tflite_failures: List[dict]  # with and without the delegate alike

    def to_dict(self):
        return dataclasses.asdict(self)


def _kind(answer: str) -> str:
    return {"ok": "ok", "error": "refused", "skipped": "skipped", "crash": "crash",
            "hang": "hang"}[answer.split(" ", 1)[0]]


def fuzz(seeds: Dict[str, bytes], count: int, *, seed: int, library: str, timeout: float = 30.0,
         memory_gb: float = 8.0, keep_dir: Optional[str] = None, progress: bool = True,
         with_delegate_argv: Optional[List[str]] = None,
         without_delegate_argv: Optional[List[str]] = None) -> FuzzResult:
    names = sorted(seeds)
    with_delegate = Worker(with_delegate_argv or worker_argv(library, memory_gb), timeout)
    without_argv = without_delegate_argv or worker_argv("none", memory_gb)
    outcomes = collections.Counter()
    by_mutation: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    delegate_failures, tflite_failures = [], []
    claimed_any = declined_any = 0
    workdir = tempfile.mkdtemp(prefix="tfq-fuzz-")
    try:
        for index in tqdm(range(count), desc="fuzzing", unit="mutant",
                          disable=None if progress else True):
            rng = np.random.default_rng([seed, index])
            name = names[index % len(names)]
            data, what = fuzz_mutations.mutate(seeds[name], rng)
            path = os.path.join(workdir, f"mutant_{index}.tflite")
            with open(path, "wb") as f:
                f.write(data)
            answer, _, claim = with_delegate.request(f"{path} {index}").partition(" | ")
            words = claim.split()
            if len(words) == 4:  # claimed <n> declined <m>
                claimed_any += int(words[1]) > 0
                declined_any += int(words[3]) > 0
            kind = _kind(answer)
            outcomes[kind] += 1
            by_mutation[what.split(":", 1)[0]][kind] += 1
            if kind in ("crash", "hang"):
                baseline = Worker(without_argv, timeout)
                without = baseline.request(f"{path} {index}")
                baseline.stop()
                record = dict(mutant=index, seed_model=name, mutation=what,
                              with_delegate=answer, without_delegate=without)
                if _kind(without) in ("crash", "hang"):
                    tflite_failures.append(record)
                else:
                    delegate_failures.append(record)
                    if keep_dir:
                        os.makedirs(keep_dir, exist_ok=True)
                        shutil.copy(path, os.path.join(keep_dir, f"mutant_{index}.tflite"))
            os.unlink(path)
    finally:
        with_delegate.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return FuzzResult(count, dict(outcomes), claimed_any, declined_any,
                      {k: dict(v) for k, v in sorted(by_mutation.items())},
                      delegate_failures, tflite_failures)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # the converter's INFO lines are noise here
    from tfq import delegate, files  # pylint: disable=import-outside-toplevel
    library = FLAGS.library or delegate.library_path()
    result = fuzz(seed_models(), FLAGS.mutants, seed=FLAGS.seed, library=library,
                  timeout=FLAGS.timeout, memory_gb=FLAGS.memory_gb, keep_dir=FLAGS.keep_dir,
                  progress=FLAGS.progress)
    summary = result.to_dict()
    print(json.dumps({k: summary[k] for k in ("mutants", "outcomes", "delegate_claimed",
                                              "delegate_declined", "by_mutation")}, indent=2))
    print(f"crashes/hangs against tfq: {len(result.delegate_failures)}; in TFLite itself (with "
          f"and without the delegate): {len(result.tflite_failures)}")
    for record in result.delegate_failures + result.tflite_failures:
        print(f"  {record}")
    if FLAGS.output_json:
        files.write_atomically(FLAGS.output_json, json.dumps(summary, indent=2))
    return 1 if result.delegate_failures else 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
