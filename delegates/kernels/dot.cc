#include "delegates/kernels/dot.h"

#include <cstring>
#include <utility>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "delegates/kernels/dpbusd_avx512.h"
#include "delegates/kernels/fixed_point_avx512.h"
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
  if (GetCpuFeatures().avx2) return &DotInt8x4Avx2;
#endif
  return &DotInt8x4Portable;
}

}  // namespace

void DotInt8x4(const int8_t* row, const int8_t* const filters[4], int n, int32_t out[4]) {
  static const DotInt8x4Fn chosen = ChooseDotInt8x4();  // once per process, thread-safe
  chosen(row, filters, n, out);
}

#if !defined(__aarch64__)  // aarch64's packed kernels: dot_neon.cc
bool PackedDotAvailable() {
#if defined(__x86_64__) && defined(__GNUC__)
  return GetCpuFeatures().avx512_vnni;
#else
  return false;
#endif
}

const char* PackedDotKernel() { return PackedDotAvailable() ? "avx512_vnni" : ""; }

bool PackedSumsAvailable() { return PackedDotAvailable(); }

namespace {

// PackFilters' layout; each weight stored as w ^ flip (0x80: the unsigned w + 128).
std::vector<int8_t> PackQuads(const int8_t* filters, int output_depth, int n, uint8_t flip) {
  const int groups = (output_depth + 15) / 16, quads = (n + 3) / 4;
  std::vector<int8_t> packed(static_cast<size_t>(groups) * quads * 64, 0);  // padding: 0
  for (int c = 0; c < output_depth; ++c) {
    for (int i = 0; i < n; ++i) {
      // group c / 16, quad i / 4, lane c % 16, byte i % 4
      packed[((static_cast<size_t>(c / 16) * quads + i / 4) * 16 + c % 16) * 4 + i % 4] =
          static_cast<int8_t>(filters[static_cast<int64_t>(c) * n + i] ^ flip);
    }
  }
  return packed;
}

}  // namespace

std::vector<int8_t> PackFilters(const int8_t* filters, int output_depth, int n) {
  return PackQuads(filters, output_depth, n, 0x80);
}

std::vector<int8_t> PackFiltersForOffsetRows(const int8_t* filters, int output_depth, int n) {
  return PackQuads(filters, output_depth, n, 0);
}

int PackedDotRowOffset() { return 128; }

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// dst[i] = src[i] ^ 0x80 for i < bytes (src == dst allowed).
__attribute__((target("avx512f,avx512bw"))) void FlipSigns(const int8_t* src, int64_t bytes,
                                                           int8_t* dst) {
  const __m512i flip = _mm512_set1_epi8(-128);
  int64_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), flip));
  }
  if (i < bytes) {
    const __mmask64 lanes = (~__mmask64(0)) >> (64 - (bytes - i));
    _mm512_mask_storeu_epi8(dst + i, lanes,
                            _mm512_xor_si512(_mm512_maskz_loadu_epi8(lanes, src + i), flip));
  }
}

}  // namespace

void OffsetRowsForPackedDot(const int8_t* rows[], int count, int n, int8_t* scratch) {
  // Evenly spaced rows (a pointwise conv's pixels, im2col's rows) are one run.
  bool contiguous = true;
  for (int r = 1; r < count && contiguous; ++r) contiguous = rows[r] == rows[0] + int64_t{r} * n;
  if (contiguous) {
    FlipSigns(rows[0], int64_t{count} * n, scratch);
  } else {
    for (int r = 0; r < count; ++r) FlipSigns(rows[r], n, scratch + int64_t{r} * n);
  }
  for (int r = 0; r < count; ++r) rows[r] = scratch + int64_t{r} * n;
}
#else
void OffsetRowsForPackedDot(const int8_t*[], int, int, int8_t*) {}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// 4 input bytes from row + 4 * quad, zero bytes past n (their packed
// weights are 0, but the row may end there), as one int32.
inline uint32_t Quad(const int8_t* row, int quad, int n) {
  uint32_t bytes = 0;
  const int start = 4 * quad;
  if (n - start >= 4) {
    std::memcpy(&bytes, row + start, 4);  // a plain 32-bit load
  } else {
    for (int i = start; i < n; ++i) {
      bytes |= static_cast<uint32_t>(static_cast<uint8_t>(row[i])) << (8 * (i - start));
    }
  }
  return bytes;
}

