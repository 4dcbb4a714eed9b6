// fixed_point.h's MultiplyByQuantizedMultiplier on 16 int32 lanes (AVX-512),
// bit for bit: the doubling high multiply is (a * b + 2^30) >> 31 in int64
// (gemmlowp's nudge and truncating division give exactly that floor), the
// rounding shift is per lane. Include only from code built for x86-64 with
// GCC; callers carry the same target attribute.
#ifndef TFQ_DELEGATES_KERNELS_FIXED_POINT_AVX512_H_
#define TFQ_DELEGATES_KERNELS_FIXED_POINT_AVX512_H_

#include <immintrin.h>

#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

// x * significand * 2^(left_shift - right_shift - 31) per lane, one of the
// two shifts 0 (as QuantizedMultiplier splits its shift).
__attribute__((target("avx512f,avx512bw"))) inline __m512i MultiplyByQuantizedMultiplierX16(
    __m512i x, __m512i significand, __m512i left_shift, __m512i right_shift) {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i nudge = _mm512_set1_epi64(int64_t{1} << 30);
  x = _mm512_sllv_epi32(x, left_shift);
  // Doubling high multiply, even and odd lanes as int64.
  const __m512i even =
      _mm512_srai_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, significand), nudge), 31);
  const __m512i odd = _mm512_srai_epi64(
      _mm512_add_epi64(
          _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(significand, 32)), nudge),
      31);
  const __m512i high_mul =
      _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, _mm512_slli_epi64(odd, 32));
  // Rounding divide by 2^right, half away from zero.
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right_shift), one);
  const __m512i remainder = _mm512_and_si512(high_mul, mask);
  const __m512i threshold =
      _mm512_add_epi32(_mm512_srai_epi32(mask, 1), _mm512_srli_epi32(high_mul, 31));
  const __m512i value = _mm512_srav_epi32(high_mul, right_shift);
  return _mm512_mask_add_epi32(value, _mm512_cmpgt_epi32_mask(remainder, threshold), value, one);
}

// One block of 16 output channels' offsets and requantization held in
// registers, loaded once and applied to many rows of sums (the epilogue of
// the dot-product kernels).
//
// When no channel of the block shifts left (multipliers below 1, as a
// conv's are), MBQM's two roundings fold into one per 64-bit lane: with
// p = x * significand, the Q31 product h = floor((p + 2^30) / 2^31), and the
// rounding division by 2^r (r >= 1) is floor((h + 2^(r-1) - [h < 0]) / 2^r),
// so the result is floor((p + 2^30 + 2^(r+30) - 2^31 [p < -2^30]) / 2^(r+31))
// (the nested floors of integer divisions are one floor), and h itself for
// r = 0. The offset o and the zero point go into the same constants:
// (x + o) * s = x * s + o * s, and adding zp after the division is adding
// zp * 2^(r+31) before it. Every term stays below 2^63 when x + o fits int32
// (as the kernels' accumulators do), r <= 23 and |zp| <= 256; other blocks
// take MBQM's two steps. Even and odd channels go in separate 64-bit lanes.
struct ChannelBlockX16 {
  __m512i offset, zero_point, low, high;
  __mmask16 lanes;  // the channels present (the last block may be narrower)
  bool single_rounding;
  bool clamp_high;  // max < 127: the int8 conversion's saturation is not the clamp
  // min >= zero point (a fused ReLU / ReLU6): every h < 0 gives a result
  // <= 0 with or without the -2^31 (round half up instead of away from zero
  // moves only a tie at -1/2, from -1 to 0), and both clamp to min, so the
  // single rounding skips its sign fix (a compare and a masked subtract per
  // 8 lanes).
  bool negatives_clamp_to_min;
  // single_rounding: per 64-bit lane, channels 0, 2, .., 14 (even) and 1, 3, .., 15 (odd):
  // the significand, 2^30 (+ 2^(r+30)) + o * s + zp * 2^(r+31), the threshold
  // -2^30 - o * s below which x * s makes h negative, 2^31 (r >= 1) and r + 31.
  __m512i significand_even, significand_odd, round_even, round_odd, negative_below_even,
      negative_below_odd, sign_fix_even, sign_fix_odd, shift_even, shift_odd;
  // otherwise: MultiplyByQuantizedMultiplierX16's operands.
  __m512i significand, left_shift, right_shift;
};

