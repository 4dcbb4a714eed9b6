#include "delegates/kernels/mul.h"

#include <algorithm>

namespace tfq {
namespace kernels {

namespace {

template <typename T>
void MulReference(const MulQuantization& q, const BroadcastShape& shape, const T* input1,
                  const T* input2, T* output) {
  ForEachBroadcastElement(shape, [&](int64_t out, int64_t index1, int64_t index2) {
    const int32_t product =
        (input1[index1] - q.input1_zero_point) * (input2[index2] - q.input2_zero_point);
    const int32_t value =
        q.output_zero_point + MultiplyByQuantizedMultiplier(product, q.multiplier);
    output[out] = static_cast<T>(std::min(std::max(value, q.output_min), q.output_max));
  });
}

}  // namespace

void MulInt8Reference(const MulQuantization& q, const BroadcastShape& shape,
                      const int8_t* input1, const int8_t* input2, int8_t* output) {
  MulReference(q, shape, input1, input2, output);
}

void MulInt16Reference(const MulQuantization& q, const BroadcastShape& shape,
                       const int16_t* input1, const int16_t* input2, int16_t* output) {
  MulReference(q, shape, input1, input2, output);
}

}  // namespace kernels
}  // namespace tfq
