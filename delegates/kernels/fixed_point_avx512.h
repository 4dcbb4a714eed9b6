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
struct ChannelBlockX16 {
  __m512i offset, significand, left_shift, right_shift, zero_point, low, high;
  __mmask16 lanes;  // the channels present (the last block may be narrower)
};

// Channels [first, first + width) of `rescale` and `offsets`, width <= 16.
__attribute__((target("avx512f,avx512bw"))) inline ChannelBlockX16 LoadChannelBlockX16(
    const ChannelRequantization& rescale, const int32_t* offsets, int first, int width) {
  const __mmask16 lanes = width >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << width) - 1);
  return {_mm512_maskz_loadu_epi32(lanes, offsets + first),
          _mm512_maskz_loadu_epi32(lanes, rescale.significands + first),
          _mm512_maskz_loadu_epi32(lanes, rescale.left_shifts + first),
          _mm512_maskz_loadu_epi32(lanes, rescale.right_shifts + first),
          _mm512_set1_epi32(rescale.zero_point),
          _mm512_set1_epi32(rescale.min),
          _mm512_set1_epi32(rescale.max),
          lanes};
}

// out[c] = clamp(MBQM(sums[c] + offset[c]) + zero point) for the block's
// channels: RowRequantizer::Run's result for one row of the block.
__attribute__((target("avx512f,avx512bw"))) inline void StoreRescaledX16(
    const ChannelBlockX16& block, __m512i sums, int8_t* out) {
  __m512i value = MultiplyByQuantizedMultiplierX16(_mm512_add_epi32(sums, block.offset),
                                                   block.significand, block.left_shift,
                                                   block.right_shift);
  value = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(value, block.zero_point), block.low),
                           block.high);
  _mm512_mask_cvtepi32_storeu_epi8(out, block.lanes, value);
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FIXED_POINT_AVX512_H_
