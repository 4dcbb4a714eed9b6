#include "delegates/kernels/quantize.h"

#include <algorithm>
#include <cmath>

namespace tfq {
namespace kernels {

void QuantizeFloatToInt8(float scale, int32_t zero_point, int64_t count, const float* input,
                         int8_t* output) {
  for (int64_t i = 0; i < count; ++i) {
    const float rounded = std::round(input[i] / scale);
    int32_t value;
    if (std::isnan(rounded)) {
      value = -128;
    } else if (!(std::fabs(rounded) < 2147483520.0f)) {  // the cast would be undefined
      value = rounded > 0 ? 127 : -128;
    } else {
      value = static_cast<int32_t>(rounded);
      value = static_cast<int32_t>(std::min<int64_t>(
          std::max<int64_t>(static_cast<int64_t>(value) + zero_point, -128), 127));
    }
    output[i] = static_cast<int8_t>(value);
  }
}

void DequantizeInt8ToFloat(float scale, int32_t zero_point, int64_t count, const int8_t* input,
                           float* output) {
  for (int64_t i = 0; i < count; ++i) {
    output[i] = static_cast<float>(static_cast<double>(scale) * (input[i] - zero_point));
  }
}

}  // namespace kernels
}  // namespace tfq
