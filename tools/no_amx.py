"""Keeping XNNPACK off AMX, so its AVX-512 VNNI path can be timed against
tfq's on a machine with AMX (notes/platform.md).

XNNPACK uses its AMX kernels only when Linux grants the process the tile
state, which it asks for once with arch_prctl(ARCH_REQ_XCOMP_PERM,
XFEATURE_XTILEDATA). A seccomp filter that makes that one call fail with
EPERM leaves every other system call alone. Once installed it holds for
the process and every thread in it, tfq's kernels included.
"""
import ctypes
import errno

_ARCH_REQ_XCOMP_PERM = 0x1023
_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO = 0x00050000
_SCMP_CMP_EQ = 4
_SCMP_FLTATR_CTL_TSYNC = 4  # apply to every thread of the process


class _ArgCompare(ctypes.Structure):  # libseccomp's struct scmp_arg_cmp
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def deny_amx_tile_state():
    """Installs the filter (libseccomp, Debian's libseccomp2). Raises
    OSError naming the step that failed."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError as error:
        raise OSError(f"keeping XNNPACK off AMX needs libseccomp.so.2 (Debian package "
                      f"libseccomp2): {error}") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCompare)]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    context = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not context:
        raise OSError("seccomp_init failed")
    try:
        compare = (_ArgCompare * 1)(_ArgCompare(0, _SCMP_CMP_EQ, _ARCH_REQ_XCOMP_PERM, 0))
        steps = [
            ("seccomp_rule_add", lambda: lib.seccomp_rule_add_array(
                context, _SCMP_ACT_ERRNO | errno.EPERM,
                lib.seccomp_syscall_resolve_name(b"arch_prctl"), 1, compare)),
            ("seccomp_attr_set(TSYNC)",
             lambda: lib.seccomp_attr_set(context, _SCMP_FLTATR_CTL_TSYNC, 1)),
            ("seccomp_load", lambda: lib.seccomp_load(context)),
        ]
        for name, step in steps:
            status = step()
            if status != 0:
                raise OSError(f"{name} failed: {errno.errorcode.get(-status, status)}")
    finally:
        lib.seccomp_release(context)
