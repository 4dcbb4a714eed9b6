#include "delegates/kernels/fully_connected.h"

#include <algorithm>
#include <cmath>

#include "delegates/kernels/dot.h"

namespace tfq {
namespace kernels {

void FullyConnectedInt8Reference(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* bias, int8_t* output) {
  for (int b = 0; b < shape.batches; ++b) {
    const int8_t* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = 0; o < shape.output_depth; ++o) {
      const int8_t* filter = weights + static_cast<int64_t>(o) * shape.input_depth;
      // The op's check bounds input_depth so this sum cannot overflow int32.
      int32_t acc = bias ? bias[o] : 0;
      for (int i = 0; i < shape.input_depth; ++i) {
        acc += (static_cast<int32_t>(row[i]) - quantization.input_zero_point) * filter[i];
      }
      // The check also bounds |acc * multiplier| < 2^31: the cast is defined.
      int32_t value = static_cast<int32_t>(
          std::round(static_cast<double>(acc) * quantization.multipliers[o]));
      value += quantization.output_zero_point;
      value = std::min(std::max(value, quantization.output_min), quantization.output_max);
      output[static_cast<int64_t>(b) * shape.output_depth + o] = static_cast<int8_t>(value);
    }
  }
}

void FullyConnectedInt8Optimized(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* weight_sums, const int32_t* bias,
                                 int8_t* output) {
  for (int b = 0; b < shape.batches; ++b) {
    const int8_t* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = 0; o < shape.output_depth; ++o) {
      int32_t acc = DotInt8(row, weights + static_cast<int64_t>(o) * shape.input_depth,
                            shape.input_depth) -
                    quantization.input_zero_point * weight_sums[o];
      if (bias != nullptr) acc += bias[o];
      int32_t value = static_cast<int32_t>(
          std::round(static_cast<double>(acc) * quantization.multipliers[o]));
      value += quantization.output_zero_point;
      value = std::min(std::max(value, quantization.output_min), quantization.output_max);
      output[static_cast<int64_t>(b) * shape.output_depth + o] = static_cast<int8_t>(value);
    }
  }
}

void FullyConnectedInt16Reference(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const int8_t* weights,
                                  const int64_t* bias, int16_t* output) {
  for (int b = 0; b < shape.batches; ++b) {
    const int16_t* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = 0; o < shape.output_depth; ++o) {
      const int8_t* filter = weights + static_cast<int64_t>(o) * shape.input_depth;
      int64_t acc = bias ? bias[o] : 0;
      for (int i = 0; i < shape.input_depth; ++i) {
        acc += static_cast<int32_t>(row[i]) * filter[i];
      }
      // The op's check bounds |acc * multiplier| < 2^31: the cast is defined.
      int32_t value = static_cast<int32_t>(
          std::round(static_cast<double>(acc) * quantization.multipliers[o]));
      value = std::min(std::max(value, quantization.output_min), quantization.output_max);
      output[static_cast<int64_t>(b) * shape.output_depth + o] = static_cast<int16_t>(value);
    }
  }
}

}  // namespace kernels
}  // namespace tfq
