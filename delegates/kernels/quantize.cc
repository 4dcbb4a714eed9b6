#include "delegates/kernels/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tfq {
namespace kernels {
namespace {

template <typename T>
void QuantizeFloat(float scale, int32_t zero_point, int64_t count, const float* input,
                   T* output) {
  constexpr int32_t kMin = std::numeric_limits<T>::min(), kMax = std::numeric_limits<T>::max();
  for (int64_t i = 0; i < count; ++i) {
    const float rounded = std::round(input[i] / scale);
    int32_t value;
    if (std::isnan(rounded)) {
      value = kMin;
    } else if (!(std::fabs(rounded) < 2147483520.0f)) {  // the cast would be undefined
      value = rounded > 0 ? kMax : kMin;
    } else {
      value = static_cast<int32_t>(rounded);
      value = static_cast<int32_t>(std::min<int64_t>(
          std::max<int64_t>(static_cast<int64_t>(value) + zero_point, kMin), kMax));
    }
    output[i] = static_cast<T>(value);
  }
}

template <typename T>
void Dequantize(float scale, int32_t zero_point, int64_t count, const T* input, float* output) {
  for (int64_t i = 0; i < count; ++i) {
    output[i] = static_cast<float>(static_cast<double>(scale) * (input[i] - zero_point));
  }
}

template <typename In, typename Out>
void Requantize(const Requantization& r, int64_t count, const In* input, Out* output) {
  constexpr int32_t kMin = std::numeric_limits<Out>::min();
  constexpr int32_t kMax = std::numeric_limits<Out>::max();
  for (int64_t i = 0; i < count; ++i) {
    const int32_t value =
        MultiplyByQuantizedMultiplier(input[i] - r.input_zero_point, r.multiplier) +
        r.output_zero_point;
    output[i] = static_cast<Out>(std::min(std::max(value, kMin), kMax));
  }
}

}  // namespace

void QuantizeFloatToInt8(float scale, int32_t zero_point, int64_t count, const float* input,
                         int8_t* output) {
  QuantizeFloat(scale, zero_point, count, input, output);
}

void QuantizeFloatToInt16(float scale, int32_t zero_point, int64_t count, const float* input,
                          int16_t* output) {
  QuantizeFloat(scale, zero_point, count, input, output);
}

void DequantizeInt8ToFloat(float scale, int32_t zero_point, int64_t count, const int8_t* input,
                           float* output) {
  Dequantize(scale, zero_point, count, input, output);
}

void DequantizeInt16ToFloat(float scale, int32_t zero_point, int64_t count,
                            const int16_t* input, float* output) {
  Dequantize(scale, zero_point, count, input, output);
}

void RequantizeInt16ToInt16(const Requantization& r, int64_t count, const int16_t* input,
                            int16_t* output) {
  Requantize(r, count, input, output);
}

void RequantizeInt16ToInt8(const Requantization& r, int64_t count, const int16_t* input,
                           int8_t* output) {
  Requantize(r, count, input, output);
}

void RequantizeInt8ToInt16(const Requantization& r, int64_t count, const int8_t* input,
                           int16_t* output) {
  Requantize(r, count, input, output);
}

}  // namespace kernels
}  // namespace tfq
