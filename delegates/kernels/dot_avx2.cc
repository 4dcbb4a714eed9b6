#include "delegates/kernels/dot_avx2.h"

#include <algorithm>
#include <cstring>

#include "delegates/cpu_features.h"
#include "delegates/kernels/dot_int16.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace tfq {
namespace kernels {
namespace {

constexpr int kGroup = 16;  // output channels per packed group (PackFiltersInt16)

// The single rounding of fixed_point_avx512.h's LoadChannelBlockX16, per
// channel: false when the channel is outside its range.
bool SingleRoundingConstants(int32_t significand, int32_t left_shift, int32_t right_shift,
                             int32_t offset, int32_t zero_point, int64_t* round, int64_t* below,
                             int64_t* fix, int64_t* shift) {
  if (left_shift > 0 || right_shift > 23 || zero_point < -256 || zero_point > 256) return false;
  const int64_t offset_product = static_cast<int64_t>(offset) * significand;
  *shift = right_shift + 31;
  *round = (int64_t{1} << 30) + offset_product +
           (right_shift > 0 ? int64_t{1} << (right_shift + 30) : 0) +
           static_cast<int64_t>(zero_point) * (int64_t{1} << *shift);
  *below = -(int64_t{1} << 30) - offset_product;
  *fix = right_shift > 0 ? int64_t{1} << 31 : 0;
  return true;
}

#if defined(__x86_64__) && defined(__GNUC__)
// One set of 4 64-bit lanes: (x * s + round - fix [x * s < below]) >> shift,
// the arithmetic shift as ~(~v >>> shift) for negative v.
__attribute__((target("avx2"))) inline __m256i SingleRoundingX4(__m256i x, const int64_t* s,
                                                                const int64_t* round,
                                                                const int64_t* below,
                                                                const int64_t* fix,
                                                                const int64_t* shift) {
  const __m256i product = _mm256_mul_epi32(x, _mm256_load_si256(reinterpret_cast<const __m256i*>(s)));
  const __m256i negative =
      _mm256_cmpgt_epi64(_mm256_load_si256(reinterpret_cast<const __m256i*>(below)), product);
  __m256i sum = _mm256_add_epi64(product, _mm256_load_si256(reinterpret_cast<const __m256i*>(round)));
  sum = _mm256_sub_epi64(
      sum, _mm256_and_si256(negative, _mm256_load_si256(reinterpret_cast<const __m256i*>(fix))));
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), sum);
  return _mm256_xor_si256(
      _mm256_srlv_epi64(_mm256_xor_si256(sum, sign),
                        _mm256_load_si256(reinterpret_cast<const __m256i*>(shift))),
      sign);
}

// 8 channels' sums rescaled, clamped and stored as int8 (`width` <= 8 of them).
__attribute__((target("avx2"))) inline void StoreRescaledX8(const ChannelBlockAvx2& b,
                                                            __m256i sums, __m256i low,
                                                            __m256i high, int width,
                                                            int8_t* out) {
  const __m256i even = SingleRoundingX4(sums, b.significand_even, b.round_even, b.below_even,
                                        b.fix_even, b.shift_even);
  const __m256i odd = SingleRoundingX4(_mm256_srli_epi64(sums, 32), b.significand_odd,
                                       b.round_odd, b.below_odd, b.fix_odd, b.shift_odd);
  __m256i value = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  value = _mm256_min_epi32(_mm256_max_epi32(value, low), high);
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(value),
                                        _mm256_extracti128_si256(value, 1));
  const __m128i bytes = _mm_packs_epi16(words, words);
  if (width >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
  } else {
    alignas(16) int8_t lanes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), bytes);
    std::memcpy(out, lanes, width);
  }
}

// rows[r] widened to int16 into rows16 + r * stride, zero past n.
__attribute__((target("avx2"))) void WidenRows(const int8_t* const rows[], int num_rows, int n,
                                               int16_t* rows16, int stride) {
  for (int r = 0; r < num_rows; ++r) {
    int16_t* wide = rows16 + static_cast<int64_t>(r) * stride;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(wide + i),
                          _mm256_cvtepi8_epi16(_mm_loadu_si128(
                              reinterpret_cast<const __m128i*>(rows[r] + i))));
    }
    for (; i < n; ++i) wide[i] = rows[r][i];
    for (; i < stride; ++i) wide[i] = 0;
  }
}

// acc + products, as inline asm that keeps acc in its register: with the
// intrinsic GCC 12 copied each of the tile's 8 accumulators to a new
// register on every step (as dpbusd_avx512.h says of vpdpbusd).
__attribute__((target("avx2"))) inline __m256i AddInPlace(__m256i acc, __m256i products) {
  asm("vpaddd %[p], %[acc], %[acc]" : [acc] "+x"(acc) : [p] "x"(products));
  return acc;
}

