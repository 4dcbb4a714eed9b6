#include "delegates/kernels/mean.h"

#include <algorithm>
#include <limits>

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
  int first_reduced = 0, last_reduced = rank - 1;
  while (first_reduced < rank && !reduced[first_reduced]) ++first_reduced;
  while (last_reduced >= 0 && !reduced[last_reduced]) --last_reduced;
  bool contiguous = first_reduced <= last_reduced;
  for (int d = first_reduced; d <= last_reduced && contiguous; ++d) contiguous = reduced[d];
  if (contiguous) {
    // One block of reduced dimensions (a global average pool's H and W):
    // the input is [outer][reduced_elements][inner], summed a row of
    // `inner` at a time (a loop the compiler vectorizes).
    int64_t inner = 1;
    for (int d = last_reduced + 1; d < rank; ++d) inner *= input_shape[d];
    const int64_t outer = outputs / inner;
    for (int64_t o = 0; o < outer; ++o) {
      int32_t* row_sums = sums.data() + o * inner;
      const T* block = input + o * reduced_elements * inner;
      for (int64_t r = 0; r < reduced_elements; ++r) {
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

void MeanInt16Reference(const std::vector<int>& input_shape, const std::vector<bool>& reduced,
                        QuantizedMultiplier multiplier, const int16_t* input, int16_t* output,
                        MeanScratch* scratch) {
  MeanReference(input_shape, reduced, 0, 0, multiplier, input, output, scratch);
}

}  // namespace kernels
}  // namespace tfq