// Channels [first, first + width) of `rescale` and `offsets` (null: none),
// width <= 16 (<= 0: an empty block).
__attribute__((target("avx512f,avx512bw"))) inline ChannelBlockX16 LoadChannelBlockX16(
    const ChannelRequantization& rescale, const int32_t* offsets, int first, int width) {
  ChannelBlockX16 block;
  block.lanes = width >= 16 ? __mmask16(0xFFFF)
                : width <= 0 ? __mmask16(0)
                             : __mmask16((1u << width) - 1);
  block.offset = offsets != nullptr ? _mm512_maskz_loadu_epi32(block.lanes, offsets + first)
                                    : _mm512_setzero_si512();
  block.zero_point = _mm512_set1_epi32(rescale.zero_point);
  block.low = _mm512_set1_epi32(rescale.min);
  block.high = _mm512_set1_epi32(rescale.max);
  block.clamp_high = rescale.max < 127;
  block.negatives_clamp_to_min = rescale.min >= rescale.zero_point;
  block.significand = _mm512_maskz_loadu_epi32(block.lanes, rescale.significands + first);
  block.left_shift = _mm512_maskz_loadu_epi32(block.lanes, rescale.left_shifts + first);
  block.right_shift = _mm512_maskz_loadu_epi32(block.lanes, rescale.right_shifts + first);
  block.single_rounding =
      _mm512_cmpgt_epi32_mask(block.left_shift, _mm512_setzero_si512()) == 0 &&
      _mm512_cmpgt_epi32_mask(block.right_shift, _mm512_set1_epi32(23)) == 0 &&
      rescale.zero_point >= -256 && rescale.zero_point <= 256;
  if (block.single_rounding) {
    const __m512i low_dword = _mm512_set1_epi64(0xFFFFFFFF);
    const __m512i r[2] = {_mm512_and_si512(block.right_shift, low_dword),
                          _mm512_srli_epi64(block.right_shift, 32)};
    const __m512i significand[2] = {block.significand, _mm512_srli_epi64(block.significand, 32)};
    const __m512i offset[2] = {block.offset, _mm512_srli_epi64(block.offset, 32)};
    const __m512i zero_point = _mm512_set1_epi64(rescale.zero_point);
    __m512i round[2], below[2], fix[2], shift[2];
    for (int k = 0; k < 2; ++k) {
      const __mmask8 divides = _mm512_cmpgt_epi64_mask(r[k], _mm512_setzero_si512());
      const __m512i offset_product = _mm512_mul_epi32(offset[k], significand[k]);
      shift[k] = _mm512_add_epi64(r[k], _mm512_set1_epi64(31));
      round[k] = _mm512_add_epi64(
          _mm512_add_epi64(_mm512_set1_epi64(int64_t{1} << 30), offset_product),
          _mm512_add_epi64(
              _mm512_maskz_mov_epi64(divides,
                                     _mm512_sllv_epi64(_mm512_set1_epi64(1),
                                                       _mm512_add_epi64(r[k], _mm512_set1_epi64(30)))),
              _mm512_sllv_epi64(zero_point, shift[k])));
      below[k] = _mm512_sub_epi64(_mm512_set1_epi64(-(int64_t{1} << 30)), offset_product);
      fix[k] = _mm512_maskz_mov_epi64(divides, _mm512_set1_epi64(int64_t{1} << 31));
    }
    block.significand_even = significand[0], block.significand_odd = significand[1];
    block.round_even = round[0], block.round_odd = round[1];
    block.negative_below_even = below[0], block.negative_below_odd = below[1];
    block.sign_fix_even = fix[0], block.sign_fix_odd = fix[1];
    block.shift_even = shift[0], block.shift_odd = shift[1];
  }
  return block;
}

// The same block from constants MakeChannelBlocks computed (aligned loads).
__attribute__((target("avx512f,avx512bw"))) inline ChannelBlockX16 LoadChannelBlockX16(
    const ChannelBlockConstants& c) {
  ChannelBlockX16 block;
  block.lanes = c.lanes;
  block.single_rounding = c.single_rounding;
  block.clamp_high = c.clamp_high;
  block.negatives_clamp_to_min = c.negatives_clamp_to_min;
  block.zero_point = _mm512_set1_epi32(c.zero_point);
  block.low = _mm512_set1_epi32(c.min);
  block.high = _mm512_set1_epi32(c.max);
  block.offset = _mm512_load_si512(c.offset);
  if (c.single_rounding) {
    block.significand_even = _mm512_load_si512(c.significand_even), block.significand_odd = _mm512_load_si512(c.significand_odd);
    block.round_even = _mm512_load_si512(c.round_even), block.round_odd = _mm512_load_si512(c.round_odd);
    block.negative_below_even = _mm512_load_si512(c.negative_below_even);
    block.negative_below_odd = _mm512_load_si512(c.negative_below_odd);
    block.sign_fix_even = _mm512_load_si512(c.sign_fix_even), block.sign_fix_odd = _mm512_load_si512(c.sign_fix_odd);
    block.shift_even = _mm512_load_si512(c.shift_even), block.shift_odd = _mm512_load_si512(c.shift_odd);
  } else {
    block.significand = _mm512_load_si512(c.significand);
    block.left_shift = _mm512_load_si512(c.left_shift);
    block.right_shift = _mm512_load_si512(c.right_shift);
  }
  return block;
}

