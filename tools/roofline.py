"""How far a kernel is from its path's int8 limit: tfq-bench's roofline line.

Peak int8 multiply-accumulates per cycle per core, by kernel path, from the
instruction each path's dot products are built on and how many of them a
core issues per cycle (the published throughputs of current server cores:
Sapphire Rapids, Zen 4 / Zen 5, Neoverse):
  amx          TDPBSSD: a 16x16x64 tile product (16,384 MACs) per 16 cycles
  avx512_vnni  VPDPBUSD zmm: 64 MACs, two per cycle
  avx512       VPMADDWD zmm on int16: 32 MACs, two per cycle
  avx2         VPMADDWD ymm on int16: 16 MACs, two per cycle
  scalar       one IMUL per cycle
  neon_i8mm    SMMLA: 32 MACs, two per cycle
  neon_dotprod SDOT: 16 MACs, two per cycle
  neon         SMLAL-style widening multiplies: 8 MACs, two per cycle
"portable" and "reference" kernels are plain C++ and get the scalar figure.
AMD's Zen 4 (family 25) executes each 512-bit instruction as two 256-bit
halves, so its AVX-512 paths peak at half those figures (64 and 32); Zen 5
(family 26) has the full 512-bit datapath.
Memory-bound kernels (depthwise, batch-1 FULLY_CONNECTED) cannot reach the
compute peak; the share still says how far they are from it.
"""

import functools

PEAK_MACS_PER_CYCLE = {
    "amx": 1024, "avx512_vnni": 128, "avx512": 64, "avx2": 32, "scalar": 1,
    "portable": 1, "reference": 1, "neon_i8mm": 64, "neon_dotprod": 32, "neon": 16,
}


# (vendor, CPU family) -> the paths whose peak differs from the table above.
PEAK_EXCEPTIONS = {("AuthenticAMD", 25): {"avx512_vnni": 64, "avx512": 32}}


def _cpuinfo_field(name):
    """The first core's `name` line of /proc/cpuinfo, or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@functools.lru_cache(maxsize=None)
def cpu_identity():
    """(vendor, family) of this machine's CPU, or (None, None) off x86 Linux."""
    vendor, family = _cpuinfo_field("vendor_id"), _cpuinfo_field("cpu family")
    return vendor, int(family) if family and family.isdigit() else None


def peak_macs_per_cycle(path, cpu=None):
    """Peak int8 MACs per cycle per core of `path` on `cpu` ((vendor, family);
    default: this machine's)."""
    exceptions = PEAK_EXCEPTIONS.get(cpu if cpu is not None else cpu_identity(), {})
    return exceptions.get(path, PEAK_MACS_PER_CYCLE.get(path, 1))


def clock_ghz():
    """The cores' clock from /proc/cpuinfo ("cpu MHz" of the first core;
    on virtual machines the nominal clock), or None where it is absent."""
    mhz = _cpuinfo_field("cpu MHz")
    return float(mhz) / 1e3 if mhz else None


def peak_gmacs(path, threads, ghz):
    """The path's int8 peak in GMAC/s on `threads` cores at `ghz`."""
    return peak_macs_per_cycle(path) * threads * ghz
