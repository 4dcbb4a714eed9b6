// The int8 depthwise kernel for CPUs with AVX2 but no AVX-512 (depth
// multiplier 1). The zero point is folded out: sum_t (x_t - zp) * w_t =
// sum_t x_t * w_t - zp * sum_t w_t, the second term a per-channel constant
// in the accumulators' start, and a tap outside the input reads a row of
// zero points (which then contributes zp * w_t, cancelling its share of the
// constant), so border and interior pixels run the same code. Taps go in
// pairs: the bytes of two taps interleaved and widened, vpmaddwd sums both
// products of 8 channels in one instruction (|x * w| <= 2^14: exact); the
// epilogue is rescale_avx2.h's.
#ifndef TFQ_DELEGATES_KERNELS_DEPTHWISE_AVX2_H_
#define TFQ_DELEGATES_KERNELS_DEPTHWISE_AVX2_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "delegates/kernels/requantize.h"
#include "delegates/kernels/rescale_avx2.h"

namespace tfq {
namespace kernels {

// A depthwise filter packed once: per 16 channels and per pair of taps, 32
// int16 weights (channels 0-7 then 8-15, each as [w_2p, w_2p+1]), zero for
// the missing tap of an odd count and for channels past the depth.
struct PackedDepthwiseAvx2 {
  int taps = 0, pairs = 0, depth = 0;
  std::vector<int16_t> weights;
  std::vector<int32_t> start;  // bias - zp * sum_t w_t, per channel (padded to 16)
  std::vector<RescaleBlockAvx2> rescale;
  // What a tap outside the input reads: a row of zero points, long enough
  // for the row kernel (FitZeroPointRow).
  std::vector<int8_t> zero_point_row;
  bool empty() const { return rescale.empty(); }
  // Bytes of each tap's row that DepthwiseRowPairsAvx2 reads for `count`
  // pixels `step` bytes apart.
  int64_t RowBytes(int count, int64_t step) const {
    return (count - 1) * step + (depth + 15) / 16 * 16;
  }
  // Lengthens zero_point_row (with its zero point) to at least `bytes`.
  void FitZeroPointRow(int64_t bytes) {
    if (static_cast<int64_t>(zero_point_row.size()) < bytes) {
      zero_point_row.resize(static_cast<size_t>(bytes), zero_point_row.front());
    }
  }
};

// Empty (use another kernel) when the CPU lacks AVX2 or the rescale is
// outside rescale_avx2.h's range. `filter`: [taps][depth] int8.
PackedDepthwiseAvx2 PackDepthwiseAvx2(const int8_t* filter, int taps, int depth,
                                      const int32_t* bias, int32_t input_zero_point,
                                      const ChannelRequantization& requantization);

// One output pixel: `inputs` holds 2 * packed.pairs pointers to the taps'
// channel rows (packed.zero_point_row where a tap lies outside the input;
// any valid row for the missing tap of an odd count). Of the last depth %
// 16 channels, 8 run in vectors when there are as many, the rest through
// `requantizer` (acc: depth int32s).
void DepthwisePixelPairsAvx2(const int8_t* const inputs[], const PackedDepthwiseAvx2& packed,
                             const RowRequantizer& requantizer, int32_t* acc, int8_t* out);
// `count` pixels of an output row, each tap's row read `step` bytes further
// on from one pixel to the next (a tap outside the input reads
// zero_point_row, which must hold RowBytes(count, step)), `out` advancing by
// the depth: one block of 16 channels at a time along the row.
void DepthwiseRowPairsAvx2(const int8_t* const inputs[], int64_t step, int count,
                           const PackedDepthwiseAvx2& packed, const RowRequantizer& requantizer,
                           int32_t* acc, int8_t* out);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DEPTHWISE_AVX2_H_
