#include "delegates/kernels/fully_connected.h"

#include <algorithm>
#include <cmath>

#include "delegates/kernels/dot.h"
#include "delegates/kernels/dot_int16.h"

namespace tfq {
namespace kernels {

namespace {

// TFLite's reference loop: the sum in `Acc` (int32 for int8, int64 for
// int16x8, where the input zero point is 0), the float64 rescale.
template <typename In, typename Acc, typename Out>
void FullyConnectedReference(const FullyConnectedShape& shape,
                             const FullyConnectedQuantization& quantization, const In* input,
                             const int8_t* weights, const Acc* bias, Out* output) {
  for (int b = 0; b < shape.batches; ++b) {
    const In* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = 0; o < shape.output_depth; ++o) {
      const int8_t* filter = weights + static_cast<int64_t>(o) * shape.input_depth;
      // The op's check bounds input_depth so this sum cannot overflow Acc.
      Acc acc = bias ? bias[o] : 0;
      for (int i = 0; i < shape.input_depth; ++i) {
        acc += (static_cast<int32_t>(row[i]) - quantization.input_zero_point) * filter[i];
      }
      // The check also bounds |acc * multiplier| < 2^31: the cast is defined.
      int32_t value = static_cast<int32_t>(
          std::round(static_cast<double>(acc) * quantization.multipliers[o]));
      value += quantization.output_zero_point;
      value = std::min(std::max(value, quantization.output_min), quantization.output_max);
      output[static_cast<int64_t>(b) * shape.output_depth + o] = static_cast<Out>(value);
    }
  }
}

}  // namespace

void FullyConnectedInt8Reference(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* bias, int8_t* output) {
  FullyConnectedReference(shape, quantization, input, weights, bias, output);
}

void FullyConnectedInt16Reference(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const int8_t* weights,
                                  const int64_t* bias, int16_t* output) {
  FullyConnectedReference(shape, quantization, input, weights, bias, output);
}

void FullyConnectedInt16Optimized(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const std::vector<int16_t>& packed,
                                  const int64_t* bias, int64_t* acc, int16_t* output) {
  for (int first = 0; first < shape.batches; first += 4) {
    const int count = std::min(4, shape.batches - first);
    const int16_t* rows[4] = {};
    for (int r = 0; r < count; ++r) {
      rows[r] = input + static_cast<int64_t>(first + r) * shape.input_depth;
    }
    PackedDotInt16Rows(rows, count, packed, shape.output_depth, shape.input_depth, acc,
                       shape.output_depth);
    for (int r = 0; r < count; ++r) {
      for (int o = 0; o < shape.output_depth; ++o) {
        const int64_t sum = acc[static_cast<int64_t>(r) * shape.output_depth + o] +
                            (bias != nullptr ? bias[o] : 0);
        int32_t value = static_cast<int32_t>(
            std::round(static_cast<double>(sum) * quantization.multipliers[o]));
        value += quantization.output_zero_point;  // 0 for int16, as the input's
        value = std::min(std::max(value, quantization.output_min), quantization.output_max);
        output[static_cast<int64_t>(first + r) * shape.output_depth + o] =
            static_cast<int16_t>(value);
      }
    }
  }
}

void FullyConnectedInt8Optimized(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* weight_sums, const int32_t* bias,
                                 int8_t* output, int channel_begin, int channel_end) {
  const int end = channel_end < 0 ? shape.output_depth : channel_end;
  for (int b = 0; b < shape.batches; ++b) {
    const int8_t* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = channel_begin; o < end; ++o) {
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

}  // namespace kernels
}  // namespace tfq