// Stores what LoadChannelBlockX16(constants) reads back.
__attribute__((target("avx512f,avx512bw"))) inline void StoreChannelBlockX16(
    const ChannelBlockX16& block, int32_t zero_point, int32_t min, int32_t max,
    ChannelBlockConstants* c) {
  *c = ChannelBlockConstants{};
  c->lanes = block.lanes;
  c->single_rounding = block.single_rounding;
  c->clamp_high = block.clamp_high;
  c->negatives_clamp_to_min = block.negatives_clamp_to_min;
  c->zero_point = zero_point, c->min = min, c->max = max;
  _mm512_store_si512(c->offset, block.offset);
  _mm512_store_si512(c->significand, block.significand);
  _mm512_store_si512(c->left_shift, block.left_shift);
  _mm512_store_si512(c->right_shift, block.right_shift);
  if (block.single_rounding) {
    _mm512_store_si512(c->significand_even, block.significand_even);
    _mm512_store_si512(c->significand_odd, block.significand_odd);
    _mm512_store_si512(c->round_even, block.round_even), _mm512_store_si512(c->round_odd, block.round_odd);
    _mm512_store_si512(c->negative_below_even, block.negative_below_even);
    _mm512_store_si512(c->negative_below_odd, block.negative_below_odd);
    _mm512_store_si512(c->sign_fix_even, block.sign_fix_even), _mm512_store_si512(c->sign_fix_odd, block.sign_fix_odd);
    _mm512_store_si512(c->shift_even, block.shift_even), _mm512_store_si512(c->shift_odd, block.shift_odd);
  }
}

// One 64-bit lane set of the single rounding: x's low dwords times the
// significands, rounded, divided and the zero point added (result in the
// low dwords). Without `fix_negative` a negative h rounds half up (only
// for blocks whose clamp takes every such result to min).
__attribute__((target("avx512f,avx512bw"))) inline __m512i SingleRoundingX8(
    __m512i x, __m512i significand, __m512i round, __m512i negative_below, __m512i sign_fix,
    __m512i shift, bool fix_negative) {
  const __m512i product = _mm512_mul_epi32(x, significand);
  const __m512i sum = _mm512_add_epi64(product, round);
  if (!fix_negative) return _mm512_srav_epi64(sum, shift);
  const __mmask8 negative = _mm512_cmplt_epi64_mask(product, negative_below);
  return _mm512_srav_epi64(_mm512_mask_sub_epi64(sum, negative, sum, sign_fix), shift);
}

// One parity's single-rounding constants (see ChannelBlockX16).
struct SingleRoundingLanesX8 {
  __m512i significand, round, negative_below, sign_fix, shift;
};

// The single rounding of 16 channels' sums: even dwords with the even
// channels' constants, odd dwords with the odd ones'.
__attribute__((target("avx512f,avx512bw"))) inline __m512i SingleRoundedX16(
    __m512i sums, const SingleRoundingLanesX8& even_lanes, const SingleRoundingLanesX8& odd_lanes,
    bool fix_negative) {
  const __m512i even =
      SingleRoundingX8(sums, even_lanes.significand, even_lanes.round, even_lanes.negative_below,
                       even_lanes.sign_fix, even_lanes.shift, fix_negative);
  const __m512i odd =
      SingleRoundingX8(_mm512_srli_epi64(sums, 32), odd_lanes.significand, odd_lanes.round,
                       odd_lanes.negative_below, odd_lanes.sign_fix, odd_lanes.shift, fix_negative);
  // Even dwords from `even`'s low dwords, odd dwords from `odd`'s (an
  // in-lane swap of dword pairs, cheaper than a two-source permute).
  return _mm512_mask_shuffle_epi32(even, __mmask16(0xAAAA), odd, _MM_PERM_CDAB);
}

// MBQM(sums[c] + offset[c]) + zero point for the block's channels, not yet
// clamped.
__attribute__((target("avx512f,avx512bw"))) inline __m512i RescaledX16(
    const ChannelBlockX16& block, __m512i sums) {
  if (block.single_rounding) {
    return SingleRoundedX16(
        sums,
        {block.significand_even, block.round_even, block.negative_below_even, block.sign_fix_even,
         block.shift_even},
        {block.significand_odd, block.round_odd, block.negative_below_odd, block.sign_fix_odd,
         block.shift_odd},
        !block.negatives_clamp_to_min);
  }
  return _mm512_add_epi32(
      MultiplyByQuantizedMultiplierX16(_mm512_add_epi32(sums, block.offset), block.significand,
                                       block.left_shift, block.right_shift),
      block.zero_point);
}

// out[c] = clamp(MBQM(sums[c] + offset[c]) + zero point) for the block's
// channels: RowRequantizer::Run's result for one row of the block.
__attribute__((target("avx512f,avx512bw"))) inline void StoreRescaledX16(
    const ChannelBlockX16& block, __m512i sums, int8_t* out) {
  __m512i value = RescaledX16(block, sums);
  // The conversion saturates at 127: the upper clamp only below it.
  value = _mm512_max_epi32(value, block.low);
  if (block.clamp_high) value = _mm512_min_epi32(value, block.high);
  _mm512_mask_cvtsepi32_storeu_epi8(out, block.lanes, value);
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FIXED_POINT_AVX512_H_
