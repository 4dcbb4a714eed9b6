#include "delegates/kernels/depthwise_avx512.h"

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "delegates/kernels/fixed_point_avx512.h"
#endif

namespace tfq {
namespace kernels {

Int64Rescale MakeInt64Rescale(const QuantizedMultiplier* multipliers, int channels) {
  Int64Rescale rescale;
  for (int c = 0; c < channels; ++c) {  // as MultiplyByQuantizedMultiplierInt64 derives them
    const QuantizedMultiplier m = multipliers[c];
    const int32_t reduced =
        m.significand < 0x7FFF0000 ? (m.significand + (1 << 15)) >> 16 : 0x7FFF;
    const int total_shift = 15 - m.shift;
    rescale.reduced.push_back(reduced);
    rescale.round.push_back(int64_t{1} << (total_shift - 1));
    rescale.shift.push_back(total_shift);
  }
  return rescale;
}

bool DepthwiseRowInt16Available() {
#if defined(__x86_64__) && defined(__GNUC__)
  return GetCpuFeatures().avx512;
#else
  return false;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// The row's taps: each one's input offset from the pixel whose window starts
// at x = 0, and its filter offset; returns their count.
int RowTaps(const ConvGeometry& g, int b, int oy, int fy_begin, int fy_end,
            int64_t tap_offsets[], int64_t filter_offsets[]) {
  const int y0 = oy * g.stride_height - g.pad_top;
  int taps = 0;
  for (int fy = fy_begin; fy < fy_end; ++fy) {
    const int64_t row = (static_cast<int64_t>(b) * g.input_height + y0 + fy * g.dilation_height) *
                        g.input_width;
    for (int fx = 0; fx < g.filter_width; ++fx, ++taps) {
      tap_offsets[taps] = (row + static_cast<int64_t>(fx) * g.dilation_width) * g.input_depth;
      filter_offsets[taps] = (static_cast<int64_t>(fy) * g.filter_width + fx) * g.input_depth;
    }
  }
  return taps;
}

}  // namespace

__attribute__((target("avx512f,avx512bw,avx512vl"))) void DepthwiseRowInt8Avx512(
    const ConvGeometry& g, int32_t input_zero_point, const ChannelRequantization& q,
    const int8_t* input, const int16_t* filter16, const int32_t* bias, int b, int oy,
    int fy_begin, int fy_end, int ox_begin, int ox_end, int8_t* output) {
  const int depth = g.input_depth;
  int64_t tap_offsets[kMaxDepthwiseRowTaps];
  int64_t filter_offsets[kMaxDepthwiseRowTaps];
  const int taps = RowTaps(g, b, oy, fy_begin, fy_end, tap_offsets, filter_offsets);
  const __m512i zp = _mm512_set1_epi16(static_cast<int16_t>(input_zero_point));
  int8_t* row_output =
      output + ((static_cast<int64_t>(b) * g.output_height + oy) * g.output_width) * depth;
  for (int c = 0; c < depth; c += 32) {
    const __mmask32 lanes = depth - c >= 32 ? ~__mmask32(0) : (__mmask32(1) << (depth - c)) - 1;
    __m512i weights[kMaxDepthwiseRowTaps];
    for (int t = 0; t < taps; ++t) {
      weights[t] = _mm512_maskz_loadu_epi16(lanes, filter16 + filter_offsets[t] + c);
    }
    // The bias goes in as the epilogue's offset.
    const ChannelBlockX16 blocks[2] = {LoadChannelBlockX16(q, bias, c, depth - c),
                                       LoadChannelBlockX16(q, bias, c + 16, depth - c - 16)};
    for (int ox = ox_begin; ox < ox_end; ++ox) {
      const int64_t x_offset =
          static_cast<int64_t>(ox * g.stride_width - g.pad_left) * depth + c;
      __m512i sums[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
      for (int t = 0; t < taps; ++t) {
        const __m512i x = _mm512_sub_epi16(
            _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(lanes, input + tap_offsets[t] +
                                                                   x_offset)),
            zp);
        const __m512i products = _mm512_mullo_epi16(x, weights[t]);
        sums[0] = _mm512_add_epi32(sums[0],
                                   _mm512_cvtepi16_epi32(_mm512_castsi512_si256(products)));
        sums[1] = _mm512_add_epi32(
            sums[1], _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(products, 1)));
      }
      int8_t* out = row_output + static_cast<int64_t>(ox) * depth + c;
      StoreRescaledX16(blocks[0], sums[0], out);
      if (depth - c > 16) StoreRescaledX16(blocks[1], sums[1], out + 16);
    }
  }
}

__attribute__((target("avx512f,avx512bw"))) void RescaleRowAvx512(
    const int32_t* acc, const ChannelBlockConstants* blocks, int depth, int8_t* out) {
  for (int c = 0; c < depth; c += 16) {
    const ChannelBlockX16 block = LoadChannelBlockX16(blocks[c / 16]);
    StoreRescaledX16(block, _mm512_maskz_loadu_epi32(block.lanes, acc + c), out + c);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void DepthwiseRowInt16Avx512(
    const ConvGeometry& g, const Int64Rescale& rescale, int32_t output_min, int32_t output_max,
    const int16_t* input, const int16_t* filter16, const int64_t* bias, int b, int oy,
    int fy_begin, int fy_end, int ox_begin, int ox_end, int16_t* output) {
  const int depth = g.input_depth;
  int64_t tap_offsets[kMaxDepthwiseRowTaps];
  int64_t filter_offsets[kMaxDepthwiseRowTaps];
  const int taps = RowTaps(g, b, oy, fy_begin, fy_end, tap_offsets, filter_offsets);
  const __m512i low = _mm512_set1_epi32(output_min), high = _mm512_set1_epi32(output_max);
  int16_t* row_output =
      output + ((static_cast<int64_t>(b) * g.output_height + oy) * g.output_width) * depth;
  for (int c = 0; c < depth; c += 16) {
    const __mmask16 lanes = depth - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (depth - c)) - 1);
    const __mmask8 halves[2] = {static_cast<__mmask8>(lanes), static_cast<__mmask8>(lanes >> 8)};
    __m512i weights[kMaxDepthwiseRowTaps];  // zero-extended: vpmaddwd's second pair adds 0
    for (int t = 0; t < taps; ++t) {
      weights[t] = _mm512_cvtepu16_epi32(
          _mm256_maskz_loadu_epi16(lanes, filter16 + filter_offsets[t] + c));
    }
    __m512i start[2], reduced[2], round[2], shift[2];
    for (int h = 0; h < 2; ++h) {
      const int channel = c + 8 * h;
      start[h] = bias != nullptr ? _mm512_maskz_loadu_epi64(halves[h], bias + channel)
                                 : _mm512_setzero_si512();
      reduced[h] = _mm512_maskz_loadu_epi64(halves[h], rescale.reduced.data() + channel);
      round[h] = _mm512_maskz_loadu_epi64(halves[h], rescale.round.data() + channel);
      shift[h] = _mm512_maskz_loadu_epi64(halves[h], rescale.shift.data() + channel);
    }
    for (int ox = ox_begin; ox < ox_end; ++ox) {
      const int64_t x_offset =
          static_cast<int64_t>(ox * g.stride_width - g.pad_left) * depth + c;
      __m512i sums = _mm512_setzero_si512();
      for (int t = 0; t < taps; ++t) {
        const __m512i x = _mm512_cvtepi16_epi32(
            _mm256_maskz_loadu_epi16(lanes, input + tap_offsets[t] + x_offset));
        sums = _mm512_add_epi32(sums, _mm512_madd_epi16(x, weights[t]));
      }
      __m256i scaled[2];
      for (int h = 0; h < 2; ++h) {  // (sum + bias) * reduced + round >> shift, in int64
        const __m512i wide = _mm512_add_epi64(
            _mm512_cvtepi32_epi64(h == 0 ? _mm512_castsi512_si256(sums)
                                         : _mm512_extracti64x4_epi64(sums, 1)),
            start[h]);
        scaled[h] = _mm512_cvtepi64_epi32(_mm512_srav_epi64(
            _mm512_add_epi64(_mm512_mullo_epi64(wide, reduced[h]), round[h]), shift[h]));
      }
      __m512i value = _mm512_inserti64x4(_mm512_castsi256_si512(scaled[0]), scaled[1], 1);
      value = _mm512_min_epi32(_mm512_max_epi32(value, low), high);
      _mm256_mask_storeu_epi16(row_output + static_cast<int64_t>(ox) * depth + c, lanes,
                               _mm512_cvtepi32_epi16(value));
    }
  }
}
#else
void DepthwiseRowInt16Avx512(const ConvGeometry&, const Int64Rescale&, int32_t, int32_t,
                             const int16_t*, const int16_t*, const int64_t*, int, int, int, int,
                             int, int, int16_t*) {}
void DepthwiseRowInt8Avx512(const ConvGeometry&, int32_t, const ChannelRequantization&,
                            const int8_t*, const int16_t*, const int32_t*, int, int, int, int, int,
                            int, int8_t*) {}
void RescaleRowAvx512(const int32_t*, const ChannelBlockConstants*, int, int8_t*) {}
#endif

}  // namespace kernels
}  // namespace tfq
