// int8 CONV_2D and DEPTHWISE_CONV_2D on plain NHWC arrays (no TFLite types).
//
//   acc = bias[c] + sum over taps inside the input of
//         (input - input_zero_point) * filter
//   out = clamp(MultiplyByQuantizedMultiplier(acc, multiplier[c]) + output_zero_point)
//
// TFLite's reference arithmetic (reference_integer_ops ConvPerChannel and
// DepthwiseConvPerChannel): taps that fall in the padding are skipped, and
// per-tensor weights use the same per-channel path with one multiplier
// repeated. multiplier[c] = QuantizeMultiplier(s_in * s_w[c] / s_out) in double.
#ifndef TFQ_DELEGATES_KERNELS_CONV_H_
#define TFQ_DELEGATES_KERNELS_CONV_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/dot.h"
#include "delegates/kernels/depthwise_avx2.h"
#include "delegates/kernels/dot_avx2.h"
#include "delegates/kernels/fixed_point.h"
#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

struct ConvGeometry {
  int batches;
  int input_height, input_width, input_depth;
  int filter_height, filter_width;
  int output_height, output_width, output_depth;
  int stride_height, stride_width;
  int dilation_height, dilation_width;
  int pad_top, pad_left;  // taps start at out * stride - pad
};

struct ConvQuantization {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t output_min;  // fused activation clamp, within [-128, 127]
  int32_t output_max;
  const QuantizedMultiplier* multipliers;  // [output_depth]
};

// filter: [output_depth][filter_height][filter_width][filter_input_depth]. A
// filter shallower than the input makes a grouped convolution: output
// channel c reads input channels of group c / (output_depth / groups).
// bias: [output_depth] or nullptr.
void Conv2DInt8Reference(const ConvGeometry& geometry, int filter_input_depth,
                         const ConvQuantization& quantization, const int8_t* input,
                         const int8_t* filter, const int32_t* bias, int8_t* output);

// filter: [1][filter_height][filter_width][output_depth]; output channel
// c = input channel * depth_multiplier + m reads input channel c / depth_multiplier.
void DepthwiseConv2DInt8Reference(const ConvGeometry& geometry, int depth_multiplier,
                                  const ConvQuantization& quantization, const int8_t* input,
                                  const int8_t* filter, const int32_t* bias, int8_t* output);

// int16x8: int16 input and output (zero points 0), int8 filter, int64 bias;
// the sums accumulate in int64 and rescale with TFLite's int64
// MultiplyByQuantizedMultiplier (fixed_point.h). output_min/max within int16.
// Computes output rows [row_begin, row_end) (flattened over batch and y;
// row_end -1 = all), so threads can share one output.
void Conv2DInt16Reference(const ConvGeometry& geometry, int filter_input_depth,
                          const ConvQuantization& quantization, const int16_t* input,
                          const int8_t* filter, const int64_t* bias, int16_t* output,
                          int64_t row_begin = 0, int64_t row_end = -1);
void DepthwiseConv2DInt16Reference(const ConvGeometry& geometry, int depth_multiplier,
                                   const ConvQuantization& quantization, const int16_t* input,
                                   const int8_t* filter, const int64_t* bias, int16_t* output,
                                   int64_t row_begin = 0, int64_t row_end = -1);

// The same results, faster (kernels/dot.h's clones): the input zero point
// is folded out of the inner loop as zp * sum(filter), so each output is one
// int8 dot product over an im2col row (padding taps hold the zero point and
// add nothing). Groups must be 1. offsets[c] = bias[c] - input_zero_point
// * sum(filter c) (ConvOffsets).
// Output pixels go in blocks of kConvPixelBlock (each packed weight load
// serves the block). `requantizer` holds quantization's multipliers and
// clamp; `patch` holds kConvPixelBlock im2col rows, `acc` kConvPixelBlock *
// output_depth int32s.
constexpr int kConvPixelBlock = kPackedDotMaxRows;
// offsets[c] = bias[c] (0 without) - input_zero_point * sum(filter c), for
// filters [output_depth][filter_size].
std::vector<int32_t> ConvOffsets(const int8_t* filter, int output_depth, int filter_size,
                                 int32_t input_zero_point, const int32_t* bias);
// The same for depthwise filters [taps][depth]: offsets[c] = bias[c] -
// input_zero_point * sum over taps of filter[t][c].
std::vector<int32_t> DepthwiseOffsets(const int8_t* filter, int taps, int depth,
                                      int32_t input_zero_point, const int32_t* bias);
