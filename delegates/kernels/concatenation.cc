#include "delegates/kernels/concatenation.h"

#include <cstring>

namespace tfq {
namespace kernels {

void ConcatenateBytes(int64_t outer, const std::vector<int64_t>& inner_sizes,
                      const std::vector<const int8_t*>& inputs, int8_t* output) {
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t size = inner_sizes[i];
      std::memcpy(output, inputs[i] + o * size, static_cast<size_t>(size));
      output += size;
    }
  }
}

}  // namespace kernels
}  // namespace tfq
