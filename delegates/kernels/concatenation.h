// CONCATENATION of tensors sharing one quantization: a copy of bytes.
#ifndef TFQ_DELEGATES_KERNELS_CONCATENATION_H_
#define TFQ_DELEGATES_KERNELS_CONCATENATION_H_

#include <cstdint>
#include <vector>

namespace tfq {
namespace kernels {

// outer: product of the dimensions before the axis; inner_sizes[i]: input
// i's size along the axis times the dimensions after it.
void ConcatenateBytes(int64_t outer, const std::vector<int64_t>& inner_sizes,
                      const std::vector<const int8_t*>& inputs, int8_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_CONCATENATION_H_