// `packed`: PackFiltersForOffsetRows of the filter when PackedDotAvailable(),
// else empty; with it, `offsets` take the rows' offset back too:
// ConvOffsets(..., input_zero_point + PackedDotRowOffset(), bias), and
// `patch` also holds the offset rows of pointwise convs, and 3 bytes more.
// `amx_packed` (non-empty): PackFiltersAmx of the filter, when AmxAvailable();
// it takes precedence, and then `patch` holds kAmxMaxRows rows of
// AmxRowStride(filter size) bytes (`acc` is not used).
// Computes output pixels [pixel_begin, pixel_end) (flattened over batch, y,
// x; pixel_end -1 = all), so threads can share one output; on AMX, also
// only channels [channel_begin, channel_end) (-1: all; multiples of 32), so
// threads can split a small image's channels instead. `blocks` (optional,
// with `packed`): MakeChannelBlocks(requantizer.channels(), offsets).
// `avx2` (non-empty, when `packed` is empty): PackFiltersAvx2 of the filter,
// for CPUs without VNNI; `wide_rows` then holds kPackedAvx2MaxRows *
// Avx2RowStride(filter size) int16s, and `acc` is used as above.
void Conv2DInt8Optimized(const ConvGeometry& geometry, const ConvQuantization& quantization,
                         const RowRequantizer& requantizer, const int8_t* input,
                         const int8_t* filter, const std::vector<int8_t>& packed,
                         const int32_t* offsets, int8_t* patch, int32_t* acc, int8_t* output,
                         int64_t pixel_begin = 0, int64_t pixel_end = -1,
                         const std::vector<int8_t>* amx_packed = nullptr,
                         int channel_begin = 0, int channel_end = -1,
                         const ChannelBlockConstants* blocks = nullptr,
                         const PackedFiltersAvx2* avx2 = nullptr, int16_t* wide_rows = nullptr);

// Depth multiplier 1: each tap is one multiply-accumulate across the row of
// channels into `acc` (input_depth int32s); with `filter16` (the filter
// widened to int16, when DepthwiseTapsAvailable()) and at most
// kMaxDepthwiseTaps taps, a pixel's taps are summed channel block by block
// in registers (dot.h's DepthwiseTapsInt8), and row interiors go to
// depthwise_avx512.h's row kernel (AVX-512 VNNI CPUs take depthwise_vnni.h's
// whole-row kernel instead, called by the op); with `avx2_blocks`
// (MakeChannelBlocksAvx2(requantizer.channels(), bias), on CPUs without
// AVX-512) each pixel goes to dot_avx2.h's DepthwisePixelAvx2 instead, and
// with a non-empty `avx2_pairs` (PackDepthwiseAvx2, the same CPUs) to
// depthwise_avx2.h's DepthwisePixelPairsAvx2 (the filter arguments then
// unused); on AArch64, `filter16` sends each pixel to depthwise_neon.h's
// DepthwisePixelNeon. `blocks` (optional, AVX-512): MakeChannelBlocks(
// requantizer.channels(), bias), the epilogue's constants computed once.
// Computes output rows [row_begin, row_end) (flattened over batch and y;
// row_end -1 = all).
constexpr int kMaxDepthwiseTaps = 64;
void DepthwiseConv2DInt8Optimized(const ConvGeometry& geometry,
                                  const ConvQuantization& quantization,
                                  const RowRequantizer& requantizer, const int8_t* input,
                                  const int8_t* filter, const int16_t* filter16,
                                  const int32_t* bias, int32_t* acc, int8_t* output,
                                  int64_t row_begin = 0, int64_t row_end = -1,
                                  const std::vector<ChannelBlockAvx2>* avx2_blocks = nullptr,
                                  const ChannelBlockConstants* blocks = nullptr,
                                  const PackedDepthwiseAvx2* avx2_pairs = nullptr);

// int16x8, the same results as the references above, faster. Groups must
// be 1. Output pixels in blocks of 4 through PackedDotInt16Rows (dot_int16.h:
// exact int64 sums); `packed` = PackFiltersInt16(filter), `patch` holds 4
// im2col rows (int16), `acc` 4 * output_depth int64s. Computes output pixels
// [pixel_begin, pixel_end) (flattened over batch, y, x; -1 = all).
void Conv2DInt16Optimized(const ConvGeometry& geometry, const ConvQuantization& quantization,
                          const int16_t* input, const std::vector<int16_t>& packed,
                          const int64_t* bias, int16_t* patch, int64_t* acc, int16_t* output,
                          int64_t pixel_begin = 0, int64_t pixel_end = -1);

// Depth multiplier 1 and at most kMaxDepthwiseInt16Taps taps (so the int32
// sums of int16 x int8 products cannot overflow); `filter` widened to int16,
// `acc` input_depth int32s. Output rows [row_begin, row_end) as above.
constexpr int kMaxDepthwiseInt16Taps = 256;
// With `rescale` (MakeInt64Rescale of the multipliers, when
// DepthwiseRowInt16Available()), row interiors run depthwise_avx512.h's row
// kernel.
struct Int64Rescale;
void DepthwiseConv2DInt16Optimized(const ConvGeometry& geometry,
                                   const ConvQuantization& quantization, const int16_t* input,
                                   const int16_t* filter, const int64_t* bias,
                                   const Int64Rescale* rescale, int32_t* acc, int16_t* output,
                                   int64_t row_begin = 0, int64_t row_end = -1);

// TRANSPOSE_CONV (reference_integer_ops::TransposeConv): every input pixel
// scatters into the outputs its filter covers (out = in * stride - pad +
// tap), summed in int32 `scratch` [batches * output pixels * output_depth];
// then bias, the per-channel rescale and the clamp as above.
// filter: [output_depth][filter_height][filter_width][input_depth]; the
// geometry's dilations are 1 and pad_top / pad_left are TFLite's.
void TransposeConv2DInt8Reference(const ConvGeometry& geometry,
                                  const ConvQuantization& quantization, const int8_t* input,
                                  const int8_t* filter, const int32_t* bias, int32_t* scratch,
                                  int8_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_CONV_H_
