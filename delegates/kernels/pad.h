// int8 and int16 PAD / PADV2 on plain arrays: copies the input into the middle of the
// output and fills the rest with one value (the output zero point for PAD,
// the constant for PADV2), as TFLite's PadImpl. Any rank.
#ifndef TFQ_DELEGATES_KERNELS_PAD_H_
#define TFQ_DELEGATES_KERNELS_PAD_H_

#include <cstdint>
#include <vector>

namespace tfq {
namespace kernels {

// before[d] / after[d]: padding of dimension d (>= 0).
void PadInt8(const std::vector<int>& input_shape, const std::vector<int>& before,
             const std::vector<int>& after, int8_t fill, const int8_t* input, int8_t* output);
void PadInt16(const std::vector<int>& input_shape, const std::vector<int>& before,
              const std::vector<int>& after, int16_t fill, const int16_t* input,
              int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_PAD_H_
