// The exact int8 epilogue of the AVX2 conv and depthwise kernels, in about
// 2 vector ops per output: TFLite's MultiplyByQuantizedMultiplier (a right
// shift r >= 1) + zero point + clamp, from int32 accumulators that already
// hold their bias.
//
// MBQM(a) = floor((a * S + 2^30 + 2^(r+30) - 2^31 * [a * S < -2^30]) /
// 2^(r+31)) (SRDHM's rounding and RDBPOT's half away from zero merged into
// one), and for a significand S >= 2^30 the condition is [a < 0] (they
// differ only at a = -1, S = 2^30, where the 2^31 does not cross a multiple
// of 2^(r+31) when r >= 1), so it is bit 31 of a itself: one AND, no
// compare. AVX2 has no 64-bit arithmetic shift; adding 2^62 makes every
// numerator positive for any int32 a (|a * S| < 2^62), the logical shift
// then gives the quotient + 2^(62 - r - 31), removed in 32-bit lanes with
// the zero point. The odd channels are shifted 32 bits less, so their
// quotient lands in the high dword and one blend joins both halves.
#ifndef TFQ_DELEGATES_KERNELS_RESCALE_AVX2_H_
#define TFQ_DELEGATES_KERNELS_RESCALE_AVX2_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/requantize.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace tfq {
namespace kernels {

// The constants of 16 output channels: [h] holds channels 8h .. 8h + 7,
// as 64-bit lanes for the even (0, 2, 4, 6) and odd channels of the eight.
struct alignas(32) RescaleBlockAvx2 {
  int64_t significand_even[2][4], significand_odd[2][4];
  int64_t round_even[2][4], round_odd[2][4];  // 2^30 + 2^(r+30) + 2^62
  int64_t shift_even[2][4], shift_odd[2][4];  // r + 31 and r + 31 - 32
  int32_t excess[2][8];                       // 2^(62 - r - 31) - zero point
  // min >= zero point (a fused ReLU / ReLU6): a < 0 gives a result <= 0
  // with or without the -2^31 (without it a tie at -1/2 rounds to 0, not
  // -1) and the clamp takes both to min, so RescaleX8 skips the sign term.
  bool negatives_clamp_to_min;
};

// One block per 16 channels of `requantization` (channels past `depth` give
// 0 and are never stored); empty when a channel is outside the method's
// range (a left shift, r = 0, a zero significand): the caller then uses
// another epilogue.
std::vector<RescaleBlockAvx2> MakeRescaleBlocksAvx2(const ChannelRequantization& requantization,
                                                    int depth);

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) inline __m256i LoadConstantsX4(const void* p) {
  return _mm256_load_si256(static_cast<const __m256i*>(p));
}

// 8 channels' int32 values (bias included) rescaled to int32 + zero point.
__attribute__((target("avx2"))) inline __m256i RescaleX8(const RescaleBlockAvx2& b, int h,
                                                         __m256i acc) {
  const __m256i sign_bit = _mm256_set1_epi64x(int64_t{1} << 31);
  const auto load = LoadConstantsX4;
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(acc, load(b.significand_even[h])),
                                  load(b.round_even[h]));
  const __m256i odd_acc = _mm256_srli_epi64(acc, 32);
  __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(odd_acc, load(b.significand_odd[h])),
                                 load(b.round_odd[h]));
  if (!b.negatives_clamp_to_min) {
    even = _mm256_sub_epi64(even, _mm256_and_si256(acc, sign_bit));
    odd = _mm256_sub_epi64(odd, _mm256_and_si256(odd_acc, sign_bit));
  }
  even = _mm256_srlv_epi64(even, load(b.shift_even[h]));
  odd = _mm256_srlv_epi64(odd, load(b.shift_odd[h]));
  return _mm256_sub_epi32(_mm256_blend_epi32(even, odd, 0xAA), load(b.excess[h]));
}

// 16 channels (acc_low: 0-7, acc_high: 8-15) rescaled, clamped to [low,
// high] (int8 lanes) and returned as 16 bytes in channel order.
__attribute__((target("avx2"))) inline __m128i RescaleX16(const RescaleBlockAvx2& b,
                                                          __m256i acc_low, __m256i acc_high,
                                                          __m128i low, __m128i high) {
  // packs works within 128-bit lanes: words 0-3, 8-11, 4-7, 12-15, put back
  // in order before the second pack.
  const __m256i words = _mm256_permute4x64_epi64(
      _mm256_packs_epi32(RescaleX8(b, 0, acc_low), RescaleX8(b, 1, acc_high)), 0xD8);
  const __m128i bytes =
      _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
  return _mm_min_epi8(_mm_max_epi8(bytes, low), high);
}
#endif

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_RESCALE_AVX2_H_
