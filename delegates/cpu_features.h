// CPU features, detected once per process, and the ISA cap. Kernels are
// chosen per op at prepare time from GetCpuFeatures(): the detected features
// less those above the process's cap (DESIGN.md decision 6), so every path
// (AMX, AVX-512 VNNI, AVX-512, AVX2, scalar; NEON i8mm / dotprod / plain)
// can be run and timed on one machine.
#ifndef TFQ_DELEGATES_CPU_FEATURES_H_
#define TFQ_DELEGATES_CPU_FEATURES_H_

#include <string>

namespace tfq {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;       // F + BW + VL + DQ: what the AVX-512 kernels need
  bool avx512_vnni = false;  // vpdpbusd
  bool amx = false;          // AMX-TILE + AMX-INT8 (and, once in use, Linux's tile state)
  bool neon = false;
  bool neon_dotprod = false;  // sdot
  bool neon_i8mm = false;     // smmla

  // e.g. "avx2 avx512 avx512_vnni amx", or "scalar only".
  std::string ToString() const;
  // The best kernel path these features allow: "amx", "avx512_vnni",
  // "avx512", "avx2", "scalar" (x86); "neon_i8mm", "neon_dotprod", "neon".
  std::string BestPath() const;
};

// The paths an ISA cap may name on this architecture, best first.
const char* IsaNames();

// `detected` capped at path `isa` ("" or "auto": no cap). False with one
// line in `error` when `isa` is unknown, or names a path the CPU lacks
// (the line says what the CPU has).
bool CapCpuFeatures(const CpuFeatures& detected, const std::string& isa, CpuFeatures* capped,
                    std::string* error);

// What the CPU has (AMX: its CPUID bits; the tile state is not requested).
const CpuFeatures& DetectedCpuFeatures();

// The features the kernels use: the detected ones capped by the process's
// ISA cap, which the first of these fixes: SetProcessIsa (the delegate
// option `isa`), or any kernel's first call here ($TFQ_ISA, else no cap).
// With AMX in effect, Linux is asked for the tile state then, and AMX is
// dropped if it refuses. Thread-safe.
const CpuFeatures& GetCpuFeatures();

// Fixes the process's cap at `isa` ("" or "auto": $TFQ_ISA, else no cap).
// Kernels already chosen cannot change, so once fixed the cap stays: a
// later request for another path fails, naming the one in effect. False
// with one line in `error` on any failure.
bool SetProcessIsa(const std::string& isa, std::string* error);

}  // namespace tfq

#endif  // TFQ_DELEGATES_CPU_FEATURES_H_
