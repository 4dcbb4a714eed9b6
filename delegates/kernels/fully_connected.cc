#include "delegates/kernels/fully_connected.h"

#include <algorithm>
#include <cmath>

#include "delegates/kernels/dot.h"
#include "delegates/kernels/dot_int16.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace tfq {
namespace kernels {

namespace {

// TFLite's reference loop: the sum in `Acc` (int32 for int8, int64 for
// int16x8, where the input zero point is 0), the float64 rescale.
template <typename In, typename Acc, typename Out>
void FullyConnectedReference(const FullyConnectedShape& shape,
                             const FullyConnectedQuantization& quantization, const In* input,
                             const int8_t* weights, const Acc* bias, Out* output) {
  for (int b = 0; b < shape.batches; ++b) {
    const In* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = 0; o < shape.output_depth; ++o) {
      const int8_t* filter = weights + static_cast<int64_t>(o) * shape.input_depth;
      // The op's check bounds input_depth so this sum cannot overflow Acc.
      Acc acc = bias ? bias[o] : 0;
      for (int i = 0; i < shape.input_depth; ++i) {
        acc += (static_cast<int32_t>(row[i]) - quantization.input_zero_point) * filter[i];
      }
      // The check also bounds |acc * multiplier| < 2^31: the cast is defined.
      int32_t value = static_cast<int32_t>(
          std::round(static_cast<double>(acc) * quantization.multipliers[o]));
      value += quantization.output_zero_point;
      value = std::min(std::max(value, quantization.output_min), quantization.output_max);
      output[static_cast<int64_t>(b) * shape.output_depth + o] = static_cast<Out>(value);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// out[c] = clamp(round((double)(sums[c] + offsets[c]) * multipliers[c]) + zp)
// for c < n, 8 channels at a time. std::round rounds half away from zero:
// t = trunc(v), moved one away from zero where |v - t| >= 0.5 (v - t is
// exact for |v| < 2^52, and the op bounds |v| below 2^31).
__attribute__((target("avx512f"))) void RescaleFloat64Avx512(
    const int32_t* sums, const int32_t* offsets, const double* multipliers, int n,
    const FullyConnectedQuantization& q, int8_t* out) {
  const __m512d half = _mm512_set1_pd(0.5);
  const __m512i sign_bit = _mm512_set1_epi64(INT64_MIN), one = _mm512_castpd_si512(
      _mm512_set1_pd(1.0));
  const __m256i zero_point = _mm256_set1_epi32(q.output_zero_point);
  const __m512i low = _mm512_set1_epi32(q.output_min), high = _mm512_set1_epi32(q.output_max);
  for (int c = 0; c < n; c += 8) {
    const __mmask8 lanes = n - c >= 8 ? __mmask8(0xFF) : __mmask8((1u << (n - c)) - 1);
    const __m256i acc = _mm256_add_epi32(
        _mm512_castsi512_si256(_mm512_maskz_loadu_epi32(lanes, sums + c)),
        _mm512_castsi512_si256(_mm512_maskz_loadu_epi32(lanes, offsets + c)));
    const __m512d v = _mm512_mul_pd(_mm512_cvtepi32_pd(acc),
                                    _mm512_maskz_loadu_pd(lanes, multipliers + c));
    const __m512d t = _mm512_roundscale_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask8 away = _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_sub_pd(v, t)), half, _CMP_GE_OQ);
    const __m512d step = _mm512_castsi512_pd(
        _mm512_or_si512(_mm512_and_si512(_mm512_castpd_si512(v), sign_bit), one));
    const __m256i rounded = _mm512_cvtpd_epi32(_mm512_mask_add_pd(t, away, t, step));
    __m512i value = _mm512_castsi256_si512(_mm256_add_epi32(rounded, zero_point));
    value = _mm512_min_epi32(_mm512_max_epi32(value, low), high);
    _mm512_mask_cvtsepi32_storeu_epi8(out + c, lanes, value);
  }
}
#else
void RescaleFloat64Avx512(const int32_t*, const int32_t*, const double*, int,
                          const FullyConnectedQuantization&, int8_t*) {}
#endif

}  // namespace

void FullyConnectedInt8Packed(const FullyConnectedShape& shape,
                              const FullyConnectedQuantization& quantization,
                              const int8_t* input, const std::vector<int8_t>& packed,
                              const int32_t* offsets, int32_t* sums, int8_t* output,
                              int channel_begin, int channel_end) {
  const int end = channel_end < 0 ? shape.output_depth : channel_end;
  const int width = end - channel_begin;
  const int group_begin = channel_begin / 16, group_end = (end + 15) / 16;
  for (int first = 0; first < shape.batches; first += kPackedSumsMaxRows) {
    const int count = std::min(kPackedSumsMaxRows, shape.batches - first);
    const int8_t* rows[kPackedSumsMaxRows] = {};
    for (int r = 0; r < count; ++r) {
      rows[r] = input + static_cast<int64_t>(first + r) * shape.input_depth;
    }
    // sums + r * output_depth holds row r's channels at their own index.
    PackedDotRowsToInt32(rows, count, packed, end, shape.input_depth, group_begin, group_end,
                         sums, shape.output_depth);
    for (int r = 0; r < count; ++r) {
      RescaleFloat64Avx512(sums + static_cast<int64_t>(r) * shape.output_depth + channel_begin,
                           offsets + channel_begin, quantization.multipliers + channel_begin,
                           width, quantization,
                           output + static_cast<int64_t>(first + r) * shape.output_depth +
                               channel_begin);
    }
  }
}

void FullyConnectedInt8Reference(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* bias, int8_t* output) {
  FullyConnectedReference(shape, quantization, input, weights, bias, output);
}

void FullyConnectedInt16Reference(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const int8_t* weights,
                                  const int64_t* bias, int16_t* output) {
  FullyConnectedReference(shape, quantization, input, weights, bias, output);
}

void FullyConnectedInt16Optimized(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const std::vector<int16_t>& packed,
                                  const int64_t* bias, int64_t* acc, int16_t* output) {
  for (int first = 0; first < shape.batches; first += 4) {
    const int count = std::min(4, shape.batches - first);
    const int16_t* rows[4] = {};
    for (int r = 0; r < count; ++r) {
      rows[r] = input + static_cast<int64_t>(first + r) * shape.input_depth;
    }
    PackedDotInt16Rows(rows, count, packed, shape.output_depth, shape.input_depth, acc,
                       shape.output_depth);
    for (int r = 0; r < count; ++r) {
      for (int o = 0; o < shape.output_depth; ++o) {
        const int64_t sum = acc[static_cast<int64_t>(r) * shape.output_depth + o] +
                            (bias != nullptr ? bias[o] : 0);
        int32_t value = static_cast<int32_t>(
            std::round(static_cast<double>(sum) * quantization.multipliers[o]));
        value += quantization.output_zero_point;  // 0 for int16, as the input's
        value = std::min(std::max(value, quantization.output_min), quantization.output_max);
        output[static_cast<int64_t>(first + r) * shape.output_depth + o] =
            static_cast<int16_t>(value);
      }
    }
  }
}

void FullyConnectedInt8Optimized(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* weight_sums, const int32_t* bias,
                                 int8_t* output, int channel_begin, int channel_end) {
  const int end = channel_end < 0 ? shape.output_depth : channel_end;
  for (int b = 0; b < shape.batches; ++b) {
    const int8_t* row = input + static_cast<int64_t>(b) * shape.input_depth;
    for (int o = channel_begin; o < end; ++o) {
      int32_t acc = DotInt8(row, weights + static_cast<int64_t>(o) * shape.input_depth,
                            shape.input_depth) -
                    quantization.input_zero_point * weight_sums[o];
      if (bias != nullptr) acc += bias[o];
      int32_t value = static_cast<int32_t>(
          std::round(static_cast<double>(acc) * quantization.multipliers[o]));
      value += quantization.output_zero_point;
      value = std::min(std::max(value, quantization.output_min), quantization.output_max);
      output[static_cast<int64_t>(b) * shape.output_depth + o] = static_cast<int8_t>(value);
    }
  }
}

}  // namespace kernels
}  // namespace tfq
