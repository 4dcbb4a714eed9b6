#include "delegates/kernels/fixed_point.h"

#include <cmath>

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

}  // namespace kernels
}  // namespace tfq
