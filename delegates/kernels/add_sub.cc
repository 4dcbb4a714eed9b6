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

}  // namespace kernels
}  // namespace tfq
