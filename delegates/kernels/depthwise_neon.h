// int8 DEPTHWISE_CONV_2D (depth multiplier 1) on AArch64 NEON, one output
// pixel at a time: for each block of 16 channels the pixel's taps
// accumulate in 4 int32x4 registers ((x - zp) widened to int16 by vsubl,
// times the int16-widened weight by vmlal: |(x - zp) * w| <= 255 * 128,
// exact), and the sums are rescaled in registers (fixed_point_neon.h), so
// no int32 row goes through memory per tap as in the portable walk.
// Exactly DepthwiseConv2DInt8Reference's result.
#ifndef TFQ_DELEGATES_KERNELS_DEPTHWISE_NEON_H_
#define TFQ_DELEGATES_KERNELS_DEPTHWISE_NEON_H_

#include <cstdint>

#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

bool DepthwiseNeonAvailable();  // AArch64 (NEON is mandatory there)

// One output pixel: inputs[t] (depth int8 channels) times filters[t] (the
// weights widened to int16) for its `taps` taps inside the input, plus
// bias (null: none), rescaled by `requantization` into out[0, depth).
void DepthwisePixelNeon(const int8_t* const* inputs, const int16_t* const* filters, int taps,
                        int32_t input_zero_point, const int32_t* bias,
                        const ChannelRequantization& requantization, int depth, int8_t* out);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DEPTHWISE_NEON_H_
