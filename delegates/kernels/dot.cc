#include "delegates/kernels/dot.h"

// One clone per ISA, picked by the loader (ifunc) from the CPU's features.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TFQ_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TFQ_CLONES
#endif

namespace tfq {
namespace kernels {

TFQ_CLONES int32_t DotInt8(const int8_t* a, const int8_t* b, int n) {
  int32_t acc = 0;
  for (int i = 0; i < n; ++i) {
    acc += static_cast<int16_t>(a[i]) * static_cast<int16_t>(b[i]);
  }
  return acc;
}

TFQ_CLONES int32_t SumInt8(const int8_t* a, int n) {
  int32_t acc = 0;
  for (int i = 0; i < n; ++i) acc += a[i];
  return acc;
}

TFQ_CLONES void MultiplyAccumulateInt8(const int8_t* input, int32_t zero_point,
                                       const int8_t* filter, int n, int32_t* acc) {
  for (int c = 0; c < n; ++c) {
    acc[c] += (static_cast<int32_t>(input[c]) - zero_point) * filter[c];
  }
}

}  // namespace kernels
}  // namespace tfq
