// int16 SOFTMAX (int16x8 models; zero points 0, output scale 1/32768) over
// the last dimension, as TFLite's reference (reference_ops::SoftmaxInt16):
// differences from the row's max rescaled so that [-65535, 0] spans
// [-10, 0], exp from an interpolated table (lut_int16.h), the sum's
// reciprocal from a 1 / (1 + x) table after normalizing it, then each exp
// times the reciprocal, rounded and clamped to [0, 32767].
#ifndef TFQ_DELEGATES_KERNELS_SOFTMAX_INT16_H_
#define TFQ_DELEGATES_KERNELS_SOFTMAX_INT16_H_

#include <cstdint>

#include "delegates/kernels/fixed_point.h"
#include "delegates/kernels/lut_int16.h"

namespace tfq {
namespace kernels {

struct SoftmaxInt16Params {
  QuantizedMultiplier input_multiplier;  // s_in * beta / (10 / 65535)
  Int16Lut exp_lut, one_over_one_plus_x_lut;
};

// TFLite's prepare. `scale_times_beta` is s_in * beta as TFLite forms it
// (in float). False when the multiplier's left shift could overflow int32.
bool MakeSoftmaxInt16Params(float scale_times_beta, SoftmaxInt16Params* params);

// The sum of a row's exps (each <= 32767) stays in int32 up to this depth.
constexpr int kMaxSoftmaxInt16Depth = 65535;

void SoftmaxInt16Reference(const SoftmaxInt16Params& params, int64_t rows, int depth,
                           const int16_t* input, int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_SOFTMAX_INT16_H_
