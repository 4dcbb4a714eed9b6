#include "delegates/kernels/dot_int16.h"

#include <algorithm>
#include <cstring>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "delegates/kernels/target_clones.h"

namespace tfq {
namespace kernels {

namespace {

constexpr int kLanes = 16;  // output channels per packed group

size_t PackedIndex(int channel, int tap, int pairs) {
  return ((static_cast<size_t>(channel / kLanes) * pairs + tap / 2) * kLanes + channel % kLanes) *
             2 + tap % 2;
}

// The pair of taps (2p, 2p + 1) of a row as one int32 (low half first), the
// second 0 past n.
inline int32_t RowPair(const int16_t* row, int pair, int n) {
  const int first = 2 * pair;
  if (first + 1 < n) {
    int32_t both;
    std::memcpy(&both, row + first, 4);  // a plain 32-bit load
    return both;
  }
  return static_cast<uint16_t>(row[first]);
}

template <int kRows>
void PackedDotInt16RowsPortable(const int16_t* const rows[4], const std::vector<int16_t>& packed,
                                int output_depth, int n, int64_t* out, int64_t out_stride) {
  const int pairs = (n + 1) / 2;
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < output_depth; ++c) {
      int64_t sum = 0;
      for (int i = 0; i < n; ++i) {
        sum += static_cast<int32_t>(rows[r][i]) * packed[PackedIndex(c, i, pairs)];
      }
      out[r * out_stride + c] = sum;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)

// Output channels lanes 0-7 and 8-15 of a group in two 256-bit halves (the
// packed layout's 64 bytes per pair); vpmaddwd of the broadcast input pair.
template <int kRows>
__attribute__((target("avx2"))) void PackedDotInt16RowsAvx2(
    const int16_t* const rows[4], const std::vector<int16_t>& packed, int output_depth, int n,
    int64_t* out, int64_t out_stride) {
  const int groups = (output_depth + kLanes - 1) / kLanes, pairs = (n + 1) / 2;
  for (int g = 0; g < groups; ++g) {
    const int16_t* weights = packed.data() + static_cast<size_t>(g) * pairs * 2 * kLanes;
    int64_t sums[kRows][kLanes] = {};
    for (int start = 0; start < pairs; start += kPairsPerFlush) {
      const int end = std::min(pairs, start + kPairsPerFlush);
      __m256i acc[kRows][2];
      for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
      for (int p = start; p < end; ++p) {
        const __m256i* w = reinterpret_cast<const __m256i*>(weights + static_cast<size_t>(p) *
                                                            2 * kLanes);
        const __m256i w0 = _mm256_loadu_si256(w), w1 = _mm256_loadu_si256(w + 1);
        for (int r = 0; r < kRows; ++r) {
          const __m256i x = _mm256_set1_epi32(RowPair(rows[r], p, n));
          acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, w0));
          acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, w1));
        }
      }
      for (int r = 0; r < kRows; ++r) {
        int32_t lanes[kLanes];
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), acc[r][0]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes + 8), acc[r][1]);
        for (int l = 0; l < kLanes; ++l) sums[r][l] += lanes[l];
      }
    }
    const int valid = std::min(kLanes, output_depth - g * kLanes);
    for (int r = 0; r < kRows; ++r) {
      std::memcpy(out + r * out_stride + g * kLanes, sums[r], valid * sizeof(int64_t));
    }
  }
}

