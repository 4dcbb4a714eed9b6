#include "delegates/ops/activation_range.h"

#include <algorithm>
#include <cmath>

namespace tfq {

bool QuantizedActivationRange(int activation, float scale, int32_t zero_point,
                              int32_t qmin, int32_t qmax, int32_t* out_min,
                              int32_t* out_max, std::string* why) {
  bool overflow = false;
  auto quantize = [&](float f) {
    const float q = std::round(f / scale);
    if (!(std::fabs(q) < 1e9f)) {  // TFLite's int cast would be undefined
      overflow = true;
      return 0;
    }
    return zero_point + static_cast<int32_t>(q);
  };
  *out_min = qmin;
  *out_max = qmax;
  switch (activation) {
    case kTfLiteActNone:
      break;
    case kTfLiteActRelu:
      *out_min = std::max(qmin, quantize(0.0f));
      break;
    case kTfLiteActRelu6:
      *out_min = std::max(qmin, quantize(0.0f));
      *out_max = std::min(qmax, quantize(6.0f));
      break;
    case kTfLiteActReluN1To1:
      *out_min = std::max(qmin, quantize(-1.0f));
      *out_max = std::min(qmax, quantize(1.0f));
      break;
    default:
      *why = "fused activation " + std::to_string(activation) + " is not supported";
      return false;
  }
  if (overflow) {
    *why = "output scale " + std::to_string(scale) + " is too small for the fused activation";
    return false;
  }
  return true;
}

}  // namespace tfq
