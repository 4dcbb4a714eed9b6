"""tfq-bench: one .tflite timed in the same process under TFLite's builtin
kernels (no default delegates), XNNPACK (the default interpreter path) and
the tfq delegate, runs interleaved so machine noise hits all three; medians
and ratios per thread count; the tfq output checked against BUILTIN_REF
(run in a child process: a model that aborts TFLite's reference kernels is
reported, and the timings still print).

    tfq-bench --model=model.tflite --num_threads=1,2 --runs=20 --json=bench.json
    tfq-bench --model=model.tflite --isa=avx512_vnni --processes=5

--isa caps tfq's kernel path (amx, avx512_vnni, avx512, avx2, scalar); below
amx on a CPU with AMX, XNNPACK is kept off AMX too (--xnnpack_amx), so both
run the same instruction set. The per-op profile names the path each op
ran, its GMAC/s and the share of that path's int8 peak (tools/roofline.py),
and the per-node fixed cost. --processes=N also times each runtime in its
own process, N alternating processes each, so no runtime's spinning worker
threads are charged to another.

Exit status 0 when the tfq output is identical to BUILTIN_REF or the
reference kernels abort on the model (said on stdout), 1 when it differs
(or on bad input, with one line on stderr).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
flags.DEFINE_string("isa", "",
                    "Cap on tfq's kernel path: amx, avx512_vnni, avx512, avx2, scalar "
                    "(aarch64: neon_i8mm, neon_dotprod, neon). Default: $TFQ_ISA, else the "
                    "CPU's best.")
flags.DEFINE_enum("xnnpack_amx", "auto", ["auto", "on", "off"],
                  "Whether XNNPACK may use AMX: auto = only when tfq's path is amx, so both "
                  "run the same instruction set. off needs libseccomp (it denies the process "
                  "AMX's tile state, tfq's kernels included).")
flags.DEFINE_integer("processes", 0,
                     "Also time each runtime in its own process: this many alternating "
                     "processes per runtime and thread count (0: interleaved only).")
flags.DEFINE_float("clock_ghz", 0.0,
                   "Core clock for the roofline's peak (0: /proc/cpuinfo's cpu MHz).")
flags.DEFINE_enum("only", None, ["builtin", "xnnpack", "tfq"],
                  "Internal (--processes): time this runtime alone and write its median "
                  "to --json.")

VARIANTS = ("builtin", "xnnpack", "tfq")


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def make_interpreter(variant, model, threads):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    import tfq  # pylint: disable=import-outside-toplevel  (slow: after flag parsing)
    if variant == "builtin":
        return Interpreter(model_content=model, num_threads=threads,
                           experimental_op_resolver_type=OpResolverType
                           .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    if variant == "xnnpack":
        return Interpreter(model_content=model, num_threads=threads)
    return tfq.Interpreter(model_content=model, num_threads=threads,
                           delegate={"isa": FLAGS.isa, "profile": variant == "tfq_profiled"})


def prepared(variant, model, threads, inputs):
    from tfq_tools.bench_reference import invoke  # pylint: disable=import-outside-toplevel
    interpreter = make_interpreter(variant, model, threads)
    interpreter.allocate_tensors()
    for _ in range(FLAGS.warmup):
        invoke(interpreter, inputs)
    return interpreter


def timed_ms(interpreter, inputs):
    """One invoke's milliseconds, and the outputs. Only `invoke()` is timed,
    as benchmark_model times it: the inputs are set before the clock starts
    and the outputs copied out after it stops (Python API copies, the same
    for every runtime, which would otherwise add a constant to each)."""
    from tfq_tools import bench_reference  # pylint: disable=import-outside-toplevel
    bench_reference.set_inputs(interpreter, inputs)
    time.sleep(FLAGS.settle_ms / 1e3)
    start = time.perf_counter()
    interpreter.invoke()
    elapsed_ms = (time.perf_counter() - start) * 1e3
    return elapsed_ms, bench_reference.read_outputs(interpreter)


def kernel_profile(model, threads, inputs):
    """Rows of {op, path, ms, macs} per invoke inside the tfq delegate, from
    a separate profiled interpreter (timing each op costs a little), after
    warm-up; the partitions' time between ops is op "(partition)"."""
    from tfq_tools.bench_reference import invoke  # pylint: disable=import-outside-toplevel
    interpreter = prepared("tfq_profiled", model, threads, inputs)
    before = {(r.op, r.path): r for r in interpreter.tfq_delegate.kernel_profile()}
    for _ in range(FLAGS.runs):
        invoke(interpreter, inputs)
    rows = []
    for row in interpreter.tfq_delegate.kernel_profile():
        old = before.get((row.op, row.path))
        seconds = row.seconds - (old.seconds if old else 0.0)
        macs = row.macs - (old.macs if old else 0)
        rows.append({"op": row.op, "path": row.path, "ms": 1e3 * seconds / FLAGS.runs,
                     "macs": macs // FLAGS.runs})
    return sorted(rows, key=lambda r: -r["ms"])


def roofline(rows, threads, ghz):
    """Adds GMAC/s and the share of the path's int8 peak to the rows with MACs."""
    from tfq_tools import roofline as peaks  # pylint: disable=import-outside-toplevel
    for row in rows:
        if row["macs"] and row["ms"] > 0:
            row["gmacs"] = row["macs"] / (row["ms"] * 1e6)
            if ghz:
                row["peak_share"] = row["gmacs"] / peaks.peak_gmacs(row["path"], threads, ghz)
    return rows


def isolated_median_ms(variant, threads, xnnpack_amx):
    """Medians of FLAGS.processes processes that each time `variant` alone."""
    medians = []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(FLAGS.processes):
            out = os.path.join(scratch, f"{variant}_{i}.json")
            command = [sys.executable, "-m", "tfq_tools.tfq_bench", f"--model={FLAGS.model}",
                       f"--only={variant}", f"--num_threads={threads}", f"--runs={FLAGS.runs}",
                       f"--warmup={FLAGS.warmup}", f"--seed={FLAGS.seed}",
                       f"--settle_ms={FLAGS.settle_ms}", f"--isa={FLAGS.isa}",
                       f"--xnnpack_amx={xnnpack_amx}", f"--json={out}"]
            child = subprocess.run(command, capture_output=True, text=True, timeout=1800)
            if child.returncode != 0:
                raise RuntimeError(f"the {variant} process failed: "
                                   f"{(child.stderr.strip().splitlines() or ['?'])[-1]}")
            with open(out, encoding="utf-8") as f:
                medians.append(json.load(f)["median_ms"])
    return medians


def cpu_has_amx() -> bool:
    """Whether the CPU has AMX (detected, whatever the ISA cap)."""
    import tfq  # pylint: disable=import-outside-toplevel
    return "amx" in tfq.delegate.cpu_features().split()


def keep_xnnpack_off_amx_if_asked(tfq_path):
    """Resolves --xnnpack_amx to on/off and applies off before any XNNPACK
    interpreter exists; returns the resolved value."""
    has_amx = cpu_has_amx()
    setting = FLAGS.xnnpack_amx
    if setting == "auto":
        setting = "on" if tfq_path == "amx" or not has_amx else "off"
    if setting == "off" and has_amx:
        from tfq_tools import no_amx  # pylint: disable=import-outside-toplevel
        no_amx.deny_amx_tile_state()
    return setting


def select_tfq_path():
    """Fixes this process's tfq kernel path from --isa (a bad or missing path
    raises ValueError naming what the CPU has) and returns it."""
    import tfq  # pylint: disable=import-outside-toplevel
    tfq.delegate.load(isa=FLAGS.isa)
    return tfq.delegate.isa()


def time_alone():
    """--only: one runtime in this process; its median to --json."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    from tfq_tools.bench_reference import random_inputs  # pylint: disable=import-outside-toplevel
    keep_xnnpack_off_amx_if_asked(select_tfq_path())
    with open(FLAGS.model, "rb") as f:
        model = f.read()
    threads = int(FLAGS.num_threads[0])
    interpreter = make_interpreter(FLAGS.only, model, threads)
    interpreter.allocate_tensors()
    inputs = random_inputs(interpreter.get_input_details(), FLAGS.seed)
    interpreter = prepared(FLAGS.only, model, threads, inputs)
    times = [timed_ms(interpreter, inputs)[0] for _ in range(FLAGS.runs)]
    from tfq import files  # pylint: disable=import-outside-toplevel
    files.write_atomically(FLAGS.json, json.dumps({"median_ms": float(np.median(times))}))
    return True


def bench():
    import numpy as np  # pylint: disable=import-outside-toplevel
    from tfq_tools import bench_reference  # pylint: disable=import-outside-toplevel
    from tfq_tools import roofline as peaks  # pylint: disable=import-outside-toplevel
    if not FLAGS.model or not os.path.isfile(FLAGS.model):
        raise ValueError(f"--model: no .tflite file at {FLAGS.model!r}")
    threads_list = [int(t) for t in FLAGS.num_threads]
    if any(t < 1 for t in threads_list) or FLAGS.runs < 1:
        raise ValueError("--num_threads values and --runs must be >= 1")
    if FLAGS.settle_ms < 0:
        raise ValueError(f"--settle_ms must be >= 0, got {FLAGS.settle_ms}")
    if FLAGS.processes < 0:
        raise ValueError(f"--processes must be >= 0, got {FLAGS.processes}")
    if FLAGS.only:
        if not FLAGS.json:
            raise ValueError("--only needs --json")
        return time_alone()
    tfq_path = select_tfq_path()
    xnnpack_amx = keep_xnnpack_off_amx_if_asked(tfq_path)
    ghz = FLAGS.clock_ghz or peaks.clock_ghz()
    with open(FLAGS.model, "rb") as f:
        model = f.read()
    expected, reference_problem = bench_reference.reference_outputs(FLAGS.model, FLAGS.seed)
    probe = make_interpreter("builtin", model, 1)
    probe.allocate_tensors()
    inputs = bench_reference.random_inputs(probe.get_input_details(), FLAGS.seed)
    results = {"model": FLAGS.model, "runs": FLAGS.runs, "cpu": cpu_name(),
               "clock_ghz": ghz, "tfq_path": tfq_path, "xnnpack_amx": xnnpack_amx,
               "cpu_has_amx": cpu_has_amx(),
               "by_threads": {}}
    identical = expected is not None
    for threads in threads_list:
        interpreters = {variant: prepared(variant, model, threads, inputs)
                        for variant in VARIANTS}
        times = {variant: [] for variant in VARIANTS}
        # Interleaved, the order rotating each run: each variant follows each
        # other equally often (a runtime's worker threads spin for a while
        # after its invoke, slowing whichever runs next on a 2-core machine).
        for run in range(FLAGS.runs):
            for variant in VARIANTS[run % len(VARIANTS):] + VARIANTS[:run % len(VARIANTS)]:
                elapsed, outputs = timed_ms(interpreters[variant], inputs)
                times[variant].append(elapsed)
                if variant == "tfq" and expected is not None:
                    mismatches = sum(int(np.count_nonzero(a != e))
                                     for a, e in zip(outputs, expected))
                    identical = identical and mismatches == 0
        medians = {variant: statistics.median(values) for variant, values in times.items()}
        claimed = interpreters["tfq"].tfq_delegate.last_claim()
        del interpreters  # their worker threads must not share the cores with what follows
        profile = roofline(kernel_profile(model, threads, inputs), threads, ghz)
        row = {"median_ms": medians, "tfq_nodes_claimed": claimed,
               "xnnpack_over_tfq": medians["xnnpack"] / medians["tfq"],
               "builtin_over_tfq": medians["builtin"] / medians["tfq"],
               "tfq_kernel_profile": profile,
               "tfq_op_profile_ms": op_totals_ms(profile)}
        if FLAGS.processes:
            alone = {variant: statistics.median(isolated_median_ms(variant, threads,
                                                                   xnnpack_amx))
                     for variant in VARIANTS}
            row["own_process_median_ms"] = alone
            row["own_process_xnnpack_over_tfq"] = alone["xnnpack"] / alone["tfq"]
            row["own_process_builtin_over_tfq"] = alone["builtin"] / alone["tfq"]
        results["by_threads"][threads] = row
    results["tfq_identical_to_builtin_ref"] = identical if expected is not None else None
    results["reference_problem"] = reference_problem
    print_report(results, ghz)
    if FLAGS.json:
        from tfq import files  # pylint: disable=import-outside-toplevel
        files.write_atomically(FLAGS.json, json.dumps(results, indent=2))
    return identical or expected is None


def op_totals_ms(profile):
    """{op: ms per invoke} over paths, the partitions' own time left out."""
    totals = {}
    for row in profile:
        if row["op"] != "(partition)":
            totals[row["op"]] = totals.get(row["op"], 0.0) + row["ms"]
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def print_report(results, ghz):
    from tfq_tools import roofline as peaks  # pylint: disable=import-outside-toplevel
    clock = f"{ghz:.2f} GHz" if ghz else "clock unknown"
    print(f"{os.path.basename(FLAGS.model)} on {results['cpu']} ({clock}); tfq kernel path "
          f"{results['tfq_path']}; XNNPACK AMX "
          f"{results['xnnpack_amx'] if results['cpu_has_amx'] else 'n/a (no AMX on this CPU)'}")
    print(f"median of {FLAGS.runs} interleaved invoke() calls, inputs set and outputs read outside the clock (ms)")
    print(f"{'threads':>7s} {'builtin':>9s} {'xnnpack':>9s} {'tfq':>9s} "
          f"{'xnnpack/tfq':>12s} {'builtin/tfq':>12s}  tfq nodes")
    for threads, row in results["by_threads"].items():
        m = row["median_ms"]
        claimed, total = row["tfq_nodes_claimed"][1], row["tfq_nodes_claimed"][0]
        print(f"{threads:7d} {m['builtin']:9.2f} {m['xnnpack']:9.2f} {m['tfq']:9.2f} "
              f"{row['xnnpack_over_tfq']:12.2f} {row['builtin_over_tfq']:12.2f}  "
              f"{claimed}/{total}")
    if FLAGS.processes:
        print(f"each runtime in its own process: median of {FLAGS.processes} processes' "
              f"medians (ms); tfq own-process / interleaved")
        for threads, row in results["by_threads"].items():
            m = row["own_process_median_ms"]
            print(f"{threads:7d} {m['builtin']:9.2f} {m['xnnpack']:9.2f} {m['tfq']:9.2f} "
                  f"{row['own_process_xnnpack_over_tfq']:12.2f} "
                  f"{row['own_process_builtin_over_tfq']:12.2f}  "
                  f"{m['tfq'] / row['median_ms']['tfq']:.2f}")
    for threads, row in results["by_threads"].items():
        profile = row["tfq_kernel_profile"]
        ops = [r for r in profile if r["op"] != "(partition)"]
        total = sum(r["ms"] for r in ops) or 1.0
        print(f"tfq per-op profile, {threads} thread(s), ms per invoke: " + ", ".join(
            f"{r['op']} {r['ms']:.2f} ({100 * r['ms'] / total:.0f}%)" for r in ops))
        print(f"  {'op':20s} {'path':12s} {'ms':>7s} {'GMAC/s':>8s} {'of peak':>8s}  "
              f"(peak: MACs/cycle/core x {threads} core(s) x clock)")
        for r in ops:
            gmacs = f"{r['gmacs']:8.1f}" if "gmacs" in r else f"{'':8s}"
            share = (f"{100 * r['peak_share']:7.1f}%" if "peak_share" in r else f"{'':8s}")
            peak = (f"  {peaks.peak_macs_per_cycle(r['path'])}/cycle" if "gmacs" in r
                    else "")
            print(f"  {r['op']:20s} {r['path']:12s} {r['ms']:7.3f} {gmacs} {share}{peak}")
        for r in profile:
            if r["op"] == "(partition)" and r["macs"]:
                print(f"  per-node fixed cost: {1e3 * r['ms'] / r['macs']:.2f} us between "
                      f"ops per node ({r['macs']} nodes), {r['ms']:.3f} ms per invoke")
    if results["reference_problem"]:
        print(results["reference_problem"])
    else:
        print("tfq output " + ("identical to BUILTIN_REF" if results[
            "tfq_identical_to_builtin_ref"] else "DIFFERS from BUILTIN_REF"))


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