// 16 output channels in one register; vpdpwssd multiplies and adds a pair.
template <int kRows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void PackedDotInt16RowsVnni(
    const int16_t* const rows[4], const std::vector<int16_t>& packed, int output_depth, int n,
    int64_t* out, int64_t out_stride) {
  const int groups = (output_depth + kLanes - 1) / kLanes, pairs = (n + 1) / 2;
  for (int g = 0; g < groups; ++g) {
    const int16_t* weights = packed.data() + static_cast<size_t>(g) * pairs * 2 * kLanes;
    __m512i low[kRows], high[kRows];  // int64 sums of lanes 0-7 and 8-15
    for (int r = 0; r < kRows; ++r) low[r] = high[r] = _mm512_setzero_si512();
    for (int start = 0; start < pairs; start += kPairsPerFlush) {
      const int end = std::min(pairs, start + kPairsPerFlush);
      __m512i acc[kRows];
      for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_si512();
      for (int p = start; p < end; ++p) {
        const __m512i w = _mm512_loadu_si512(weights + static_cast<size_t>(p) * 2 * kLanes);
        for (int r = 0; r < kRows; ++r) {
          acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_set1_epi32(RowPair(rows[r], p, n)), w);
        }
      }
      for (int r = 0; r < kRows; ++r) {
        low[r] = _mm512_add_epi64(low[r],
                                  _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc[r])));
        high[r] = _mm512_add_epi64(
            high[r], _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc[r], 1)));
      }
    }
    const int valid = std::min(kLanes, output_depth - g * kLanes);
    const __mmask8 low_lanes = static_cast<__mmask8>((1u << std::min(valid, 8)) - 1);
    const __mmask8 high_lanes = static_cast<__mmask8>((1u << std::max(valid - 8, 0)) - 1);
    for (int r = 0; r < kRows; ++r) {
      int64_t* row_out = out + r * out_stride + g * kLanes;
      _mm512_mask_storeu_epi64(row_out, low_lanes, low[r]);
      _mm512_mask_storeu_epi64(row_out + 8, high_lanes, high[r]);
    }
  }
}

#endif

#if defined(__aarch64__)
// NEON (every AArch64 CPU): vld2 splits a pair's 16 lanes x 2 taps into the
// two taps' vectors; vmlal_n multiplies 4 lanes by one input value and
// accumulates in int32 (4 vectors per row for the group's 16 channels).
template <int kRows>
void PackedDotInt16RowsNeon(const int16_t* const rows[4], const std::vector<int16_t>& packed,
                            int output_depth, int n, int64_t* out, int64_t out_stride) {
  const int groups = (output_depth + kLanes - 1) / kLanes, pairs = (n + 1) / 2;
  for (int g = 0; g < groups; ++g) {
    const int16_t* weights = packed.data() + static_cast<size_t>(g) * pairs * 2 * kLanes;
    int64_t sums[kRows][kLanes] = {};
    for (int start = 0; start < pairs; start += kPairsPerFlush) {
      const int end = std::min(pairs, start + kPairsPerFlush);
      int32x4_t acc[kRows][4];
      for (int r = 0; r < kRows; ++r) {
        for (int q = 0; q < 4; ++q) acc[r][q] = vdupq_n_s32(0);
      }
      for (int p = start; p < end; ++p) {
        const int16_t* w = weights + static_cast<size_t>(p) * 2 * kLanes;
        const int16x8x2_t low = vld2q_s16(w);        // channels 0-7: tap 2p, tap 2p + 1
        const int16x8x2_t high = vld2q_s16(w + 16);  // channels 8-15
        for (int r = 0; r < kRows; ++r) {
          const int32_t both = RowPair(rows[r], p, n);
          const int16_t x0 = static_cast<int16_t>(both & 0xFFFF);
          const int16_t x1 = static_cast<int16_t>(static_cast<uint32_t>(both) >> 16);
          acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(low.val[0]), x0);
          acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(low.val[1]), x1);
          acc[r][1] = vmlal_n_s16(acc[r][1], vget_high_s16(low.val[0]), x0);
          acc[r][1] = vmlal_n_s16(acc[r][1], vget_high_s16(low.val[1]), x1);
          acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(high.val[0]), x0);
          acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(high.val[1]), x1);
          acc[r][3] = vmlal_n_s16(acc[r][3], vget_high_s16(high.val[0]), x0);
          acc[r][3] = vmlal_n_s16(acc[r][3], vget_high_s16(high.val[1]), x1);
        }
      }
      for (int r = 0; r < kRows; ++r) {
        int32_t lanes[kLanes];
        for (int q = 0; q < 4; ++q) vst1q_s32(lanes + 4 * q, acc[r][q]);
        for (int l = 0; l < kLanes; ++l) sums[r][l] += lanes[l];
      }
    }
    const int valid = std::min(kLanes, output_depth - g * kLanes);
    for (int r = 0; r < kRows; ++r) {
      std::memcpy(out + r * out_stride + g * kLanes, sums[r], valid * sizeof(int64_t));
    }
  }
}
#endif

