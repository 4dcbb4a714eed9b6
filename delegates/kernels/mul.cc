#include "delegates/kernels/mul.h"

#include <algorithm>

namespace tfq {
namespace kernels {

void MulInt8Reference(const MulQuantization& q, const BroadcastShape& shape,
                      const int8_t* input1, const int8_t* input2, int8_t* output) {
  ForEachBroadcastElement(shape, [&](int64_t out, int64_t index1, int64_t index2) {
    const int32_t product =
        (input1[index1] - q.input1_zero_point) * (input2[index2] - q.input2_zero_point);
    const int32_t value =
        q.output_zero_point + MultiplyByQuantizedMultiplier(product, q.multiplier);
    output[out] = static_cast<int8_t>(std::min(std::max(value, q.output_min), q.output_max));
  });
}

}  // namespace kernels
}  // namespace tfq
