#include "delegates/kernels/fully_connected_avx2.h"

#include <algorithm>
#include <cstring>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace tfq {
namespace kernels {

bool FullyConnectedAvx2Available() { return GetCpuFeatures().avx2; }

PackedFullyConnectedAvx2 PackFullyConnectedAvx2(const int8_t* weights, int output_depth,
                                                int input_depth, const int32_t* offsets) {
  constexpr int kBlock = kFullyConnectedAvx2Block;
  PackedFullyConnectedAvx2 packed;
  packed.input_depth = input_depth;
  packed.output_depth = output_depth;
  packed.pairs = (input_depth + 1) / 2;
  packed.blocks = (output_depth + kBlock - 1) / kBlock;
  packed.weights.assign(static_cast<size_t>(packed.blocks) * packed.pairs * 2 * kBlock, 0);
  packed.offsets.assign(static_cast<size_t>(packed.blocks) * kBlock, 0);
  for (int o = 0; o < output_depth; ++o) {
    const int block = o / kBlock, sub = (o % kBlock) / 8, lane = o % 8;
    for (int i = 0; i < input_depth; ++i) {
      const size_t pair_base = (static_cast<size_t>(block) * packed.pairs + i / 2) * 2 * kBlock;
      packed.weights[pair_base + 16 * sub + 2 * lane + i % 2] =
          weights[static_cast<int64_t>(o) * input_depth + i];
    }
    packed.offsets[o] = offsets[o];
  }
  return packed;
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// C round() of 4 doubles: t = trunc(v), moved one away from zero where
// |v - t| >= 0.5 (v - t is exact: |v| < 2^31 by the op's check).
__attribute__((target("avx2"))) inline __m256d RoundHalfAway(__m256d v) {
  const __m256d sign_bit = _mm256_set1_pd(-0.0), half = _mm256_set1_pd(0.5);
  const __m256d t = _mm256_round_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256d away = _mm256_cmp_pd(_mm256_andnot_pd(sign_bit, _mm256_sub_pd(v, t)), half,
                                     _CMP_GE_OQ);
  const __m256d step = _mm256_or_pd(_mm256_and_pd(v, sign_bit), _mm256_set1_pd(1.0));
  return _mm256_add_pd(t, _mm256_and_pd(away, step));
}

// round((double)sums[j] * multipliers[j]) + zp for 8 channels, as int32
// lanes: the reference's one float64 multiply of an exact int32.
__attribute__((target("avx2"))) inline __m256i RescaleFloat64X8(__m256i sums,
                                                                const double* multipliers,
                                                                __m256i zero_point) {
  const __m256d low = RoundHalfAway(_mm256_mul_pd(
      _mm256_cvtepi32_pd(_mm256_castsi256_si128(sums)), _mm256_loadu_pd(multipliers)));
  const __m256d high = RoundHalfAway(_mm256_mul_pd(
      _mm256_cvtepi32_pd(_mm256_extracti128_si256(sums, 1)), _mm256_loadu_pd(multipliers + 4)));
  const __m256i value = _mm256_set_m128i(_mm256_cvtpd_epi32(high), _mm256_cvtpd_epi32(low));
  return _mm256_add_epi32(value, zero_point);
}

// kRows widened rows x the first kVectors 8-channel vectors of a block of
// 32 channels (fewer for a last block that is mostly padding): per pair of
// inputs, each weight vector is loaded (and widened) once for all rows.
template <int kRows, int kVectors>
__attribute__((target("avx2"))) inline void SumBlock(const int16_t* rows16, int stride,
                                                     const int8_t* weights, int pairs,
                                                     __m256i acc[kRows][4]) {
  for (int r = 0; r < kRows; ++r) {
    for (int s = 0; s < 4; ++s) acc[r][s] = _mm256_setzero_si256();
  }
  for (int p = 0; p < pairs; ++p, weights += 2 * kFullyConnectedAvx2Block) {
    __m256i x[kRows];
    for (int r = 0; r < kRows; ++r) {
      int32_t pair;
      std::memcpy(&pair, rows16 + static_cast<int64_t>(r) * stride + 2 * p, 4);
      x[r] = _mm256_set1_epi32(pair);
    }
    for (int s = 0; s < kVectors; ++s) {
      const __m256i w = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(weights + 16 * s)));
      for (int r = 0; r < kRows; ++r) {
        acc[r][s] = _mm256_add_epi32(acc[r][s], _mm256_madd_epi16(x[r], w));
      }
    }
  }
}

