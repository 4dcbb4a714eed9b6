// CPU features, detected once per process. Kernels are chosen per op at
// prepare time from these flags (DESIGN.md decision 6).
#ifndef TFQ_DELEGATES_CPU_FEATURES_H_
#define TFQ_DELEGATES_CPU_FEATURES_H_

#include <string>

namespace tfq {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;       // F + BW + VL: what the int8 kernels need
  bool avx512_vnni = false;  // vpdpbusd
  bool neon = false;
  bool neon_dotprod = false;  // sdot
  bool neon_i8mm = false;     // smmla

  // e.g. "avx2 avx512 avx512_vnni", or "scalar only".
  std::string ToString() const;
};

// Detected on first call; thread-safe.
const CpuFeatures& GetCpuFeatures();

}  // namespace tfq

#endif  // TFQ_DELEGATES_CPU_FEATURES_H_