// sum_i a[i] for i < n: the bytes made unsigned (+128, the flipped sign
// bit) summed by vpsadbw into 64-bit lanes, 128 * n taken back. Inline, so a
// short row (a pointwise conv of 16 channels) costs a few instructions.
__attribute__((target("avx512f,avx512bw"))) inline int32_t RowSumAvx512(const int8_t* a, int n) {
  const __m512i flip = _mm512_set1_epi8(-128), zero = _mm512_setzero_si512();
  __m512i sums = zero;
  int i = 0;
  for (; i + 64 <= n; i += 64) {
    sums = _mm512_add_epi64(
        sums, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(a + i), flip), zero));
  }
  if (i < n) {  // masked: bytes past n read as 0 once flipped back
    const __mmask64 lanes = (~__mmask64(0)) >> (64 - (n - i));
    const __m512i tail = _mm512_xor_si512(_mm512_maskz_loadu_epi8(lanes, a + i), flip);
    sums = _mm512_add_epi64(sums, _mm512_sad_epu8(_mm512_maskz_mov_epi8(lanes, tail), zero));
  }
  return static_cast<int32_t>(_mm512_reduce_add_epi64(sums) - int64_t{128} * n);
}

// The VNNI kernels below, lambdas included (an attribute does not reach them).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vnni")

// One vpdpbusd of a weight vector and a broadcast row quad: the row is the
// unsigned side when it carries the +128 (kOffsetRows), else the weights.
template <bool kOffsetRows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline __m512i Dpbusd(__m512i acc,
                                                                              __m512i weights,
                                                                              __m512i row) {
  return kOffsetRows ? DpbusdInPlace(acc, row, weights) : DpbusdInPlace(acc, weights, row);
}

// f(std::integral_constant<int, i>{}) for i = 0 .. kCount - 1, unrolled as
// the compiler first sees the code, so a register tile is indexed by
// constants only. With loops over rows and groups (and the intrinsic
// vpdpbusd) GCC 12 copied the 16 accumulators of an 8 x 2 tile to new
// registers on every step (29 vmovdqa per 16 vpdpbusd) and zeroed a stack
// copy of an 8 x 1 tile with a 512-byte rep stos per pass. perf on
// MobileNetV2's 112x112 32->16 pointwise conv, Zen 4: 121 -> 95 us.
template <typename F, int... kIndices>
inline void ForEachIndexImpl(F&& f, std::integer_sequence<int, kIndices...>) {
  (f(std::integral_constant<int, kIndices>{}), ...);
}
template <int kCount, typename F>
inline void ForEachIndex(F&& f) {
  ForEachIndexImpl(f, std::make_integer_sequence<int, kCount>{});
}

// The register tile: acc[r][k] += rows[r] . (weights of 16-channel group k)
// over all n taps, kRows rows x kGroups groups of 16 channels. The weights
// are the unsigned operand (w + 128) and the input bytes the signed one,
// broadcast as they lie, so the inner loop is loads and vpdpbusd only (each
// weight load serves kRows of them, each broadcast kGroups). The +128 of
// the unsigned side is the caller's to take back: 128 * sum(row) per row,
// or with kOffsetRows 128 * sum(filter) per channel.
template <int kRows, int kGroups, bool kOffsetRows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void AccumulatePacked(
    const int8_t* const rows[], const int8_t* weights, size_t group_bytes, int quads, int n,
    __m512i acc[kRows][kGroups]) {
  ForEachIndex<kRows>([&](auto r) {
    ForEachIndex<kGroups>([&](auto k) { acc[r][k] = _mm512_setzero_si512(); });
  });
  // Offset rows are read in whole quads: bytes past n meet zero weights, and
  // OffsetRowsForPackedDot's scratch has room for the last row's.
  const int full_quads = kOffsetRows ? quads : n / 4;
  // Offset rows have a quad or more (n >= 1); saying so spares the zero-trip
  // path's stack copy of the tile.
  if (kOffsetRows && full_quads < 1) __builtin_unreachable();
  for (int q = 0; q < full_quads; ++q) {
    __m512i w[kGroups];
    ForEachIndex<kGroups>([&](auto k) {
      w[k] = _mm512_loadu_si512(weights + k * group_bytes + static_cast<size_t>(q) * 64);
    });
    ForEachIndex<kRows>([&](auto r) {
      int32_t bytes;
      std::memcpy(&bytes, rows[r] + 4 * q, 4);
      const __m512i x = _mm512_set1_epi32(bytes);
      ForEachIndex<kGroups>(
          [&](auto k) { acc[r][k] = Dpbusd<kOffsetRows>(acc[r][k], w[k], x); });
    });
  }
  if (!kOffsetRows && full_quads < quads) {  // the last 1-3 taps; bytes past n read as 0
    __m512i w[kGroups];
    ForEachIndex<kGroups>([&](auto k) {
      w[k] = _mm512_loadu_si512(weights + k * group_bytes + static_cast<size_t>(full_quads) * 64);
    });
    ForEachIndex<kRows>([&](auto r) {
      const __m512i x = _mm512_set1_epi32(static_cast<int32_t>(Quad(rows[r], full_quads, n)));
      ForEachIndex<kGroups>(
          [&](auto k) { acc[r][k] = Dpbusd<kOffsetRows>(acc[r][k], w[k], x); });
    });
  }
}