template <int kRows>
__attribute__((target("avx2"))) inline void SumBlockVectors(int vectors, const int16_t* rows16,
                                                            int stride, const int8_t* weights,
                                                            int pairs, __m256i acc[kRows][4]) {
  switch (vectors) {
    case 1: SumBlock<kRows, 1>(rows16, stride, weights, pairs, acc); break;
    case 2: SumBlock<kRows, 2>(rows16, stride, weights, pairs, acc); break;
    case 3: SumBlock<kRows, 3>(rows16, stride, weights, pairs, acc); break;
    default: SumBlock<kRows, 4>(rows16, stride, weights, pairs, acc); break;
  }
}

template <int kRows>
__attribute__((target("avx2"))) void RowsAvx2(const FullyConnectedQuantization& q,
                                              const PackedFullyConnectedAvx2& packed,
                                              const int16_t* rows16, int stride, int8_t* output,
                                              int block_begin, int block_end) {
  constexpr int kBlock = kFullyConnectedAvx2Block;
  const __m256i zero_point = _mm256_set1_epi32(q.output_zero_point);
  const __m256i low = _mm256_set1_epi32(q.output_min), high = _mm256_set1_epi32(q.output_max);
  for (int b = block_begin; b < block_end; ++b) {
    __m256i acc[kRows][4];
    const int vectors = std::min(4, (packed.output_depth - b * kBlock + 7) / 8);
    SumBlockVectors<kRows>(vectors, rows16, stride,
                           packed.weights.data() + static_cast<size_t>(b) * packed.pairs * 2 * kBlock,
                           packed.pairs, acc);
    for (int s = 0; s < 4; ++s) {
      const int channel = b * kBlock + 8 * s;
      if (channel >= packed.output_depth) break;
      const int width = std::min(8, packed.output_depth - channel);
      const __m256i offsets =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed.offsets.data() + channel));
      for (int r = 0; r < kRows; ++r) {
        // Channels past the depth have zero sums; their multipliers are
        // read from a padded copy below, never stored.
        alignas(32) double multipliers[8] = {};
        const double* m = q.multipliers + channel;
        if (width < 8) {
          std::copy(m, m + width, multipliers);
          m = multipliers;
        }
        __m256i value = RescaleFloat64X8(_mm256_add_epi32(acc[r][s], offsets), m, zero_point);
        value = _mm256_min_epi32(_mm256_max_epi32(value, low), high);
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(value),
                                              _mm256_extracti128_si256(value, 1));
        const __m128i bytes = _mm_packs_epi16(words, words);
        int8_t* out = output + static_cast<int64_t>(r) * packed.output_depth + channel;
        if (width == 8) {
          _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
        } else {
          alignas(16) int8_t lanes[16];
          _mm_store_si128(reinterpret_cast<__m128i*>(lanes), bytes);
          std::memcpy(out, lanes, width);
        }
      }
    }
  }
}

// rows[r] widened to int16 at rows16 + r * stride, zero past `n`.
__attribute__((target("avx2"))) void WidenRows(const int8_t* input, int num_rows, int n,
                                               int16_t* rows16, int stride) {
  for (int r = 0; r < num_rows; ++r) {
    const int8_t* row = input + static_cast<int64_t>(r) * n;
    int16_t* wide = rows16 + static_cast<int64_t>(r) * stride;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(wide + i),
                          _mm256_cvtepi8_epi16(
                              _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))));
    }
    for (; i < n; ++i) wide[i] = row[i];
    for (; i < stride; ++i) wide[i] = 0;
  }
}

}  // namespace

void FullyConnectedInt8Avx2(const FullyConnectedShape& shape,
                            const FullyConnectedQuantization& quantization,
                            const int8_t* input, const PackedFullyConnectedAvx2& packed,
                            int16_t* rows16, int8_t* output, int block_begin, int block_end) {
  const int stride = 2 * packed.pairs;
  for (int first = 0; first < shape.batches; first += 2) {
    const int count = std::min(2, shape.batches - first);
    const int8_t* rows = input + static_cast<int64_t>(first) * shape.input_depth;
    int8_t* out = output + static_cast<int64_t>(first) * shape.output_depth;
    WidenRows(rows, count, shape.input_depth, rows16, stride);
    if (count == 2) {
      RowsAvx2<2>(quantization, packed, rows16, stride, out, block_begin, block_end);
    } else {
      RowsAvx2<1>(quantization, packed, rows16, stride, out, block_begin, block_end);
    }
  }
}
#else
void FullyConnectedInt8Avx2(const FullyConnectedShape&, const FullyConnectedQuantization&,
                            const int8_t*, const PackedFullyConnectedAvx2&, int16_t*, int8_t*,
                            int, int) {}
#endif

}  // namespace kernels
}  // namespace tfq
