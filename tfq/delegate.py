"""Loading the tfq delegate (tfq/libtfq_delegate.so) into TFLite interpreters.

The library is a TFLite external-delegate plugin: the same file works with
`ai_edge_litert.interpreter.Interpreter`, `tf.lite.Interpreter`,
`benchmark_model --external_delegate_path=...` and C++ apps. Options are
validated by the library itself, so every loader gets the same errors.
"""
from __future__ import annotations

import ctypes
import dataclasses
import os
from typing import Iterable, Union

from ai_edge_litert import interpreter as litert_interpreter

_LIBRARY_NAME = "libtfq_delegate.so"
OptionValue = Union[int, str, bool, Iterable[str]]


def library_path() -> str:
    """Absolute path of the delegate library: the one `pip install` of tfq
    built, or the file named by $TFQ_DELEGATE_LIBRARY (e.g. Bazel's build)."""
    override = os.environ.get("TFQ_DELEGATE_LIBRARY")
    path = os.path.abspath(override) if override else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), _LIBRARY_NAME)
    if not os.path.isfile(path):
        how = ("fix $TFQ_DELEGATE_LIBRARY or unset it" if override else
               "build it with `pip install -e .` (or `bash tools/bootstrap.sh`) "
               "from the tfq checkout")
        raise FileNotFoundError(f"the tfq delegate library is missing at {path}; {how}")
    return path


def _option_string(key: str, value: OptionValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"tfq delegate option {key!r}: expected an int, str, bool or a list of "
                    f"op names, got {type(value).__name__}")


class Delegate(litert_interpreter.Delegate):
    """A loaded tfq delegate; pass it in `experimental_delegates=[...]`.

    Options: num_threads (0 = the interpreter's), log_level
    ("silent"|"error"|"warning"|"info"|"verbose"), allow_ops / deny_ops (builtin
    op names), claim_all (test mode: fail when a node cannot be delegated),
    profile (time every delegated op: `op_profile()`, `kernel_profile()`),
    isa (cap the kernels' path: "amx", "avx512_vnni", "avx512", "avx2",
    "scalar"; "neon_i8mm", "neon_dotprod", "neon" on aarch64; default
    $TFQ_ISA, else the CPU's best). The cap is per process: the first
    delegate (or kernel) fixes it, and a later delegate asking for another
    path raises ValueError naming the one in effect. A path the CPU lacks
    raises ValueError naming what it has.
    """

    def __init__(self, **options: OptionValue):
        self._library = None  # the base class's __del__ reads it even if loading fails
        strings = {key: _option_string(key, value) for key, value in options.items()}
        try:
            super().__init__(library_path(), strings)
        except ValueError as error:
            # The library reported one line naming the option; keep it first.
            raise ValueError(str(error).strip() or "the tfq delegate failed to load") from None
        self._library.tfq_delegate_last_claim.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        self._library.tfq_delegate_last_claim.restype = ctypes.c_int
        self._library.tfq_delegate_declined_nodes.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        self._library.tfq_delegate_declined_nodes.restype = ctypes.c_long
        self._library.tfq_delegate_op_profile.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        self._library.tfq_delegate_op_profile.restype = ctypes.c_long

    def last_claim(self) -> tuple[int, int]:
        """(nodes in the execution plan, nodes claimed) at the delegate's last Prepare."""
        total, claimed = ctypes.c_int(0), ctypes.c_int(0)
        if self._library.tfq_delegate_last_claim(self._delegate_ptr, total, claimed) != 0:
            raise RuntimeError("tfq delegate handle is not live")
        return total.value, claimed.value

    def declined_nodes(self) -> list[str]:
        """Why each node left on TFLite at the last Prepare was declined."""
        return self._lines(self._library.tfq_delegate_declined_nodes)

    def op_profile(self) -> dict[str, tuple[int, float]]:
        """{op name: (invocations, seconds)} since the delegate was created;
        empty unless it was loaded with profile=True."""
        profile = {}
        for row in self.kernel_profile():
            if row.op == PARTITION:
                continue
            invocations, seconds = profile.get(row.op, (0, 0.0))
            profile[row.op] = (invocations + row.invocations, seconds + row.seconds)
        return profile

    def kernel_profile(self) -> list["KernelProfile"]:
        """One row per op type and kernel path since the delegate was
        created, plus the partitions' time between ops (op PARTITION, whose
        `macs` counts the nodes run); empty unless loaded with profile=True."""
        rows = []
        for line in self._lines(self._library.tfq_delegate_op_profile):
            op, path, invocations, nanoseconds, macs = line.split()
            rows.append(KernelProfile(op, path, int(invocations), int(nanoseconds) * 1e-9,
                                      int(macs)))
        return rows

    def _lines(self, read) -> list[str]:
        """The lines a tfq_delegate_* text function returns (sized by a first call)."""
        size = read(self._delegate_ptr, None, 0)
        if size < 0:
            raise RuntimeError("tfq delegate handle is not live")
        buffer = ctypes.create_string_buffer(size + 1)
        read(self._delegate_ptr, buffer, size + 1)
        return [line for line in buffer.value.decode().split("\n") if line]


PARTITION = "(partition)"


@dataclasses.dataclass(frozen=True)
class KernelProfile:
    """The delegate's time in one op type on one kernel path."""
    op: str  # builtin op name, or PARTITION
    path: str  # kernel path, e.g. "avx512_vnni"; "portable" = plain C++
    invocations: int
    seconds: float
    macs: int  # multiply-accumulates over all invocations


def isa() -> str:
    """The kernel path in effect in this process, e.g. "avx512_vnni" (the
    CPU's best unless capped by $TFQ_ISA or a delegate's isa option).
    Asking fixes the cap, as loading a delegate does."""
    library = ctypes.CDLL(library_path())
    library.tfq_delegate_isa.restype = ctypes.c_char_p
    return library.tfq_delegate_isa().decode()


def cpu_features() -> str:
    """CPU features the delegate detected, e.g. "avx2 avx512 avx512_vnni amx"
    (uncapped: what the CPU has)."""
    library = ctypes.CDLL(library_path())
    library.tfq_delegate_cpu_features.restype = ctypes.c_char_p
    return library.tfq_delegate_cpu_features().decode()


def load(**options: OptionValue) -> Delegate:
    """Loads the tfq delegate; a bad or unknown option raises ValueError naming it."""
    return Delegate(**options)
