// int8 DEPTHWISE_CONV_2D (depth multiplier 1) on AVX-512 VNNI, whole output
// rows, the padding included: exactly DepthwiseConv2DInt8Reference's result.
//
// vpdpbusd adds 4 byte products per int32 lane, and a depthwise channel has
// no 4 inputs of its own to give it; so the 4 are 4 window rows of one
// input column. Each input column's bytes (+128, as unsigned) of up to 4
// window rows are interleaved once (8 shuffles per 64 channels) into a
// scratch row, and every output whose window takes that column reuses them
// (3 outputs for a 3x3 window at stride 1) against weights interleaved the
// same way at prepare. Taps in the padding read the input zero point, whose
// contribution (zp + 128) * w the sums' offset takes back along with every
// other tap's: offset = bias - (zp + 128) * sum(w), so no window is special.
//
// The sums come out in the interleave's order (vector k, 128-bit lane L,
// dword e holds channel 16L + 4k + e); the epilogue constants are packed in
// that order too, and the pack instructions that narrow int32 to int8 undo
// it (packs of vectors 0, 1 and 2, 3, then of those two, give channels in
// order), so no transpose is needed.
//
// A block of at most 32 or 16 channels (a depth of 32, the last 16 of 144)
// would leave lanes idle: its vector holds 2 or 4 segments of the output
// row side by side (a 112-pixel row: pixels 0..55 in lanes 0..31 beside
// 56..111 in lanes 32..63), each loaded and stored through its own mask.
#ifndef TFQ_DELEGATES_KERNELS_DEPTHWISE_VNNI_H_
#define TFQ_DELEGATES_KERNELS_DEPTHWISE_VNNI_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/conv.h"
#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

struct alignas(64) Bytes64 {
  int8_t bytes[64];
};

// What PackDepthwiseVnni computes once per op.
struct PackedDepthwiseVnni {
  int filter_height = 0, filter_width = 0, depth = 0;
  int quads = 0;  // 4-row groups per column: ceil(filter_height / 4)
  // The quads have a slot to spare (filter_height % 4 != 0): at stride 1,
  // two output rows share one interleave, the lower with its window one
  // slot down (a second weight set).
  bool row_pairs = false;
  int32_t input_zero_point = 0;
  struct Block {
    int first_channel, channels;  // channels <= 64 / segments
    int segments;                 // 1, 2 or 4 row segments side by side
    int epilogue;  // the rescale all 4 of its constants take: see Epilogue in the .cc
  };
  std::vector<Block> blocks;
  std::vector<Bytes64> weights;  // [block][set][fx][quad][4], interleaved
  std::vector<ChannelBlockConstants> constants;  // [block][4], in the sums' order
  bool empty() const { return weights.empty(); }
};

// Window rows and columns the kernel takes (the filter's height in at most
// 2 quads of rows).
constexpr int kMaxDepthwiseVnniRows = 8;
constexpr int kMaxDepthwiseVnniColumns = 8;

bool DepthwiseVnniAvailable();  // CpuFeatures::avx512_vnni

// The interleaved weights and the epilogue constants (offsets with the bias
// and the zero point's correction). Empty without AVX-512 VNNI or for a
// filter beyond the limits above. filter: [1][h][w][depth].
PackedDepthwiseVnni PackDepthwiseVnni(const int8_t* filter, int filter_height, int filter_width,
                                      int depth, const int32_t* bias,
                                      int32_t input_zero_point,
                                      const ChannelRequantization& requantization);

// Whether `packed` serves geometry g: the same filter and depth, and a
// window span (with dilation) the scratch row holds.
bool DepthwiseVnniFits(const ConvGeometry& g, const PackedDepthwiseVnni& packed);

// Output rows [row_begin, row_end) (flattened over batch and y), every
// pixel of each, in packed.blocks [block_begin, block_end) (-1: all): threads
// split a small image's channels instead of its few rows.
void DepthwiseRowsVnni(const ConvGeometry& g, const PackedDepthwiseVnni& packed,
                       const int8_t* input, int8_t* output, int64_t row_begin, int64_t row_end,
                       int block_begin = 0, int block_end = -1);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DEPTHWISE_VNNI_H_
