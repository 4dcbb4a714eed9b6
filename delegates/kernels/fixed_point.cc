#include "delegates/kernels/fixed_point.h"

#include <cmath>
#include <limits>

namespace tfq {
namespace kernels {

QuantizedMultiplier QuantizeMultiplier(double multiplier) {
  QuantizedMultiplier result;
  if (multiplier == 0.0) return result;
  int shift = 0;
  const double significand = std::frexp(multiplier, &shift);
  int64_t fixed = static_cast<int64_t>(std::round(significand * (1LL << 31)));
  if (fixed == (1LL << 31)) {
    fixed /= 2;
    ++shift;
  }
  if (shift < -31) {  // every bit would be shifted out: the result is 0
    shift = 0;
    fixed = 0;
  }
  result.significand = static_cast<int32_t>(fixed);
  result.shift = shift;
  return result;
}

int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) {
    return std::numeric_limits<int32_t>::max();
  }
  const int64_t product = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = product >= 0 ? (1LL << 30) : (1 - (1LL << 30));
  // C++ division truncates toward zero, as gemmlowp relies on.
  return static_cast<int32_t>((product + nudge) / (1LL << 31));
}

int32_t RoundingDivideByPowerOfTwo(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

}  // namespace kernels
}  // namespace tfq
