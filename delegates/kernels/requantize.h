// The per-channel fixed-point rescale of a row of int32 accumulators to
// int8 (TFLite's MultiplyByQuantizedMultiplier + zero point + clamp), the
// last step of conv and depthwise conv. AVX-512 when the CPU has it
// (fixed_point_avx512.h).
#ifndef TFQ_DELEGATES_KERNELS_REQUANTIZE_H_
#define TFQ_DELEGATES_KERNELS_REQUANTIZE_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

// The per-channel arrays a requantizer holds, for kernels that rescale in
// their own epilogue (dot.h's PackedDotRowsToInt8).
struct ChannelRequantization {
  const int32_t* significands;
  const int32_t* left_shifts;
  const int32_t* right_shifts;
  int32_t zero_point, min, max;
};

// fixed_point_avx512.h's ChannelBlockX16 for one block of 16 output
// channels (offsets folded in), held in memory: the packed kernels'
// epilogues load these, computed once at prepare, instead of deriving them
// from the per-channel arrays in every register tile.
struct alignas(64) ChannelBlockConstants {
  // single_rounding's per-64-bit-lane constants (even and odd channels).
  int64_t significand_even[8], significand_odd[8], round_even[8], round_odd[8],
      negative_below_even[8], negative_below_odd[8], sign_fix_even[8], sign_fix_odd[8],
      shift_even[8], shift_odd[8];
  // MBQM's two-step operands, and the offsets, for the other blocks.
  int32_t offset[16], significand[16], left_shift[16], right_shift[16];
  int32_t zero_point, min, max;
  uint16_t lanes;
  bool single_rounding, clamp_high;
  bool negatives_clamp_to_min;  // min >= zero point: see ChannelBlockX16
};

// One ChannelBlockConstants per 16 channels of `requantization` and
// `offsets` (null: none), for the CPU's AVX-512 epilogues; empty where the
// CPU has no AVX-512 (or off x86).
std::vector<ChannelBlockConstants> MakeChannelBlocks(const ChannelRequantization& requantization,
                                                     const int32_t* offsets, int output_depth);

class RowRequantizer {
 public:
  RowRequantizer() = default;
  RowRequantizer(const std::vector<QuantizedMultiplier>& multipliers, int32_t output_zero_point,
                 int32_t output_min, int32_t output_max);
  // out[c] = clamp(MBQM(acc[c], multiplier[first + c]) + zp) for c < n.
  void Run(const int32_t* acc, int first, int n, int8_t* out) const;
  ChannelRequantization channels() const {
    return {significands_.data(), left_shifts_.data(), right_shifts_.data(), output_zero_point_,
            output_min_, output_max_};
  }

 private:
  std::vector<int32_t> significands_, left_shifts_, right_shifts_;
  int32_t output_zero_point_ = 0, output_min_ = -128, output_max_ = 127;
};

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_REQUANTIZE_H_
