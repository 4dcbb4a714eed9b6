"""The fuzzer's child process: loads and invokes one mutant per request.

    python -m tfq_tools.fuzz_worker <delegate library | none> [memory limit GiB]

Reads lines `<model path> <seed>` on stdin and answers one line each on
stdout: `ok`, `error <exception>: <message>` (the model was refused with a
Python exception: the wanted outcome for a broken model) or `skipped
<reason>`, then ` | claimed <n> declined <m>`: the nodes the tfq delegate
took and turned down (with reasons) at its last Prepare. A crash or a hang shows as the process dying or going silent; the
parent (fuzz_delegate.py) notices, records it and starts a fresh worker.
Imports LiteRT only (no TensorFlow): a worker starts in a fraction of a second.
"""
import ctypes
import resource
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType, load_delegate

MAX_INPUT_ELEMENTS = 1 << 24  # larger mutated inputs are not filled (or run)


def _random_input(detail, rng):
    shape = detail["shape"]
    if np.prod(shape, dtype=np.int64) > MAX_INPUT_ELEMENTS:
        return None
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape,
                        endpoint=True).astype(dtype)


def run_one(path, seed, delegate):
    # No XNNPACK: it reads a mutant's tensor indices unchecked (a node input of
    # -1 crashes it or not depending on the heap), which would blur whose crash it is.
    interpreter = Interpreter(
        model_path=path, experimental_delegates=[delegate] if delegate else None,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    rng = np.random.default_rng(seed)
    for detail in interpreter.get_input_details():
        values = _random_input(detail, rng)
        if values is None:
            return "skipped input too large"
        interpreter.set_tensor(detail["index"], values)
    interpreter.invoke()
    for detail in interpreter.get_output_details():
        interpreter.get_tensor(detail["index"])
    return "ok"


def declare_claim_functions(delegate) -> bool:
    """Gives ctypes the signatures of the tfq delegate's claim reports (once);
    False for a library that has none (a stand-in, or no delegate)."""
    if delegate is None or not hasattr(delegate._library, "tfq_delegate_last_claim"):
        return False
    library = delegate._library  # pylint: disable=protected-access
    library.tfq_delegate_last_claim.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                                ctypes.POINTER(ctypes.c_int)]
    library.tfq_delegate_declined_nodes.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                    ctypes.c_size_t]
    library.tfq_delegate_declined_nodes.restype = ctypes.c_long
    return True


def claims(delegate) -> str:
    """' | claimed <n> declined <m>' from the tfq delegate's last Prepare."""
    library, handle = delegate._library, delegate._delegate_ptr  # pylint: disable=protected-access
    total, claimed = ctypes.c_int(0), ctypes.c_int(0)
    library.tfq_delegate_last_claim(handle, ctypes.byref(total), ctypes.byref(claimed))
    size = library.tfq_delegate_declined_nodes(handle, None, 0)
    text = ctypes.create_string_buffer(max(size, 0) + 1)
    library.tfq_delegate_declined_nodes(handle, text, max(size, 0) + 1)
    declined = len([line for line in text.value.split(b"\n") if line])
    return f" | claimed {claimed.value} declined {declined}"


def main():
    library = sys.argv[1]
    if len(sys.argv) > 2 and float(sys.argv[2]) > 0:  # fail allocations, not the machine
        limit = int(float(sys.argv[2]) * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    delegate = None if library == "none" else load_delegate(library)
    reports_claims = declare_claim_functions(delegate)
    print("ready", flush=True)
    for line in sys.stdin:
        path, seed = line.rsplit(" ", 1)
        try:
            answer = run_one(path, int(seed), delegate)
        except Exception as error:  # pylint: disable=broad-except  (refusal is the goal)
            message = " ".join(str(error).split())[:160]
            answer = f"error {type(error).__name__}: {message}"
        print(answer + (claims(delegate) if reports_claims else ""), flush=True)


if __name__ == "__main__":
    main()
