#include "delegates/kernels/mean.h"

#include <algorithm>
#include <limits>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "delegates/kernels/fixed_point_avx512.h"
#endif

namespace tfq {
namespace kernels {

QuantizedMultiplier MeanMultiplier(QuantizedMultiplier scale_ratio, int64_t reduced_elements) {
  int k = 0;  // floor(log2 N)
  while ((reduced_elements >> (k + 1)) != 0) ++k;
  k = std::min(std::min(k, 32), 31 + scale_ratio.shift);
  QuantizedMultiplier result;
  result.significand = static_cast<int32_t>(
      (static_cast<int64_t>(scale_ratio.significand) << k) / reduced_elements);
  result.shift = scale_ratio.shift - k;
  return result;
}

void MeanScratch::Reserve(int rank, int64_t outputs) {
  sums.reserve(static_cast<size_t>(outputs));
  output_strides.reserve(static_cast<size_t>(rank));
  counter.reserve(static_cast<size_t>(rank));
}

namespace {

// The reduced dimensions as [outer][reduced_elements][inner] when they are
// one contiguous block; false otherwise.
bool ContiguousReduction(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                         int64_t* outer, int64_t* reduced_elements, int64_t* inner) {
  const int rank = static_cast<int>(input_shape.size());
  int first_reduced = 0, last_reduced = rank - 1;
  while (first_reduced < rank && !reduced[first_reduced]) ++first_reduced;
  while (last_reduced >= 0 && !reduced[last_reduced]) --last_reduced;
  if (first_reduced > last_reduced) return false;
  *outer = *reduced_elements = *inner = 1;
  for (int d = 0; d < rank; ++d) {
    if (d < first_reduced) {
      *outer *= input_shape[d];
    } else if (d > last_reduced) {
      *inner *= input_shape[d];
    } else if (reduced[d]) {
      *reduced_elements *= input_shape[d];
    } else {
      return false;  // a kept dimension between reduced ones
    }
  }
  return true;
}

// Whether MeanInt8Optimized sums in AVX-512 blocks: the CPU has it and the
// reduced dimensions are one block, [outer][reduced_elements][inner].
bool Avx512Blocks(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                  int64_t* outer, int64_t* reduced_elements, int64_t* inner) {
  return GetCpuFeatures().avx512 &&
         ContiguousReduction(input_shape, reduced, outer, reduced_elements, inner);
}

#if defined(__x86_64__) && defined(__GNUC__)
// One [reduced_elements][inner] block's means, 16 channels at a time: the
// sums stay in registers, then MultiplyByQuantizedMultiplier per lane.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void MeanBlockInt8Avx512(
    const int8_t* block, int64_t reduced_elements, int64_t inner, int32_t input_zero_point,
    int32_t output_zero_point, QuantizedMultiplier multiplier, int8_t* output) {
  const __m512i centering =
      _mm512_set1_epi32(static_cast<int32_t>(-int64_t{input_zero_point} * reduced_elements));
  const __m512i significand = _mm512_set1_epi32(multiplier.significand);
  const __m512i left_shift = _mm512_set1_epi32(std::max(multiplier.shift, 0));
  const __m512i right_shift = _mm512_set1_epi32(std::max(-multiplier.shift, 0));
  const __m512i zero_point = _mm512_set1_epi32(output_zero_point);
  const __m512i low = _mm512_set1_epi32(-128);
  for (int64_t i = 0; i < inner; i += 16) {
    const __mmask16 lanes =
        inner - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (inner - i)) - 1);
    __m512i sums = centering;
    for (int64_t r = 0; r < reduced_elements; ++r) {
      const __m128i values = _mm_maskz_loadu_epi8(lanes, block + r * inner + i);
      sums = _mm512_add_epi32(sums, _mm512_cvtepi8_epi32(values));
    }
    __m512i value =
        MultiplyByQuantizedMultiplierX16(sums, significand, left_shift, right_shift);
    // The conversion saturates at 127: only the lower clamp is needed.
    value = _mm512_max_epi32(_mm512_add_epi32(value, zero_point), low);
    _mm512_mask_cvtsepi32_storeu_epi8(output + i, lanes, value);
  }
}
#endif

