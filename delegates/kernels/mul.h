// int8 and int16 MUL with broadcasting, on plain arrays
// (reference_integer_ops::Mul and BroadcastMul6DSlow):
//   out = clamp(zp_out + MBQM((q1 - zp1)(q2 - zp2), m)),
// m = QuantizeMultiplier(s1 * s2 / s_out computed in float). int16 (int16x8
// models) has zero points 0; its products reach 2^30.
#ifndef TFQ_DELEGATES_KERNELS_MUL_H_
#define TFQ_DELEGATES_KERNELS_MUL_H_

#include <cstdint>

#include "delegates/kernels/broadcast.h"
#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

struct MulQuantization {
  int32_t input1_zero_point, input2_zero_point, output_zero_point;
  QuantizedMultiplier multiplier;  // |product| * 2^shift must fit int32
  int32_t output_min, output_max;
};

void MulInt8Reference(const MulQuantization& quantization, const BroadcastShape& shape,
                      const int8_t* input1, const int8_t* input2, int8_t* output);
void MulInt16Reference(const MulQuantization& quantization, const BroadcastShape& shape,
                       const int16_t* input1, const int16_t* input2, int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_MUL_H_
