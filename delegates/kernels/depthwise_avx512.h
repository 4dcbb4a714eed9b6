// int8 DEPTHWISE_CONV_2D (depth multiplier 1) on AVX-512 BW + VL, one
// output row's interior at a time: the pixels whose window lies wholly
// inside the input in x. For each block of 32 channels the row's taps
// (weights widened to int16) and the channels' rescale stay in registers
// while the block walks along the row; each tap is one vpmullw ((q - zp) *
// w fits int16) widened into int32 sums, and the sums are rescaled to int8
// in registers. Exactly DepthwiseConv2DInt8Reference's result.
#ifndef TFQ_DELEGATES_KERNELS_DEPTHWISE_AVX512_H_
#define TFQ_DELEGATES_KERNELS_DEPTHWISE_AVX512_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/conv.h"
#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

// The most taps (valid window rows x filter width) the row kernel holds.
constexpr int kMaxDepthwiseRowTaps = 16;

// Output pixels [ox_begin, ox_end) of output row (b, oy), all of whose
// window columns are inside the input; window rows [fy_begin, fy_end) are
// the ones inside it. (fy_end - fy_begin) * filter_width <= kMaxDepthwiseRowTaps.
// Only when DepthwiseTapsAvailable() (dot.h).
void DepthwiseRowInt8Avx512(const ConvGeometry& geometry, int32_t input_zero_point,
                            const ChannelRequantization& requantization, const int8_t* input,
                            const int16_t* filter16, const int32_t* bias, int b, int oy,
                            int fy_begin, int fy_end, int ox_begin, int ox_end, int8_t* output);

// out[c] = the rescale of acc[c] + the blocks' offsets, for c < depth
// (`blocks` from MakeChannelBlocks): RowRequantizer::Run's result with the
// per-channel constants precomputed. AVX-512 only.
void RescaleRowAvx512(const int32_t* acc, const ChannelBlockConstants* blocks, int depth,
                      int8_t* out);

// int16x8: the same walk with int16 inputs (zero point 0) and outputs,
// int16-widened int8 weights, int64 biases. Each tap is one vpmaddwd of the
// sign-extended input and the zero-extended weight (exact int32 products;
// the op bounds the taps so the int32 sums cannot overflow), and the sums
// get TFLite's int64 rescale on 8 lanes at a time (fixed_point.h's
// MultiplyByQuantizedMultiplierInt64, with `rescale` from Int64Rescale).
// Only when DepthwiseRowInt16Available().
struct Int64Rescale {
  std::vector<int64_t> reduced, round, shift;  // per channel
};
Int64Rescale MakeInt64Rescale(const QuantizedMultiplier* multipliers, int channels);
bool DepthwiseRowInt16Available();  // AVX-512 F + BW + VL + DQ
void DepthwiseRowInt16Avx512(const ConvGeometry& geometry, const Int64Rescale& rescale,
                             int32_t output_min, int32_t output_max, const int16_t* input,
                             const int16_t* filter16, const int64_t* bias, int b, int oy,
                             int fy_begin, int fy_end, int ox_begin, int ox_end,
                             int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DEPTHWISE_AVX512_H_