template <typename T>
void MeanReference(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                   int32_t input_zero_point, int32_t output_zero_point,
                   QuantizedMultiplier multiplier, const T* input, T* output,
                   MeanScratch* scratch) {
  const int rank = static_cast<int>(input_shape.size());
  // Output strides over the input's dimensions: 0 along the reduced ones.
  std::vector<int64_t>& output_strides = scratch->output_strides;
  output_strides.assign(static_cast<size_t>(rank), 0);
  int64_t outputs = 1, inputs = 1, reduced_elements = 1;
  for (int d = rank - 1; d >= 0; --d) {
    inputs *= input_shape[d];
    if (reduced[d]) {
      reduced_elements *= input_shape[d];
    } else {
      output_strides[d] = outputs;
      outputs *= input_shape[d];
    }
  }
  std::vector<int32_t>& sums = scratch->sums;
  sums.assign(static_cast<size_t>(outputs), 0);
  // The op's check bounds N so no sum can overflow.
  int64_t outer, block_elements, inner;
  if (ContiguousReduction(input_shape, reduced, &outer, &block_elements, &inner)) {
    // One block of reduced dimensions (a global average pool's H and W):
    // the input is [outer][reduced_elements][inner], summed a row of
    // `inner` at a time (a loop the compiler vectorizes).
    for (int64_t o = 0; o < outer; ++o) {
      int32_t* row_sums = sums.data() + o * inner;
      const T* block = input + o * block_elements * inner;
      for (int64_t r = 0; r < block_elements; ++r) {
        const T* row = block + r * inner;
        for (int64_t i = 0; i < inner; ++i) row_sums[i] += row[i];
      }
    }
  } else {
    std::vector<int>& counter = scratch->counter;
    counter.assign(static_cast<size_t>(rank), 0);
    int64_t out = 0;
    for (int64_t in = 0; in < inputs; ++in) {
      sums[out] += input[in];
      for (int d = rank - 1; d >= 0; --d) {  // odometer over the input shape
        out += output_strides[d];
        if (++counter[d] < input_shape[d]) break;
        out -= output_strides[d] * input_shape[d];
        counter[d] = 0;
      }
    }
  }
  for (int64_t o = 0; o < outputs; ++o) {
    const int32_t centered =
        static_cast<int32_t>(sums[o] - static_cast<int64_t>(input_zero_point) * reduced_elements);
    const int32_t value = MultiplyByQuantizedMultiplier(centered, multiplier) + output_zero_point;
    output[o] = static_cast<T>(std::min<int32_t>(
        std::max<int32_t>(value, std::numeric_limits<T>::min()), std::numeric_limits<T>::max()));
  }
}

}  // namespace

void MeanInt8Reference(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                       int32_t input_zero_point, int32_t output_zero_point,
                       QuantizedMultiplier multiplier, const int8_t* input, int8_t* output,
                       MeanScratch* scratch) {
  MeanReference(input_shape, reduced, input_zero_point, output_zero_point, multiplier, input,
                output, scratch);
}

bool MeanInt8Vectorized(const std::vector<int>& input_shape, const std::vector<bool>& reduced) {
  int64_t outer, reduced_elements, inner;
  return Avx512Blocks(input_shape, reduced, &outer, &reduced_elements, &inner);
}

void MeanInt8Optimized(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                       int32_t input_zero_point, int32_t output_zero_point,
                       QuantizedMultiplier multiplier, const int8_t* input, int8_t* output,
                       MeanScratch* scratch) {
#if defined(__x86_64__) && defined(__GNUC__)
  int64_t outer, reduced_elements, inner;
  if (Avx512Blocks(input_shape, reduced, &outer, &reduced_elements, &inner)) {
    for (int64_t o = 0; o < outer; ++o) {
      MeanBlockInt8Avx512(input + o * reduced_elements * inner, reduced_elements, inner,
                          input_zero_point, output_zero_point, multiplier, output + o * inner);
    }
    return;
  }
#endif
  MeanInt8Reference(input_shape, reduced, input_zero_point, output_zero_point, multiplier, input,
                    output, scratch);
}

void MeanInt16Reference(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                        QuantizedMultiplier multiplier, const int16_t* input, int16_t* output,
                        MeanScratch* scratch) {
  MeanReference(input_shape, reduced, 0, 0, multiplier, input, output, scratch);
}

}  // namespace kernels
}  // namespace tfq
