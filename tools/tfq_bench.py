"""tfq-bench: one .tflite timed in the same process under TFLite's builtin
kernels (no default delegates), XNNPACK (the default interpreter path) and
the tfq delegate, runs interleaved so machine noise hits all three; medians
and ratios per thread count; the tfq output checked against BUILTIN_REF.

    tfq-bench --model=model.tflite --num_threads=1,2 --runs=20 --json=bench.json

Exit status 0 when the tfq output is identical to BUILTIN_REF, 1 otherwise
(or on bad input, with one line on stderr).
"""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "The .tflite file to time.")
flags.DEFINE_list("num_threads", ["1", "2"], "Thread counts to time, comma-separated.")
flags.DEFINE_integer("runs", 20, "Timed invokes per variant and thread count.")
flags.DEFINE_integer("warmup", 3, "Untimed invokes first.")
flags.DEFINE_integer("seed", 0, "Seed of the random input.")
flags.DEFINE_string("json", None, "Also write the results to this JSON file.")
flags.DEFINE_float("settle_ms", 2.0,
                   "Pause before each timed invoke, so the worker threads of the runtime "
                   "that ran before (which spin for a few ms after an invoke) go idle "
                   "instead of taking a core from the one being timed.")

VARIANTS = ("builtin", "xnnpack", "tfq")


def random_inputs(interpreter, seed):
    import numpy as np  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(seed)
    inputs = []
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            inputs.append(rng.integers(info.min, info.max + 1, size=detail["shape"], dtype=dtype))
        else:
            inputs.append(rng.normal(size=detail["shape"]).astype(dtype))
    return inputs


def make_interpreter(variant, model, threads):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    import tfq  # pylint: disable=import-outside-toplevel  (slow: after flag parsing)
    if variant == "builtin":
        return Interpreter(model_content=model, num_threads=threads,
                           experimental_op_resolver_type=OpResolverType
                           .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    if variant == "xnnpack":
        return Interpreter(model_content=model, num_threads=threads)
    if variant == "reference":
        return Interpreter(model_content=model,
                           experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    return tfq.Interpreter(model_content=model, num_threads=threads)


def op_profile_ms(model, threads, inputs):
    """{op type: ms per invoke} inside the tfq delegate, from a separate
    profiled interpreter (timing each op costs a little), after warm-up."""
    import tfq  # pylint: disable=import-outside-toplevel
    interpreter = tfq.Interpreter(model_content=model, num_threads=threads,
                                  delegate={"profile": True})
    interpreter.allocate_tensors()
    for _ in range(FLAGS.warmup):
        invoke(interpreter, inputs)
    before = interpreter.tfq_delegate.op_profile()
    for _ in range(FLAGS.runs):
        invoke(interpreter, inputs)
    after = interpreter.tfq_delegate.op_profile()
    per_invoke = {op: 1e3 * (seconds - before.get(op, (0, 0.0))[1]) / FLAGS.runs
                  for op, (_, seconds) in after.items()}
    return dict(sorted(per_invoke.items(), key=lambda item: -item[1]))


def invoke(interpreter, inputs):
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def bench():
    import numpy as np  # pylint: disable=import-outside-toplevel
    if not FLAGS.model or not os.path.isfile(FLAGS.model):
        raise ValueError(f"--model: no .tflite file at {FLAGS.model!r}")
    threads_list = [int(t) for t in FLAGS.num_threads]
    if any(t < 1 for t in threads_list) or FLAGS.runs < 1:
        raise ValueError("--num_threads values and --runs must be >= 1")
    if FLAGS.settle_ms < 0:
        raise ValueError(f"--settle_ms must be >= 0, got {FLAGS.settle_ms}")
    with open(FLAGS.model, "rb") as f:
        model = f.read()
    reference = make_interpreter("reference", model, 1)
    reference.allocate_tensors()
    inputs = random_inputs(reference, FLAGS.seed)
    expected = invoke(reference, inputs)
    results = {"model": FLAGS.model, "runs": FLAGS.runs, "by_threads": {}}
    identical = True
    for threads in threads_list:
        interpreters = {}
        for variant in VARIANTS:
            interpreters[variant] = make_interpreter(variant, model, threads)
            interpreters[variant].allocate_tensors()
            for _ in range(FLAGS.warmup):
                invoke(interpreters[variant], inputs)
        times = {variant: [] for variant in VARIANTS}
        # Interleaved, the order rotating each run: each variant follows each
        # other equally often (a runtime's worker threads spin for a while
        # after its invoke, slowing whichever runs next on a 2-core machine).
        for run in range(FLAGS.runs):
            for variant in VARIANTS[run % len(VARIANTS):] + VARIANTS[:run % len(VARIANTS)]:
                time.sleep(FLAGS.settle_ms / 1e3)
                start = time.perf_counter()
                outputs = invoke(interpreters[variant], inputs)
                times[variant].append((time.perf_counter() - start) * 1e3)
                if variant == "tfq":
                    mismatches = sum(int(np.count_nonzero(a != e))
                                     for a, e in zip(outputs, expected))
                    identical = identical and mismatches == 0
        medians = {variant: statistics.median(values) for variant, values in times.items()}
        claimed = interpreters["tfq"].tfq_delegate.last_claim()
        results["by_threads"][threads] = {
            "median_ms": medians, "tfq_nodes_claimed": claimed,
            "xnnpack_over_tfq": medians["xnnpack"] / medians["tfq"],
            "builtin_over_tfq": medians["builtin"] / medians["tfq"],
            "tfq_op_profile_ms": op_profile_ms(model, threads, inputs)}
    results["tfq_identical_to_builtin_ref"] = identical
    print(f"{os.path.basename(FLAGS.model)}: median of {FLAGS.runs} interleaved invokes (ms)")
    print(f"{'threads':>7s} {'builtin':>9s} {'xnnpack':>9s} {'tfq':>9s} "
          f"{'xnnpack/tfq':>12s} {'builtin/tfq':>12s}  tfq nodes")
    for threads, row in results["by_threads"].items():
        m = row["median_ms"]
        claimed, total = row["tfq_nodes_claimed"][1], row["tfq_nodes_claimed"][0]
        print(f"{threads:7d} {m['builtin']:9.2f} {m['xnnpack']:9.2f} {m['tfq']:9.2f} "
              f"{row['xnnpack_over_tfq']:12.2f} {row['builtin_over_tfq']:12.2f}  "
              f"{claimed}/{total}")
    for threads, row in results["by_threads"].items():
        profile = row["tfq_op_profile_ms"]
        total = sum(profile.values()) or 1.0
        print(f"tfq per-op profile, {threads} thread(s), ms per invoke: " + ", ".join(
            f"{op} {ms:.2f} ({100 * ms / total:.0f}%)" for op, ms in profile.items()))
    print("tfq output " + ("identical to BUILTIN_REF" if identical else
                           "DIFFERS from BUILTIN_REF"))
    if FLAGS.json:
        from tfq import files  # pylint: disable=import-outside-toplevel
        files.write_atomically(FLAGS.json, json.dumps(results, indent=2))
    return identical


def main(argv):
    if len(argv) > 1:
        print(f"tfq-bench: error: unexpected arguments {argv[1:]}; every option is a --flag",
              file=sys.stderr)
        return 1
    try:
        return 0 if bench() else 1
    except Exception as error:  # one line, never a traceback: say what is wrong
        print(f"tfq-bench: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1


def run():
    """Console-script entry point."""
    app.run(main)


if __name__ == "__main__":
    run()
