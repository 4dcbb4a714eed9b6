#include "delegates/kernels/dot.h"

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "delegates/kernels/target_clones.h"

namespace tfq {
namespace kernels {

TFQ_CLONES int32_t DotInt8(const int8_t* a, const int8_t* b, int n) {
  int32_t acc = 0;
  for (int i = 0; i < n; ++i) {
    acc += static_cast<int16_t>(a[i]) * static_cast<int16_t>(b[i]);
  }
  return acc;
}

namespace {

void DotInt8x4Portable(const int8_t* row, const int8_t* const filters[4], int n,
                       int32_t out[4]) {
  for (int k = 0; k < 4; ++k) out[k] = DotInt8(row, filters[k], n);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) int32_t HorizontalSum(__m256i v) {
  const __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i pairs = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(pairs, _mm_shuffle_epi32(pairs, 0xB1)));
}

// 16 int8 -> int16 lanes, then vpmaddwd: exact int32 pair sums.
__attribute__((target("avx2"))) void DotInt8x4Avx2(const int8_t* row,
                                                   const int8_t* const filters[4], int n,
                                                   int32_t out[4]) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i x = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i)));
    for (int k = 0; k < 4; ++k) {
      const __m256i w = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(filters[k] + i)));
      acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(x, w));
    }
  }
  for (int k = 0; k < 4; ++k) {
    int32_t sum = HorizontalSum(acc[k]);
    for (int j = i; j < n; ++j) sum += static_cast<int16_t>(row[j]) * filters[k][j];
    out[k] = sum;
  }
}

#endif

using DotInt8x4Fn = void (*)(const int8_t*, const int8_t* const[4], int, int32_t[4]);

DotInt8x4Fn ChooseDotInt8x4() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return &DotInt8x4Avx2;
#endif
  return &DotInt8x4Portable;
}

}  // namespace

void DotInt8x4(const int8_t* row, const int8_t* const filters[4], int n, int32_t out[4]) {
  static const DotInt8x4Fn chosen = ChooseDotInt8x4();  // once per process, thread-safe
  chosen(row, filters, n, out);
}

bool PackedDotAvailable() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

std::vector<int8_t> PackFilters(const int8_t* filters, int output_depth, int n) {
  const int groups = (output_depth + 15) / 16, quads = (n + 3) / 4;
  std::vector<int8_t> packed(static_cast<size_t>(groups) * quads * 64, 0);
  for (int c = 0; c < output_depth; ++c) {
    for (int i = 0; i < n; ++i) {
      packed[((static_cast<size_t>(c / 16) * quads + i / 4) * 16 + c % 16) * 4 + i % 4] =
          filters[static_cast<int64_t>(c) * n + i];
    }
  }
  return packed;
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// 4 input bytes from row + 4 * quad, sign-flipped to unsigned, zero bytes
// past n (their packed weights are 0, but the row may end there).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline __m512i Broadcast4(
    const int8_t* row, int quad, int n) {
  uint32_t bytes = 0;
  const int start = 4 * quad;
  if (n - start >= 4) {
    std::memcpy(&bytes, row + start, 4);  // a plain 32-bit load
  } else {
    for (int i = start; i < n; ++i) {
      bytes |= static_cast<uint32_t>(static_cast<uint8_t>(row[i])) << (8 * (i - start));
    }
  }
  return _mm512_set1_epi32(static_cast<int32_t>(bytes ^ 0x80808080u));
}

}  // namespace

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void PackedDot4Rows(
    const int8_t* const rows[4], const std::vector<int8_t>& packed, const int32_t* filter_sums,
    int output_depth, int n, int32_t* out, int out_stride) {
  const int groups = (output_depth + 15) / 16, quads = (n + 3) / 4;
  for (int g = 0; g < groups; ++g) {
    const int8_t* weights = packed.data() + static_cast<size_t>(g) * quads * 64;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int q = 0; q < quads; ++q) {
      const __m512i w = _mm512_loadu_si512(weights + static_cast<size_t>(q) * 64);
      acc0 = _mm512_dpbusd_epi32(acc0, Broadcast4(rows[0], q, n), w);
      acc1 = _mm512_dpbusd_epi32(acc1, Broadcast4(rows[1], q, n), w);
      acc2 = _mm512_dpbusd_epi32(acc2, Broadcast4(rows[2], q, n), w);
      acc3 = _mm512_dpbusd_epi32(acc3, Broadcast4(rows[3], q, n), w);
    }
    // Take back the 128 * sum(filter) the sign flip added; store the valid lanes.
    const int first = 16 * g;
    const __mmask16 lanes = output_depth - first >= 16
                                ? __mmask16(0xFFFF)
                                : __mmask16((1u << (output_depth - first)) - 1);
    const __m512i correction = _mm512_slli_epi32(
        _mm512_maskz_loadu_epi32(lanes, filter_sums + first), 7);
    __m512i results[4] = {acc0, acc1, acc2, acc3};
    for (int r = 0; r < 4; ++r) {
      _mm512_mask_storeu_epi32(out + static_cast<int64_t>(r) * out_stride + first, lanes,
                               _mm512_sub_epi32(results[r], correction));
    }
  }
}
#else
void PackedDot4Rows(const int8_t* const[4], const std::vector<int8_t>&, const int32_t*, int,
                    int, int32_t*, int) {}
#endif

void FilterSums(const int8_t* filters, int count, int filter_size, int32_t* sums) {
  for (int c = 0; c < count; ++c) {
    sums[c] = SumInt8(filters + static_cast<int64_t>(c) * filter_size, filter_size);
  }
}

TFQ_CLONES int32_t SumInt8(const int8_t* a, int n) {
  int32_t acc = 0;
  for (int i = 0; i < n; ++i) acc += a[i];
  return acc;
}

TFQ_CLONES void MultiplyAccumulateInt8(const int8_t* input, int32_t zero_point,
                                       const int8_t* filter, int n, int32_t* acc) {
  for (int c = 0; c < n; ++c) {
    acc[c] += (static_cast<int32_t>(input[c]) - zero_point) * filter[c];
  }
}

}  // namespace kernels
}  // namespace tfq
