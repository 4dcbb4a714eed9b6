// TFLite's fixed-point rescale, as both 2.21 wheels build it (gemmlowp's
// double rounding). Conv, depthwise conv, ADD, MUL and MEAN rescale their
// int32 accumulators this way in the reference kernels; FULLY_CONNECTED does
// not (float64, see fully_connected.h).
#ifndef TFQ_DELEGATES_KERNELS_FIXED_POINT_H_
#define TFQ_DELEGATES_KERNELS_FIXED_POINT_H_

#include <cstdint>
#include <limits>

namespace tfq {
namespace kernels {

// A real multiplier as a Q31 significand and a power-of-two exponent:
// real ~= significand * 2^(shift - 31).
struct QuantizedMultiplier {
  int32_t significand = 0;
  int shift = 0;
};

// TFLite's QuantizeMultiplier: frexp, round half away from zero to Q31, a
// significand that rounds up to 2^31 is halved, and shifts below -31 give 0.
// `multiplier` must be finite and >= 0.
QuantizedMultiplier QuantizeMultiplier(double multiplier);

// Inline: every kernel calls these once or more per output element.

// round(a * b / 2^31) with ties toward +infinity (gemmlowp's nudge, then C's
// truncating division); INT32_MIN * INT32_MIN saturates.
inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) {
    return std::numeric_limits<int32_t>::max();
  }
  const int64_t product = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = product >= 0 ? (1LL << 30) : (1 - (1LL << 30));
  return static_cast<int32_t>((product + nudge) / (1LL << 31));
}

// x / 2^exponent rounded half away from zero (0 <= exponent <= 31).
inline int32_t RoundingDivideByPowerOfTwo(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x * significand * 2^(shift - 31): shift left first (the caller guarantees
// x * 2^shift fits in int32), then the doubling high multiply, then the
// rounding right shift.
inline int32_t MultiplyByQuantizedMultiplier(int32_t x, QuantizedMultiplier m) {
  const int left = m.shift > 0 ? m.shift : 0;
  const int right = m.shift > 0 ? 0 : -m.shift;
  return RoundingDivideByPowerOfTwo(
      SaturatingRoundingDoublingHighMul(static_cast<int32_t>(
          static_cast<uint32_t>(x) << left), m.significand), right);
}

// The int64 overload TFLite's int16x8 convolutions use (both rounding
// modes build it the same): the significand reduced to 16 bits, then one
// multiply and a shift rounding half up. |x| < 2^47 (the op checks bound it).
inline int32_t MultiplyByQuantizedMultiplierInt64(int64_t x, QuantizedMultiplier m) {
  const int32_t reduced = m.significand < 0x7FFF0000 ? (m.significand + (1 << 15)) >> 16 : 0x7FFF;
  const int total_shift = 15 - m.shift;
  const int64_t rounded = x * static_cast<int64_t>(reduced) + (int64_t{1} << (total_shift - 1));
  return static_cast<int32_t>(rounded >> total_shift);
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FIXED_POINT_H_
