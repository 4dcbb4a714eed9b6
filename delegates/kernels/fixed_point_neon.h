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

// clamp(MBQM(x) + zero_point, low, high) narrowed to int16 lanes (exact:
// the clamp is inside int8 or int16); right_shift as RowRequantizer holds it
// (>= 0).
inline int16x4_t RescaleNarrowX4(int32x4_t x, int32x4_t significand, int32x4_t left_shift,
                                 int32x4_t right_shift, int32x4_t zero_point, int32x4_t low,
                                 int32x4_t high) {
  const int32x4_t value = MultiplyByQuantizedMultiplierX4(x, significand, left_shift,
                                                          vnegq_s32(right_shift));
  return vmovn_s32(vminq_s32(vmaxq_s32(vaddq_s32(value, zero_point), low), high));
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FIXED_POINT_NEON_H_
