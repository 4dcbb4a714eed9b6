// int8 and int16 MEAN over any set of axes, on plain arrays (no TFLite types).
//
// TFLite's reference arithmetic (reference_ops::QuantizedMeanOrSum): the raw
// int8 values are summed in int32, the input zero point is removed as
// zp_in * N, and one fixed-point rescale folds both s_in / s_out and 1 / N:
//   (M, s) = QuantizeMultiplier(s_in / s_out)
//   k = min(floor(log2 N), 32, 31 + s);  M' = (M << k) / N;  s' = s - k
//   out = clamp(MBQM(sum - zp_in * N, M', s') + zp_out, -128, 127)
// int16 (int16x8 models) is the same with zero points 0, the int32 sum and
// the clamp to [-32768, 32767].
#ifndef TFQ_DELEGATES_KERNELS_MEAN_H_
#define TFQ_DELEGATES_KERNELS_MEAN_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

// The rescale for N reduced elements per output (N >= 1).
QuantizedMultiplier MeanMultiplier(QuantizedMultiplier scale_ratio, int64_t reduced_elements);

// The kernels' working arrays, kept by the op so an invoke allocates
// nothing once Reserve has sized them.
struct MeanScratch {
  void Reserve(int rank, int64_t outputs);
  std::vector<int32_t> sums;             // one per output
  std::vector<int64_t> output_strides;   // one per input dimension
  std::vector<int> counter;              // one per input dimension
};

// input_shape: any rank; reduced[d] says whether dimension d is averaged.
// The output holds the kept dimensions in order.
void MeanInt8Reference(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                       int32_t input_zero_point, int32_t output_zero_point,
                       QuantizedMultiplier multiplier, const int8_t* input, int8_t* output,
                       MeanScratch* scratch);
// MeanInt8Reference's result, bit for bit; on AVX-512 a single block of
// reduced dimensions (a global average pool's H and W) is summed 16
// channels at a time in registers and rescaled as it goes.
void MeanInt8Optimized(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                       int32_t input_zero_point, int32_t output_zero_point,
                       QuantizedMultiplier multiplier, const int8_t* input, int8_t* output,
                       MeanScratch* scratch);
// Whether MeanInt8Optimized takes its AVX-512 path for this shape.
bool MeanInt8Vectorized(const std::vector<int>& input_shape, const std::vector<bool>& reduced);

void MeanInt16Reference(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                        QuantizedMultiplier multiplier, const int16_t* input, int16_t* output,
                        MeanScratch* scratch);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_MEAN_H_
