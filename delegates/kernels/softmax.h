// int8 SOFTMAX (output scale 1/256, zero point -128) over the last
// dimension, on plain arrays: TFLite's reference (reference_ops::Softmax),
// gemmlowp fixed point throughout, no table. Per row: differences from the
// row's max, scaled by beta * s_in into Q5.26, exp into Q0.31, summed in
// Q12.19, one reciprocal by Newton-Raphson, then each exp times it.
#ifndef TFQ_DELEGATES_KERNELS_SOFTMAX_H_
#define TFQ_DELEGATES_KERNELS_SOFTMAX_H_

#include <cstdint>

#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

struct SoftmaxParams {
  QuantizedMultiplier input_multiplier;  // beta * s_in * 2^26, shift >= 0
  int32_t diff_min;  // differences below it give exp = 0
};

// TFLite's PreprocessSoftmaxScaling and CalculateInputRadius; false when the
// scaled multiplier is <= 1 (TFLite aborts on it).
bool MakeSoftmaxParams(double beta, double input_scale, SoftmaxParams* params);

void SoftmaxInt8Reference(const SoftmaxParams& params, int64_t rows, int depth,
                          const int8_t* input, int8_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_SOFTMAX_H_
