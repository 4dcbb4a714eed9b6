#include "delegates/kernels/add_sub.h"

#include <algorithm>

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

AddSubInt8Optimized::AddSubInt8Optimized(const AddSubQuantization& q) : quantization_(q) {
  for (int value = -128; value <= 127; ++value) {
    const int index = static_cast<uint8_t>(value);
    scaled1_[index] = MultiplyByQuantizedMultiplier(
        (value - q.input1_zero_point) * (1 << kAddSubLeftShift), q.input1_multiplier);
    const int32_t scaled2 = MultiplyByQuantizedMultiplier(
        (value - q.input2_zero_point) * (1 << kAddSubLeftShift), q.input2_multiplier);
    scaled2_[index] = q.subtract ? -scaled2 : scaled2;
  }
}

void AddSubInt8Optimized::Run(const BroadcastShape& shape, const int8_t* input1,
                              const int8_t* input2, int8_t* output) const {
  const AddSubQuantization& q = quantization_;
  auto one = [&](int64_t out, int64_t index1, int64_t index2) {
    const int32_t raw = scaled1_[static_cast<uint8_t>(input1[index1])] +
                        scaled2_[static_cast<uint8_t>(input2[index2])];
    const int32_t value =
        MultiplyByQuantizedMultiplier(raw, q.output_multiplier) + q.output_zero_point;
    output[out] = static_cast<int8_t>(std::min(std::max(value, q.output_min), q.output_max));
  };
  bool same_shapes = true;  // both operands contiguous: no broadcasting odometer
  int64_t stride = 1;
  for (int d = shape.rank - 1; d >= 0; --d) {
    same_shapes = same_shapes && shape.strides1[d] == stride && shape.strides2[d] == stride;
    stride *= shape.dims[d];
  }
  if (same_shapes) {
    for (int64_t i = 0; i < shape.elements(); ++i) one(i, i, i);
  } else {
    ForEachBroadcastElement(shape, one);
  }
}

}  // namespace kernels
}  // namespace tfq