// kRows rows x 32 output channels (two packed groups) per pass, rescaled to
// int8 while the sums are in registers; `blocks` (MakeChannelBlocks), when
// given, holds each group's epilogue constants. `kGroups` is 1 for the last
// odd group.
template <int kRows, int kGroups>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void PackedDotPass(
    const int8_t* const rows[], const int8_t* weights, int quads, int n, const int32_t* offsets,
    const ChannelRequantization& rescale, const ChannelBlockConstants* blocks, int first,
    int output_depth, int8_t* out, int out_stride) {
  __m512i acc[kRows][kGroups];
  AccumulatePacked<kRows, kGroups, true>(rows, weights, static_cast<size_t>(quads) * 64, quads, n,
                                         acc);
  for (int k = 0; k < kGroups; ++k) {
    const int channel = first + 16 * k;
    const ChannelBlockX16 block =
        blocks != nullptr ? LoadChannelBlockX16(blocks[channel / 16])
                          : LoadChannelBlockX16(rescale, offsets, channel, output_depth - channel);
    ForEachIndex<kRows>([&](auto r) {
      StoreRescaledX16(block, acc[r][k], out + static_cast<int64_t>(r) * out_stride + channel);
    });
  }
}

template <int kRows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void PackedDotRowsVnni(
    const int8_t* const rows[], const std::vector<int8_t>& packed, const int32_t* offsets,
    const ChannelRequantization& requantization, const ChannelBlockConstants* blocks,
    int output_depth, int n, int8_t* out, int out_stride) {
  const int groups = (output_depth + 15) / 16, quads = (n + 3) / 4;
  int g = 0;
  for (; g + 2 <= groups; g += 2) {
    PackedDotPass<kRows, 2>(rows,
                            packed.data() + static_cast<size_t>(g) * quads * 64, quads, n,
                            offsets, requantization, blocks, 16 * g, output_depth, out,
                            out_stride);
  }
  if (g < groups) {
    PackedDotPass<kRows, 1>(rows,
                            packed.data() + static_cast<size_t>(g) * quads * 64, quads, n,
                            offsets, requantization, blocks, 16 * g, output_depth, out,
                            out_stride);
  }
}

using PackedDotRowsFn = void (*)(const int8_t* const[], const std::vector<int8_t>&,
                                 const int32_t*, const ChannelRequantization&,
                                 const ChannelBlockConstants*, int, int, int8_t*, int);
constexpr PackedDotRowsFn kPackedDotByRows[kPackedDotMaxRows] = {
    &PackedDotRowsVnni<1>, &PackedDotRowsVnni<2>, &PackedDotRowsVnni<3>, &PackedDotRowsVnni<4>,
    &PackedDotRowsVnni<5>, &PackedDotRowsVnni<6>, &PackedDotRowsVnni<7>, &PackedDotRowsVnni<8>};

// Group g's 16 sums into row[16 g ..], the channels up to output_depth.
__attribute__((target("avx512f"))) inline void StoreSums(int g, int output_depth, __m512i value,
                                                         int32_t* row) {
  const int channel = 16 * g;
  const __mmask16 lanes = output_depth - channel >= 16
                              ? __mmask16(0xFFFF)
                              : __mmask16((1u << (output_depth - channel)) - 1);
  _mm512_mask_storeu_epi32(row + channel, lanes, value);
}

// The int32 sums of groups [group_begin, group_end), kGroups at a time (a
// few rows, as a FULLY_CONNECTED's batch: more groups keep enough
// independent vpdpbusd chains in flight for one row).
template <int kRows, int kGroups>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void PackedSumsVnni(
    const int8_t* const rows[], const std::vector<int8_t>& packed, int output_depth, int n,
    int group_begin, int group_end, int32_t* sums, int sums_stride) {
  const int quads = (n + 3) / 4;
  const size_t group_bytes = static_cast<size_t>(quads) * 64;
  __m512i corrections[kRows];
  for (int r = 0; r < kRows; ++r) corrections[r] = _mm512_set1_epi32(-128 * RowSumAvx512(rows[r], n));
  int g = group_begin;
  for (; g + kGroups <= group_end; g += kGroups) {
    __m512i acc[kRows][kGroups];
    AccumulatePacked<kRows, kGroups, false>(rows, packed.data() + g * group_bytes, group_bytes,
                                            quads, n, acc);
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < kGroups; ++k) {
        StoreSums(g + k, output_depth, _mm512_add_epi32(acc[r][k], corrections[r]),
                  sums + static_cast<int64_t>(r) * sums_stride);
      }
    }
  }
  for (; g < group_end; ++g) {
    __m512i acc[kRows][1];
    AccumulatePacked<kRows, 1, false>(rows, packed.data() + g * group_bytes, group_bytes, quads,
                                      n, acc);
    for (int r = 0; r < kRows; ++r) {
      StoreSums(g, output_depth, _mm512_add_epi32(acc[r][0], corrections[r]),
                sums + static_cast<int64_t>(r) * sums_stride);
    }
  }
}

