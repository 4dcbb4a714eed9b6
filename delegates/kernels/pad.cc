#include "delegates/kernels/pad.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace tfq {
namespace kernels {

namespace {

// The dimensions after the last padded one are copied whole with it: they
// merge into it (sizes and paddings times their product), so each memcpy
// moves a run of the input as long as the padding allows (a 224 x 224 x 3
// image padded in H and W: rows of 672 bytes, not pixels of 3).
void MergeUnpaddedTail(std::vector<int>* shape, std::vector<int>* before,
                       std::vector<int>* after) {
  int last = static_cast<int>(shape->size()) - 1;
  while (last > 0 && (*before)[last] == 0 && (*after)[last] == 0) --last;
  int64_t inner = 1;
  for (size_t d = last + 1; d < shape->size(); ++d) inner *= (*shape)[d];
  if (last < 0 || inner == 1) return;
  const int64_t padded = ((*before)[last] + (*shape)[last] + (*after)[last]) * inner;
  if (padded > std::numeric_limits<int>::max()) return;  // sizes stay ints
  (*shape)[last] = static_cast<int>((*shape)[last] * inner);
  (*before)[last] = static_cast<int>((*before)[last] * inner);
  (*after)[last] = static_cast<int>((*after)[last] * inner);
  shape->resize(last + 1);
  before->resize(last + 1);
  after->resize(last + 1);
}

template <typename T>
void Pad(std::vector<int> input_shape, std::vector<int> before, std::vector<int> after, T fill,
         const T* input, T* output) {
  MergeUnpaddedTail(&input_shape, &before, &after);
  const int rank = static_cast<int>(input_shape.size());
  std::vector<int64_t> output_strides(rank, 1);
  int64_t outputs = 1, inputs = 1;
  for (int d = rank - 1; d >= 0; --d) {
    output_strides[d] = outputs;
    outputs *= before[d] + input_shape[d] + after[d];
    inputs *= input_shape[d];
  }
  std::fill(output, output + outputs, fill);
  if (inputs == 0) return;
  // Copy the input row by row (the innermost dimension is contiguous).
  const int row = rank == 0 ? 1 : input_shape[rank - 1];
  std::vector<int> counter(rank, 0);
  for (int64_t in = 0; in < inputs; in += row) {
    int64_t out = rank == 0 ? 0 : before[rank - 1];
    for (int d = 0; d + 1 < rank; ++d) out += (counter[d] + before[d]) * output_strides[d];
    std::memcpy(output + out, input + in, static_cast<size_t>(row) * sizeof(T));
    for (int d = rank - 2; d >= 0; --d) {  // odometer over all but the innermost dimension
      if (++counter[d] < input_shape[d]) break;
      counter[d] = 0;
    }
  }
}

}  // namespace

void PadInt8(const std::vector<int>& input_shape, const std::vector<int>& before,
             const std::vector<int>& after, int8_t fill, const int8_t* input, int8_t* output) {
  Pad(input_shape, before, after, fill, input, output);
}

void PadInt16(const std::vector<int>& input_shape, const std::vector<int>& before,
              const std::vector<int>& after, int16_t fill, const int16_t* input,
              int16_t* output) {
  Pad(input_shape, before, after, fill, input, output);
}

}  // namespace kernels
}  // namespace tfq