// One kernel per row count (1 to 4), so the rows' loops unroll.
using RowsKernel = void (*)(const int16_t* const[4], const std::vector<int16_t>&, int, int,
                            int64_t*, int64_t);
struct RowsKernels {
  RowsKernel by_rows[4];
};

RowsKernels ChoosePackedDotInt16() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512_vnni) {
    return {{&PackedDotInt16RowsVnni<1>, &PackedDotInt16RowsVnni<2>,
             &PackedDotInt16RowsVnni<3>, &PackedDotInt16RowsVnni<4>}};
  }
  if (GetCpuFeatures().avx2) {
    return {{&PackedDotInt16RowsAvx2<1>, &PackedDotInt16RowsAvx2<2>,
             &PackedDotInt16RowsAvx2<3>, &PackedDotInt16RowsAvx2<4>}};
  }
#elif defined(__aarch64__)
  return {{&PackedDotInt16RowsNeon<1>, &PackedDotInt16RowsNeon<2>, &PackedDotInt16RowsNeon<3>,
           &PackedDotInt16RowsNeon<4>}};
#endif
  return {{&PackedDotInt16RowsPortable<1>, &PackedDotInt16RowsPortable<2>,
           &PackedDotInt16RowsPortable<3>, &PackedDotInt16RowsPortable<4>}};
}

}  // namespace

std::vector<int16_t> PackFiltersInt16(const int8_t* filters, int output_depth, int n) {
  const int groups = (output_depth + kLanes - 1) / kLanes, pairs = (n + 1) / 2;
  std::vector<int16_t> packed(static_cast<size_t>(groups) * pairs * kLanes * 2, 0);
  for (int c = 0; c < output_depth; ++c) {
    for (int i = 0; i < n; ++i) {
      packed[PackedIndex(c, i, pairs)] = filters[static_cast<int64_t>(c) * n + i];
    }
  }
  return packed;
}

const char* PackedDotInt16Path() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512_vnni) return "avx512_vnni";
  if (GetCpuFeatures().avx2) return "avx2";
#elif defined(__aarch64__)
  return "neon";
#endif
  return "portable";
}

void PackedDotInt16Rows(const int16_t* const rows[4], int num_rows,
                        const std::vector<int16_t>& packed, int output_depth, int n,
                        int64_t* out, int64_t out_stride) {
  static const RowsKernels chosen = ChoosePackedDotInt16();  // once, thread-safe
  chosen.by_rows[num_rows - 1](rows, packed, output_depth, n, out, out_stride);
}

namespace {

TFQ_CLONES void MultiplyAccumulateInt16Portable(const int16_t* input, const int16_t* filter,
                                                int n, int32_t* acc) {
  for (int c = 0; c < n; ++c) {
    acc[c] += static_cast<int32_t>(input[c]) * static_cast<int32_t>(filter[c]);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// 16 channels per step as int32 lanes: the input sign-extended, the weight
// zero-extended, so vpmaddwd's second pair is (0 or -1) x 0 and each lane
// holds exactly input x weight.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void MultiplyAccumulateInt16Avx512(
    const int16_t* input, const int16_t* filter, int n, int32_t* acc) {
  for (int c = 0; c < n; c += 16) {
    const __mmask16 lanes = n - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - c)) - 1);
    const __m512i x = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(lanes, input + c));
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, filter + c));
    _mm512_mask_storeu_epi32(acc + c, lanes,
                             _mm512_add_epi32(_mm512_maskz_loadu_epi32(lanes, acc + c),
                                              _mm512_madd_epi16(x, w)));
  }
}
#endif

using MultiplyAccumulateInt16Fn = void (*)(const int16_t*, const int16_t*, int, int32_t*);

MultiplyAccumulateInt16Fn ChooseMultiplyAccumulateInt16() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512) {
    return &MultiplyAccumulateInt16Avx512;
  }
#endif
  return &MultiplyAccumulateInt16Portable;
}

}  // namespace

void MultiplyAccumulateInt16(const int16_t* input, const int16_t* filter, int n, int32_t* acc) {
  static const MultiplyAccumulateInt16Fn chosen = ChooseMultiplyAccumulateInt16();  // once
  chosen(input, filter, n, acc);
}

}  // namespace kernels
}  // namespace tfq