// kRows rows x one group of 16 channels: vpmaddwd of each broadcast pair
// of taps with the group's two halves (each weight load, widened, serves
// kRows rows). The sums start at `start` (16 int32s; null: zero).
template <int kRows>
__attribute__((target("avx2"))) inline void AccumulateGroup(const int16_t* rows16, int stride,
                                                            const int8_t* weights, int pairs,
                                                            const int32_t* start,
                                                            __m256i acc[kRows][2]) {
  const __m256i start_low =
      start != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(start))
                       : _mm256_setzero_si256();
  const __m256i start_high =
      start != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(start + 8))
                       : _mm256_setzero_si256();
  for (int r = 0; r < kRows; ++r) {
    acc[r][0] = start_low;
    acc[r][1] = start_high;
  }
  for (int p = 0; p < pairs; ++p) {
    const __m128i* w = reinterpret_cast<const __m128i*>(weights + static_cast<size_t>(p) * 32);
    const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(w));
    const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(w + 1));
    for (int r = 0; r < kRows; ++r) {
      int32_t pair;
      std::memcpy(&pair, rows16 + static_cast<int64_t>(r) * stride + 2 * p, 4);
      const __m256i x = _mm256_set1_epi32(pair);
      acc[r][0] = AddInPlace(acc[r][0], _mm256_madd_epi16(x, w0));
      acc[r][1] = AddInPlace(acc[r][1], _mm256_madd_epi16(x, w1));
    }
  }
}

template <int kRows>
__attribute__((target("avx2"))) void RowsAvx2(const int16_t* rows16, int stride,
                                              const PackedFiltersAvx2& packed,
                                              const int32_t* offsets,
                                              const RowRequantizer& requantizer,
                                              int output_depth, int n, int32_t* acc_out,
                                              int8_t* out, int out_stride) {
  const int pairs = (n + 1) / 2, groups = (output_depth + kGroup - 1) / kGroup;
  const ChannelRequantization q = requantizer.channels();
  const __m256i low = _mm256_set1_epi32(q.min), high = _mm256_set1_epi32(q.max);
  const __m128i low8 = _mm_set1_epi8(static_cast<int8_t>(q.min));
  const __m128i high8 = _mm_set1_epi8(static_cast<int8_t>(q.max));
  const bool rescale = !packed.rescale.empty();
  for (int g = 0; g < groups; ++g) {
    __m256i acc[kRows][2];
    AccumulateGroup<kRows>(rows16, stride,
                           packed.weights.data() + static_cast<size_t>(g) * pairs * 2 * kGroup,
                           pairs, rescale ? packed.start.data() + g * kGroup : nullptr, acc);
    if (rescale) {  // the offsets are in the sums
      const int channel = g * kGroup, width = std::min(kGroup, output_depth - channel);
      for (int r = 0; r < kRows; ++r) {
        const __m128i bytes = RescaleX16(packed.rescale[g], acc[r][0], acc[r][1], low8, high8);
        int8_t* row_out = out + static_cast<int64_t>(r) * out_stride + channel;
        if (width == kGroup) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(row_out), bytes);
        } else {
          alignas(16) int8_t lanes[kGroup];
          _mm_store_si128(reinterpret_cast<__m128i*>(lanes), bytes);
          std::memcpy(row_out, lanes, width);
        }
      }
      continue;
    }
    for (int h = 0; h < 2; ++h) {
      const int channel = g * kGroup + 8 * h;
      if (channel >= output_depth) break;
      const int width = std::min(8, output_depth - channel);
      for (int r = 0; r < kRows; ++r) {
        if (!packed.epilogue.empty()) {
          StoreRescaledX8(packed.epilogue[channel / 8], acc[r][h], low, high, width,
                          out + static_cast<int64_t>(r) * out_stride + channel);
        } else {  // the sums with their offsets, rescaled below
          alignas(32) int32_t lanes[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[r][h]);
          for (int l = 0; l < width; ++l) {
            acc_out[static_cast<int64_t>(r) * output_depth + channel + l] =
                lanes[l] + offsets[channel + l];
          }
        }
      }
    }
  }
  if (!rescale && packed.epilogue.empty()) {
    for (int r = 0; r < kRows; ++r) {
      requantizer.Run(acc_out + static_cast<int64_t>(r) * output_depth, 0, output_depth,
                      out + static_cast<int64_t>(r) * out_stride);
    }
  }
}
#endif

}  // namespace

bool PackedDotAvx2Available() { return GetCpuFeatures().avx2; }

int Avx2RowStride(int n) { return (n + 15) / 16 * 16; }

