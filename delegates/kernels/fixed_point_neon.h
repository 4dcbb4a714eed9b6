// fixed_point.h's MultiplyByQuantizedMultiplier on 4 int32 lanes (aarch64
// NEON), bit for bit: vqrdmulh is the Q31 product rounded half up
// (SaturatingRoundingDoublingHighMul), and gemmlowp's fixed-up rounding
// shift rounds the power-of-two division half away from zero
// (RoundingDivideByPOT). Include only from code built for aarch64.
#ifndef TFQ_DELEGATES_KERNELS_FIXED_POINT_NEON_H_
#define TFQ_DELEGATES_KERNELS_FIXED_POINT_NEON_H_

#include <arm_neon.h>

namespace tfq {
namespace kernels {

// x * significand * 2^(left_shift + negated_right_shift - 31) per lane
// (negated_right_shift <= 0: vrshl shifts right by a negative count).
inline int32x4_t MultiplyByQuantizedMultiplierX4(int32x4_t x, int32x4_t significand,
                                                 int32x4_t left_shift,
                                                 int32x4_t negated_right_shift) {
  x = vqrdmulhq_s32(vshlq_s32(x, left_shift), significand);
  // Negative values step down by one before the rounding shift (only where
  // it shifts), so ties go away from zero.
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, negated_right_shift), 31);
  return vrshlq_s32(vqaddq_s32(x, fixup), negated_right_shift);
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FIXED_POINT_NEON_H_
