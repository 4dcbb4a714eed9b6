#include "delegates/kernels/depthwise_avx512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "delegates/kernels/fixed_point_avx512.h"
#endif

namespace tfq {
namespace kernels {

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512vl"))) void DepthwiseRowInt8Avx512(
    const ConvGeometry& g, int32_t input_zero_point, const ChannelRequantization& q,
    const int8_t* input, const int16_t* filter16, const int32_t* bias, int b, int oy,
    int fy_begin, int fy_end, int ox_begin, int ox_end, int8_t* output) {
  const int depth = g.input_depth;
  const int y0 = oy * g.stride_height - g.pad_top;
  // Each tap's input offset from the pixel whose window starts at x = 0.
  int64_t tap_offsets[kMaxDepthwiseRowTaps];
  int64_t filter_offsets[kMaxDepthwiseRowTaps];
  int taps = 0;
  for (int fy = fy_begin; fy < fy_end; ++fy) {
    const int64_t row = (static_cast<int64_t>(b) * g.input_height + y0 + fy * g.dilation_height) *
                        g.input_width;
    for (int fx = 0; fx < g.filter_width; ++fx, ++taps) {
      tap_offsets[taps] = (row + static_cast<int64_t>(fx) * g.dilation_width) * depth;
      filter_offsets[taps] = (static_cast<int64_t>(fy) * g.filter_width + fx) * depth;
    }
  }
  const __m512i zp = _mm512_set1_epi16(static_cast<int16_t>(input_zero_point));
  const __m512i zero_point = _mm512_set1_epi32(q.zero_point);
  const __m512i low = _mm512_set1_epi32(q.min), high = _mm512_set1_epi32(q.max);
  int8_t* row_output =
      output + ((static_cast<int64_t>(b) * g.output_height + oy) * g.output_width) * depth;
  for (int c = 0; c < depth; c += 32) {
    const __mmask32 lanes = depth - c >= 32 ? ~__mmask32(0) : (__mmask32(1) << (depth - c)) - 1;
    const __mmask16 halves[2] = {static_cast<__mmask16>(lanes),
                                 static_cast<__mmask16>(lanes >> 16)};
    __m512i weights[kMaxDepthwiseRowTaps];
    for (int t = 0; t < taps; ++t) {
      weights[t] = _mm512_maskz_loadu_epi16(lanes, filter16 + filter_offsets[t] + c);
    }
    __m512i start[2], significand[2], left[2], right[2];
    for (int h = 0; h < 2; ++h) {
      const int channel = c + 16 * h;
      start[h] = bias != nullptr ? _mm512_maskz_loadu_epi32(halves[h], bias + channel)
                                 : _mm512_setzero_si512();
      significand[h] = _mm512_maskz_loadu_epi32(halves[h], q.significands + channel);
      left[h] = _mm512_maskz_loadu_epi32(halves[h], q.left_shifts + channel);
      right[h] = _mm512_maskz_loadu_epi32(halves[h], q.right_shifts + channel);
    }
    for (int ox = ox_begin; ox < ox_end; ++ox) {
      const int64_t x_offset =
          static_cast<int64_t>(ox * g.stride_width - g.pad_left) * depth + c;
      __m512i sums[2] = {start[0], start[1]};
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
      for (int h = 0; h < 2; ++h) {
        __m512i value =
            MultiplyByQuantizedMultiplierX16(sums[h], significand[h], left[h], right[h]);
        value = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(value, zero_point), low),
                                 high);
        _mm512_mask_cvtepi32_storeu_epi8(out + 16 * h, halves[h], value);
      }
    }
  }
}
#else
void DepthwiseRowInt8Avx512(const ConvGeometry&, int32_t, const ChannelRequantization&,
                            const int8_t*, const int16_t*, const int32_t*, int, int, int, int, int,
                            int, int8_t*) {}
#endif

}  // namespace kernels
}  // namespace tfq
