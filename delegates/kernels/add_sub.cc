#include "delegates/kernels/add_sub.h"

#include <algorithm>
#include <vector>

namespace tfq {
namespace kernels {

void AddSubInt8Reference(const AddSubQuantization& q, const BroadcastShape& shape,
                         const int8_t* input1, const int8_t* input2, int8_t* output) {
  ForEachBroadcastElement(shape, [&](int64_t out, int64_t index1, int64_t index2) {
    // |q - zp| <= 255, so the shifted values stay below 2^28.
    const int32_t shifted1 = (input1[index1] - q.input1_zero_point) * (1 << kAddSubLeftShift);
    const int32_t shifted2 = (input2[index2] - q.input2_zero_point) * (1 << kAddSubLeftShift);
    const int32_t scaled1 = MultiplyByQuantizedMultiplier(shifted1, q.input1_multiplier);
    const int32_t scaled2 = MultiplyByQuantizedMultiplier(shifted2, q.input2_multiplier);
    const int32_t raw = q.subtract ? scaled1 - scaled2 : scaled1 + scaled2;
    const int32_t value =
        MultiplyByQuantizedMultiplier(raw, q.output_multiplier) + q.output_zero_point;
    output[out] = static_cast<int8_t>(std::min(std::max(value, q.output_min), q.output_max));
  });
}

AddSubInt8Optimized::AddSubInt8Optimized(const AddSubQuantization& q)
    : quantization_(q),
      requantizer_(std::vector<QuantizedMultiplier>(kChunk, q.output_multiplier),
                   q.output_zero_point, q.output_min, q.output_max) {
  for (int value = -128; value <= 127; ++value) {
    const int index = static_cast<uint8_t>(value);
    scaled1_[index] = MultiplyByQuantizedMultiplier(
        (value - q.input1_zero_point) * (1 << kAddSubLeftShift), q.input1_multiplier);
    const int32_t scaled2 = MultiplyByQuantizedMultiplier(
        (value - q.input2_zero_point) * (1 << kAddSubLeftShift), q.input2_multiplier);
    scaled2_[index] = q.subtract ? -scaled2 : scaled2;
  }
}

int8_t AddSubInt8Optimized::One(int8_t value1, int8_t value2) const {
  const AddSubQuantization& q = quantization_;
  const int32_t raw =
      scaled1_[static_cast<uint8_t>(value1)] + scaled2_[static_cast<uint8_t>(value2)];
  const int32_t value =
      MultiplyByQuantizedMultiplier(raw, q.output_multiplier) + q.output_zero_point;
  return static_cast<int8_t>(std::min(std::max(value, q.output_min), q.output_max));
}

void AddSubInt8Optimized::RunContiguous(const int8_t* input1, const int8_t* input2,
                                        int8_t* output, int64_t begin, int64_t end) const {
  int32_t sums[kChunk];
  for (int64_t start = begin; start < end; start += kChunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, end - start));
    for (int i = 0; i < n; ++i) {
      sums[i] = scaled1_[static_cast<uint8_t>(input1[start + i])] +
                scaled2_[static_cast<uint8_t>(input2[start + i])];
    }
    requantizer_.Run(sums, 0, n, output + start);
  }
}

void AddSubInt8Optimized::Run(const BroadcastShape& shape, const int8_t* input1,
                              const int8_t* input2, int8_t* output) const {
  if (IsContiguous(shape)) {
    RunContiguous(input1, input2, output, 0, shape.elements());
    return;
  }
  ForEachBroadcastElement(shape, [&](int64_t out, int64_t index1, int64_t index2) {
    output[out] = One(input1[index1], input2[index2]);
  });
}

}  // namespace kernels
}  // namespace tfq
