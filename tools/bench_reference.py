"""TFLite's reference kernels (BUILTIN_REF) on tfq-bench's input, in a child
process: some valid models abort them (a stock TFLiteConverter MobileNetV2
with its softmax kept: SIGABRT inside the reference SOFTMAX), and that must
not take the benchmark's timings with it.

    python -m tfq_tools.bench_reference MODEL SEED OUT.npz   (the child)
"""
import os
import signal
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def random_inputs(input_details, seed):
    """The benchmark's input: seeded, over each input's whole dtype range."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(seed)
    inputs = []
    for detail in input_details:
        dtype = np.dtype(detail["dtype"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            inputs.append(rng.integers(info.min, info.max + 1, size=detail["shape"], dtype=dtype))
        else:
            inputs.append(rng.normal(size=detail["shape"]).astype(dtype))
    return inputs


def set_inputs(interpreter, inputs):
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)


def read_outputs(interpreter):
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def invoke(interpreter, inputs):
    set_inputs(interpreter, inputs)
    interpreter.invoke()
    return read_outputs(interpreter)


def _run_child(*args, timeout_s):
    return subprocess.run([sys.executable, "-m", "tfq_tools.bench_reference", *args],
                          capture_output=True, text=True, timeout=timeout_s)


def _aborting_ops(model_path, seed, timeout_s):
    """The op types the abort comes from, found by running the reference
    again with the tfq delegate (exact, so the same values flow) taking
    every node it can but those of one type: the types whose nodes, left
    on the reference kernels, abort it. When it aborts even with the
    delegate taking all it can, the nodes the delegate declines are the
    cause. Empty when neither holds."""
    import tfq  # pylint: disable=import-outside-toplevel
    probe = tfq.Interpreter(model_path=model_path)
    declined = sorted({line.split(":")[1].split()[0]
                       for line in probe.tfq_delegate.declined_nodes()})
    claimed_types = sorted({op.op for op in tfq.inspect(model_path).ops} - set(declined))
    if _run_child("--locate", model_path, str(seed), "", timeout_s=timeout_s).returncode < 0:
        return declined
    return [op for op in claimed_types
            if _run_child("--locate", model_path, str(seed), op,
                          timeout_s=timeout_s).returncode < 0]


def reference_outputs(model_path, seed, timeout_s=600):
    """(outputs, None) from BUILTIN_REF in a child process, or (None, why)
    when it dies: one line saying so, with the op when the child named it."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "expected.npz")
        try:
            child = _run_child(model_path, str(seed), out, timeout_s=timeout_s)
        except subprocess.TimeoutExpired:
            return None, f"TFLite's reference kernels did not finish in {timeout_s} s"
        if child.returncode == 0:
            with np.load(out) as saved:
                return [saved[f"output_{i}"] for i in range(len(saved.files))], None
        if child.returncode < 0:
            try:
                name = signal.Signals(-child.returncode).name
            except ValueError:
                name = f"signal {-child.returncode}"
            ops = _aborting_ops(model_path, seed, timeout_s)
            where = (f" in {', '.join(ops)}" if ops else " (the op could not be singled out)")
            return None, (f"TFLite's reference kernels abort on this model ({name}){where}; "
                          "the tfq output is not checked against them")
        last = [line for line in child.stderr.splitlines() if line.strip()]
        return None, ("TFLite's reference kernels failed on this model: " +
                      (last[-1] if last else f"exit status {child.returncode}"))


def _child(model_path, seed, out):
    import numpy as np  # pylint: disable=import-outside-toplevel
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    interpreter = Interpreter(model_path=model_path,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    outputs = invoke(interpreter, random_inputs(interpreter.get_input_details(), seed))
    np.savez(out, **{f"output_{i}": value for i, value in enumerate(outputs)})


def _locate_child(model_path, seed, kept_op):
    """BUILTIN_REF with the tfq delegate taking every node it can but
    `kept_op`'s ("" = all it can)."""
    from ai_edge_litert.interpreter import OpResolverType
    import tfq  # pylint: disable=import-outside-toplevel
    interpreter = tfq.Interpreter(model_path=model_path,
                                  delegate={"deny_ops": [kept_op] if kept_op else []},
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    invoke(interpreter, random_inputs(interpreter.get_input_details(), seed))


if __name__ == "__main__":
    if sys.argv[1] == "--locate":
        _locate_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        _child(sys.argv[1], int(sys.argv[2]), sys.argv[3])
