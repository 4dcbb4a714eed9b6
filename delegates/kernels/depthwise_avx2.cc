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

// 16 channels from `c`: the tap pairs' sums added to the start values.
template <int kPairs>
__attribute__((target("avx2"))) inline void SumPairsX16(const int8_t* const inputs[],
                                                        const int16_t* weights, int pairs, int c,
                                                        __m256i* low, __m256i* high) {
  const int count = kPairs > 0 ? kPairs : pairs;
  for (int p = 0; p < count; ++p) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(inputs[2 * p] + c));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(inputs[2 * p + 1] + c));
    const __m256i* w = reinterpret_cast<const __m256i*>(weights + static_cast<size_t>(p) * 32);
    *low = _mm256_add_epi32(
        *low, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b)),
                                _mm256_loadu_si256(w)));
    *high = _mm256_add_epi32(
        *high, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(a, b)),
                                 _mm256_loadu_si256(w + 1)));
  }
}

template <int kPairs>
__attribute__((target("avx2"))) void PixelAvx2(const int8_t* const inputs[],
                                               const PackedDepthwiseAvx2& packed,
                                               const RowRequantizer& requantizer, int32_t* acc,
                                               int8_t* out) {
  const ChannelRequantization q = requantizer.channels();
  const __m128i low = _mm_set1_epi8(static_cast<int8_t>(q.min));
  const __m128i high = _mm_set1_epi8(static_cast<int8_t>(q.max));
  const int depth = packed.depth, pairs = packed.pairs;
  const int vector_depth = depth / 16 * 16;
  for (int c = 0; c < vector_depth; c += 16) {
    __m256i sums_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed.start.data() + c));
    __m256i sums_high =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed.start.data() + c + 8));
    SumPairsX16<kPairs>(inputs, packed.weights.data() + static_cast<size_t>(c / 16) * pairs * 32,
                        pairs, c, &sums_low, &sums_high);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c),
                     RescaleX16(packed.rescale[c / 16], sums_low, sums_high, low, high));
  }
  if (vector_depth == depth) return;
  // The rest, one channel at a time, from the same packed weights.
  const int16_t* weights = packed.weights.data() + static_cast<size_t>(vector_depth / 16) * pairs * 32;
  for (int c = vector_depth; c < depth; ++c) {
    int32_t sum = packed.start[c];
    for (int t = 0; t < packed.taps; ++t) {
      sum += inputs[t][c] * weights[(t / 2) * 32 + 2 * (c % 16) + t % 2];
    }
    acc[c] = sum;
  }
  requantizer.Run(acc + vector_depth, vector_depth, depth - vector_depth, out + vector_depth);
}

template <int kPairs>
__attribute__((target("avx2"))) void RowAvx2(const int8_t* inputs[], const int64_t steps[],
                                             int count, const PackedDepthwiseAvx2& packed,
                                             const RowRequantizer& requantizer, int32_t* acc,
                                             int8_t* out) {
  const int slots = 2 * packed.pairs;
  for (int i = 0; i < count; ++i, out += packed.depth) {
    PixelAvx2<kPairs>(inputs, packed, requantizer, acc, out);
    for (int s = 0; s < slots; ++s) inputs[s] += steps[s];
  }
}

}  // namespace

void DepthwiseRowPairsAvx2(const int8_t* inputs[], const int64_t steps[], int count,
                           const PackedDepthwiseAvx2& packed, const RowRequantizer& requantizer,
                           int32_t* acc, int8_t* out) {
  switch (packed.pairs) {
    case 5: RowAvx2<5>(inputs, steps, count, packed, requantizer, acc, out); break;
    case 13: RowAvx2<13>(inputs, steps, count, packed, requantizer, acc, out); break;
    default: RowAvx2<0>(inputs, steps, count, packed, requantizer, acc, out); break;
  }
}

void DepthwisePixelPairsAvx2(const int8_t* const inputs[], const PackedDepthwiseAvx2& packed,
                             const RowRequantizer& requantizer, int32_t* acc, int8_t* out) {
  switch (packed.pairs) {  // 3x3 and 5x5 windows with their loops unrolled
    case 5: PixelAvx2<5>(inputs, packed, requantizer, acc, out); break;
    case 13: PixelAvx2<13>(inputs, packed, requantizer, acc, out); break;
    default: PixelAvx2<0>(inputs, packed, requantizer, acc, out); break;
  }
}
#else
void DepthwiseRowPairsAvx2(const int8_t*[], const int64_t[], int, const PackedDepthwiseAvx2&,
                           const RowRequantizer&, int32_t*, int8_t*) {}
void DepthwisePixelPairsAvx2(const int8_t* const[], const PackedDepthwiseAvx2&,
                             const RowRequantizer&, int32_t*, int8_t*) {}
#endif

}  // namespace kernels
}  // namespace tfq
