// The int8 conv and depthwise kernels for CPUs without AVX-512 (Haswell to
// Alder Lake client cores, Zen 1-3): AVX2 has no int8 dot product that cannot saturate
// (vpmaddubsw's int16 pair sums do), so rows and filters are widened to
// int16 and vpmaddwd sums each pair of taps exactly into int32 lanes. The
// epilogue is RowRequantizer's exact rescale on 8 lanes: the single
// rounding of fixed_point_avx512.h (one 64-bit product, the offset and the
// zero point folded into its constants), with AVX2's missing 64-bit
// arithmetic shift built from the logical one.
#ifndef TFQ_DELEGATES_KERNELS_DOT_AVX2_H_
#define TFQ_DELEGATES_KERNELS_DOT_AVX2_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/requantize.h"
#include "delegates/kernels/rescale_avx2.h"

namespace tfq {
namespace kernels {

// The single rounding's constants for one block of 8 output channels, as
// 64-bit lanes for the even (0, 2, 4, 6) and odd channels.
struct alignas(32) ChannelBlockAvx2 {
  int64_t significand_even[4], significand_odd[4], round_even[4], round_odd[4],
      below_even[4], below_odd[4], fix_even[4], fix_odd[4], shift_even[4], shift_odd[4];
};

// Filters packed once for the AVX2 kernel: dot_int16.h's PackFiltersInt16
// layout (16 channels per group, pairs of taps) but kept int8, widened as
// they are loaded (half the bytes each invoke reads), and the epilogue
// constants per 8 channels, computed from the offsets and the rescale.
// `epilogue` stays empty when a channel's rescale is outside the single
// rounding's range (a multiplier >= 1, a right shift > 23, |zero point| >
// 256): the sums then go through RowRequantizer::Run.
// `rescale` (rescale_avx2.h's constants, with `start`: the offsets padded
// to whole groups, the accumulators' first value) replaces `epilogue` where
// every channel is in its range.
struct PackedFiltersAvx2 {
  std::vector<int8_t> weights;
  std::vector<ChannelBlockAvx2> epilogue;
  std::vector<RescaleBlockAvx2> rescale;
  std::vector<int32_t> start;
  bool empty() const { return weights.empty(); }
};

bool PackedDotAvx2Available();  // the CPU has AVX2 (and the cap allows it)

// The epilogue constants per 8 channels of `requantization` with `offsets`
// (null: none) folded in; empty when a channel is outside the single
// rounding's range (see PackedFiltersAvx2).
std::vector<ChannelBlockAvx2> MakeChannelBlocksAvx2(const ChannelRequantization& requantization,
                                                    const int32_t* offsets, int output_depth);
PackedFiltersAvx2 PackFiltersAvx2(const int8_t* filters, int output_depth, int n,
                                  const ChannelRequantization& requantization,
                                  const int32_t* offsets);

// out[r * out_stride + c] = clamp(MBQM(offsets[c] + sum_i rows[r][i] *
// filter_c[i]) + zero point) for rows r < num_rows (1 to
// kPackedAvx2MaxRows) and every channel c < output_depth: RowRequantizer
// ::Run's result. `rows16` holds kPackedAvx2MaxRows * AvxRowsStride(n)
// int16s (the rows widened), `acc` kPackedAvx2MaxRows * output_depth int32s
// (used without an epilogue).
constexpr int kPackedAvx2MaxRows = 4;
int Avx2RowStride(int n);
void PackedDotRowsAvx2ToInt8(const int8_t* const rows[], int num_rows,
                             const PackedFiltersAvx2& packed, const int32_t* offsets,
                             const RowRequantizer& requantizer, int output_depth, int n,
                             int16_t* rows16, int32_t* acc, int8_t* out, int out_stride);

// One depthwise output pixel (depth multiplier 1): out[c] = clamp(MBQM(
// bias[c] + sum over taps t of (inputs[t][c] - zero_point) * filters[t][c])
// + zp) for c < depth, 16 channels at a time with the sums in registers:
// (q - zp) * w fits int16 (|q - zp| <= 255, |w| <= 128), so one vpmullw per
// tap and 16 channels, widened into int32 sums. `filters` are the int8
// weights widened to int16; `blocks` = MakeChannelBlocksAvx2(rescale,
// bias); without them, or for the last depth % 16 channels, the sums go
// through `requantizer` (acc: depth int32s).
void DepthwisePixelAvx2(const int8_t* const inputs[], const int16_t* const filters[], int taps,
                        int32_t zero_point, const int32_t* bias,
                        const std::vector<ChannelBlockAvx2>& blocks,
                        const RowRequantizer& requantizer, int depth, int32_t* acc,
                        int8_t* out);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DOT_AVX2_H_