#pragma GCC pop_options

}  // namespace

void PackedDotRowsToInt8(const int8_t* const rows[kPackedDotMaxRows], int num_rows,
                         const std::vector<int8_t>& packed, const int32_t* offsets,
                         const ChannelRequantization& requantization, int output_depth, int n,
                         int8_t* out, int out_stride, const ChannelBlockConstants* blocks) {
  kPackedDotByRows[num_rows - 1](rows, packed, offsets, requantization, blocks, output_depth, n,
                                 out, out_stride);
}

void PackedDotRowsToInt32(const int8_t* const rows[kPackedSumsMaxRows], int num_rows,
                          const std::vector<int8_t>& packed, int output_depth, int n,
                          int group_begin, int group_end, int32_t* sums, int sums_stride) {
  switch (num_rows) {
    case 1: PackedSumsVnni<1, 8>(rows, packed, output_depth, n, group_begin, group_end, sums, sums_stride); break;
    case 2: PackedSumsVnni<2, 4>(rows, packed, output_depth, n, group_begin, group_end, sums, sums_stride); break;
    case 3: PackedSumsVnni<3, 4>(rows, packed, output_depth, n, group_begin, group_end, sums, sums_stride); break;
    default: PackedSumsVnni<4, 4>(rows, packed, output_depth, n, group_begin, group_end, sums, sums_stride); break;
  }
}
#else
void PackedDotRowsToInt8(const int8_t* const[kPackedDotMaxRows], int, const std::vector<int8_t>&,
                         const int32_t*, const ChannelRequantization&, int, int, int8_t*, int,
                         const ChannelBlockConstants*) {}
void PackedDotRowsToInt32(const int8_t* const[kPackedSumsMaxRows], int, const std::vector<int8_t>&,
                          int, int, int, int, int32_t*, int) {}
#endif
#endif  // !__aarch64__

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

bool DepthwiseTapsAvailable() {
#if defined(__x86_64__) && defined(__GNUC__)
  return GetCpuFeatures().avx512;
#else
  return false;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vl"))) void DepthwiseTapsInt8(
    const int8_t* const inputs[], const int16_t* const filters[], int taps, int32_t zero_point,
    const int32_t* bias, int n, int32_t* acc) {
  const __m512i zp = _mm512_set1_epi16(static_cast<int16_t>(zero_point));
  for (int c = 0; c < n; c += 32) {
    const __mmask32 lanes = n - c >= 32 ? ~__mmask32(0) : (__mmask32(1) << (n - c)) - 1;
    const __mmask16 low_lanes = static_cast<__mmask16>(lanes);
    const __mmask16 high_lanes = static_cast<__mmask16>(lanes >> 16);
    __m512i low = bias != nullptr ? _mm512_maskz_loadu_epi32(low_lanes, bias + c)
                                  : _mm512_setzero_si512();
    __m512i high = bias != nullptr ? _mm512_maskz_loadu_epi32(high_lanes, bias + c + 16)
                                   : _mm512_setzero_si512();
    for (int t = 0; t < taps; ++t) {
      const __m512i x = _mm512_sub_epi16(
          _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(lanes, inputs[t] + c)), zp);
      const __m512i products =
          _mm512_mullo_epi16(x, _mm512_maskz_loadu_epi16(lanes, filters[t] + c));
      low = _mm512_add_epi32(low, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(products)));
      high = _mm512_add_epi32(high,
                              _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(products, 1)));
    }
    _mm512_mask_storeu_epi32(acc + c, low_lanes, low);
    _mm512_mask_storeu_epi32(acc + c + 16, high_lanes, high);
  }
}
#else
void DepthwiseTapsInt8(const int8_t* const[], const int16_t* const[], int, int32_t,
                       const int32_t*, int, int32_t*) {}
#endif

TFQ_CLONES void MultiplyAccumulateInt8(const int8_t* input, int32_t zero_point,
                                       const int8_t* filter, int n, int32_t* acc) {
  for (int c = 0; c < n; ++c) {
    acc[c] += (static_cast<int32_t>(input[c]) - zero_point) * filter[c];
  }
}

}  // namespace kernels
}  // namespace tfq
