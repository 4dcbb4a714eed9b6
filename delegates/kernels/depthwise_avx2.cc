#include "delegates/kernels/depthwise_avx2.h"

#include "delegates/cpu_features.h"
#include "delegates/kernels/conv.h"

namespace tfq {
namespace kernels {

PackedDepthwiseAvx2 PackDepthwiseAvx2(const int8_t* filter, int taps, int depth,
                                      const int32_t* bias, int32_t zero_point,
                                      const ChannelRequantization& q) {
  PackedDepthwiseAvx2 packed;
  if (!GetCpuFeatures().avx2) return packed;
  packed.rescale = MakeRescaleBlocksAvx2(q, depth);
  if (packed.rescale.empty()) return packed;
  const int blocks = (depth + 15) / 16;
  packed.taps = taps;
  packed.pairs = (taps + 1) / 2;
  packed.depth = depth;
  packed.weights.assign(static_cast<size_t>(blocks) * packed.pairs * 32, 0);
  packed.start.assign(static_cast<size_t>(blocks) * 16, 0);
  const std::vector<int32_t> offsets = DepthwiseOffsets(filter, taps, depth, zero_point, bias);
  for (int c = 0; c < depth; ++c) {
    for (int t = 0; t < taps; ++t) {
      const int block = c / 16, lane = c % 16, pair = t / 2;
      packed.weights[(static_cast<size_t>(block) * packed.pairs + pair) * 32 + 2 * lane + t % 2] =
          filter[static_cast<int64_t>(t) * depth + c];
    }
    packed.start[c] = offsets[c];
  }
  packed.zero_point_row.assign(static_cast<size_t>(blocks) * 16, static_cast<int8_t>(zero_point));
  return packed;
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// 16 channels at byte `at` of every tap's row: the tap pairs' sums added to
// `low` (channels 0-7) and `high` (8-15).
template <int kPairs>
__attribute__((target("avx2"))) inline void SumPairsX16(const int8_t* const inputs[],
                                                        const int16_t* weights, int pairs,
                                                        int64_t at, __m256i* low, __m256i* high) {
  const int count = kPairs > 0 ? kPairs : pairs;
  for (int p = 0; p < count; ++p) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(inputs[2 * p] + at));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(inputs[2 * p + 1] + at));
    const __m256i* w = reinterpret_cast<const __m256i*>(weights + static_cast<size_t>(p) * 32);
    *low = _mm256_add_epi32(
        *low, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b)),
                                _mm256_loadu_si256(w)));
    *high = _mm256_add_epi32(
        *high, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(a, b)),
                                 _mm256_loadu_si256(w + 1)));
  }
}

// 8 channels at byte `at` (channels 0-7 of their block: `weights` is the
// block's), 8-byte loads so the last pixel reads nothing past the depth.
template <int kPairs>
__attribute__((target("avx2"))) inline void SumPairsX8(const int8_t* const inputs[],
                                                       const int16_t* weights, int pairs,
                                                       int64_t at, __m256i* sums) {
  const int count = kPairs > 0 ? kPairs : pairs;
  for (int p = 0; p < count; ++p) {
    const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(inputs[2 * p] + at));
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(inputs[2 * p + 1] + at));
    *sums = _mm256_add_epi32(
        *sums, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                     weights + static_cast<size_t>(p) * 32))));
  }
}