std::vector<ChannelBlockAvx2> MakeChannelBlocksAvx2(const ChannelRequantization& q,
                                                    const int32_t* offsets, int output_depth) {
  const int blocks = (output_depth + 7) / 8;
  std::vector<ChannelBlockAvx2> epilogue(blocks);
  for (int c = 0; c < blocks * 8; ++c) {
    // Channels past output_depth: zero significand and rounding (never stored).
    int64_t round = 0, below = 0, fix = 0, shift = 31, significand = 0;
    if (c < output_depth) {
      significand = q.significands[c];
      if (!SingleRoundingConstants(q.significands[c], q.left_shifts[c], q.right_shifts[c],
                                   offsets != nullptr ? offsets[c] : 0, q.zero_point, &round,
                                   &below, &fix, &shift)) {
        return {};  // RowRequantizer::Run instead
      }
    }
    ChannelBlockAvx2& b = epilogue[c / 8];
    const int lane = (c % 8) / 2;
    const bool odd = c % 2;
    (odd ? b.significand_odd : b.significand_even)[lane] = significand;
    (odd ? b.round_odd : b.round_even)[lane] = round;
    (odd ? b.below_odd : b.below_even)[lane] = below;
    (odd ? b.fix_odd : b.fix_even)[lane] = fix;
    (odd ? b.shift_odd : b.shift_even)[lane] = shift;
  }
  return epilogue;
}

PackedFiltersAvx2 PackFiltersAvx2(const int8_t* filters, int output_depth, int n,
                                  const ChannelRequantization& q, const int32_t* offsets) {
  PackedFiltersAvx2 packed;
  const std::vector<int16_t> wide = PackFiltersInt16(filters, output_depth, n);
  packed.weights.assign(wide.begin(), wide.end());  // int8 values: exact
  packed.rescale = MakeRescaleBlocksAvx2(q, output_depth);
  if (!packed.rescale.empty()) {
    packed.start.assign(packed.rescale.size() * kGroup, 0);
    if (offsets != nullptr) std::copy(offsets, offsets + output_depth, packed.start.begin());
    return packed;
  }
  packed.epilogue = MakeChannelBlocksAvx2(q, offsets, output_depth);
  return packed;
}

void PackedDotRowsAvx2ToInt8(const int8_t* const rows[], int num_rows,
                             const PackedFiltersAvx2& packed, const int32_t* offsets,
                             const RowRequantizer& requantizer, int output_depth, int n,
                             int16_t* rows16, int32_t* acc, int8_t* out, int out_stride) {
#if defined(__x86_64__) && defined(__GNUC__)
  const int stride = Avx2RowStride(n);
  WidenRows(rows, num_rows, n, rows16, stride);
  switch (num_rows) {
    case 1: RowsAvx2<1>(rows16, stride, packed, offsets, requantizer, output_depth, n, acc, out, out_stride); break;
    case 2: RowsAvx2<2>(rows16, stride, packed, offsets, requantizer, output_depth, n, acc, out, out_stride); break;
    case 3: RowsAvx2<3>(rows16, stride, packed, offsets, requantizer, output_depth, n, acc, out, out_stride); break;
    default: RowsAvx2<4>(rows16, stride, packed, offsets, requantizer, output_depth, n, acc, out, out_stride); break;
  }
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) void DepthwisePixelAvx2(
    const int8_t* const inputs[], const int16_t* const filters[], int taps, int32_t zero_point,
    const int32_t* bias, const std::vector<ChannelBlockAvx2>& blocks,
    const RowRequantizer& requantizer, int depth, int32_t* acc, int8_t* out) {
  const ChannelRequantization q = requantizer.channels();
  const __m256i low = _mm256_set1_epi32(q.min), high = _mm256_set1_epi32(q.max);
  const __m256i zp = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  const int vector_depth = blocks.empty() ? 0 : depth / 16 * 16;
  for (int c = 0; c < vector_depth; c += 16) {
    // The bias is in the epilogue's constants.
    __m256i sums_low = _mm256_setzero_si256(), sums_high = _mm256_setzero_si256();
    for (int t = 0; t < taps; ++t) {
      const __m256i x = _mm256_sub_epi16(
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(inputs[t] + c))),
          zp);
      const __m256i products = _mm256_mullo_epi16(
          x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(filters[t] + c)));
      sums_low = _mm256_add_epi32(sums_low, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(products)));
      sums_high = _mm256_add_epi32(sums_high,
                                   _mm256_cvtepi16_epi32(_mm256_extracti128_si256(products, 1)));
    }
    StoreRescaledX8(blocks[c / 8], sums_low, low, high, 8, out + c);
    StoreRescaledX8(blocks[c / 8 + 1], sums_high, low, high, 8, out + c + 8);
  }
  if (vector_depth == depth) return;
  for (int c = vector_depth; c < depth; ++c) {  // the rest: plain sums, RowRequantizer
    int32_t sum = bias != nullptr ? bias[c] : 0;
    for (int t = 0; t < taps; ++t) sum += (inputs[t][c] - zero_point) * filters[t][c];
    acc[c] = sum;
  }
  requantizer.Run(acc + vector_depth, vector_depth, depth - vector_depth, out + vector_depth);
}
#else
void DepthwisePixelAvx2(const int8_t* const[], const int16_t* const[], int, int32_t,
                        const int32_t*, const std::vector<ChannelBlockAvx2>&,
                        const RowRequantizer&, int, int32_t*, int8_t*) {}
#endif

}  // namespace kernels
}  // namespace tfq