// Channels [16 * (depth / 16), depth) of one pixel whose taps lie at byte
// `offset` of their rows: 8 in vectors when there are as many (a depth of
// 24, 40, ...), the rest one at a time through `requantizer`.
template <int kPairs>
__attribute__((target("avx2"))) void PixelTailAvx2(const int8_t* const inputs[], int64_t offset,
                                                   const PackedDepthwiseAvx2& packed,
                                                   const RowRequantizer& requantizer,
                                                   __m128i low, __m128i high, int32_t* acc,
                                                   int8_t* out) {
  const int depth = packed.depth, pairs = packed.pairs, vector_depth = depth / 16 * 16;
  const int16_t* weights = packed.weights.data() + static_cast<size_t>(vector_depth / 16) * pairs * 32;
  int rest = vector_depth;
  if (depth - rest >= 8) {
    __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed.start.data() + rest));
    SumPairsX8<kPairs>(inputs, weights, pairs, offset + rest, &sums);
    const __m256i value = RescaleX8(packed.rescale[rest / 16], 0, sums);
    const __m128i words =
        _mm_packs_epi32(_mm256_castsi256_si128(value), _mm256_extracti128_si256(value, 1));
    const __m128i bytes = _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(words, words), low), high);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + rest), bytes);
    rest += 8;
    if (rest == depth) return;
  }
  for (int c = rest; c < depth; ++c) {  // from the same packed weights
    int32_t sum = packed.start[c];
    for (int t = 0; t < packed.taps; ++t) {
      sum += inputs[t][offset + c] * weights[(t / 2) * 32 + 2 * (c % 16) + t % 2];
    }
    acc[c] = sum;
  }
  requantizer.Run(acc + rest, rest, depth - rest, out + rest);
}

// `count` pixels `step` bytes apart in every tap's row, one block of 16
// channels at a time along the row (its weights and constants stay in L1
// and the tap pointers in place), then the tail channels pixel by pixel.
template <int kPairs>
__attribute__((target("avx2"))) void RowAvx2(const int8_t* const inputs[], int64_t step,
                                             int count, const PackedDepthwiseAvx2& packed,
                                             const RowRequantizer& requantizer, int32_t* acc,
                                             int8_t* out) {
  const ChannelRequantization q = requantizer.channels();
  const __m128i low = _mm_set1_epi8(static_cast<int8_t>(q.min));
  const __m128i high = _mm_set1_epi8(static_cast<int8_t>(q.max));
  const int depth = packed.depth, pairs = packed.pairs, vector_depth = depth / 16 * 16;
  for (int c = 0; c < vector_depth; c += 16) {
    const int16_t* weights = packed.weights.data() + static_cast<size_t>(c / 16) * pairs * 32;
    const __m256i start_low =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed.start.data() + c));
    const __m256i start_high =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed.start.data() + c + 8));
    const RescaleBlockAvx2& block = packed.rescale[c / 16];
    int8_t* pixel_out = out + c;
    int64_t at = c;
    for (int i = 0; i < count; ++i, at += step, pixel_out += depth) {
      __m256i sums_low = start_low, sums_high = start_high;
      SumPairsX16<kPairs>(inputs, weights, pairs, at, &sums_low, &sums_high);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(pixel_out),
                       RescaleX16(block, sums_low, sums_high, low, high));
    }
  }
  if (vector_depth == depth) return;
  for (int i = 0; i < count; ++i) {
    PixelTailAvx2<kPairs>(inputs, i * step, packed, requantizer, low, high, acc,
                          out + static_cast<int64_t>(i) * depth);
  }
}

}  // namespace

void DepthwiseRowPairsAvx2(const int8_t* const inputs[], int64_t step, int count,
                           const PackedDepthwiseAvx2& packed, const RowRequantizer& requantizer,
                           int32_t* acc, int8_t* out) {
  switch (packed.pairs) {  // 3x3 and 5x5 windows with their loops unrolled
    case 5: RowAvx2<5>(inputs, step, count, packed, requantizer, acc, out); break;
    case 13: RowAvx2<13>(inputs, step, count, packed, requantizer, acc, out); break;
    default: RowAvx2<0>(inputs, step, count, packed, requantizer, acc, out); break;
  }
}

void DepthwisePixelPairsAvx2(const int8_t* const inputs[], const PackedDepthwiseAvx2& packed,
                             const RowRequantizer& requantizer, int32_t* acc, int8_t* out) {
  DepthwiseRowPairsAvx2(inputs, 0, 1, packed, requantizer, acc, out);
}
#else
void DepthwiseRowPairsAvx2(const int8_t* const[], int64_t, int, const PackedDepthwiseAvx2&,
                           const RowRequantizer&, int32_t*, int8_t*) {}
void DepthwisePixelPairsAvx2(const int8_t* const[], const PackedDepthwiseAvx2&,
                             const RowRequantizer&, int32_t*, int8_t*) {}
#endif

}  // namespace kernels
}  // namespace tfq
