#include "delegates/kernels/softmax_int16.h"

#include <algorithm>
#include <cmath>

namespace tfq {
namespace kernels {
namespace {

double Exp(double x) { return std::exp(x); }
double OneOverOnePlusX(double x) { return 1.0 / (1.0 + x); }

int16_t SaturateInt16(int32_t value) {
  return static_cast<int16_t>(std::min(std::max(value, -32768), 32767));
}

int CountLeadingZeros(uint32_t value) { return value == 0 ? 32 : __builtin_clz(value); }

}  // namespace

bool MakeSoftmaxInt16Params(float scale_times_beta, SoftmaxInt16Params* params) {
  // Tables over [-10, 0] (exp; smaller values are negligible) and [0, 1]
  // (1 / (1 + x)), both to a symmetric [-1, 1] output grid.
  const double range = 65535.0;
  params->exp_lut = PopulateInt16Lut(10.0 / range, 32767, 2.0 / range, 0, &Exp);
  params->one_over_one_plus_x_lut =
      PopulateInt16Lut(1.0 / range, -32768, 2.0 / range, 0, &OneOverOnePlusX);
  params->input_multiplier =
      QuantizeMultiplier(static_cast<double>(scale_times_beta) / (10.0 / 65535.0));
  // |difference| <= 65535 < 2^16 is shifted left before the multiply.
  return params->input_multiplier.shift <= 15;
}

void SoftmaxInt16Reference(const SoftmaxInt16Params& params, int64_t rows, int depth,
                           const int16_t* input, int16_t* output) {
  for (int64_t row = 0; row < rows; ++row) {
    const int16_t* in = input + row * depth;
    int16_t* out = output + row * depth;
    const int16_t max_in_row = *std::max_element(in, in + depth);
    // The exps, kept in the output meanwhile, and their Q16.15 sum.
    int32_t sum_of_exps = 0;
    for (int c = 0; c < depth; ++c) {
      const int32_t scaled =
          MultiplyByQuantizedMultiplier(in[c] - max_in_row, params.input_multiplier);
      out[c] = LookupInt16Lut(SaturateInt16(scaled + 32767), params.exp_lut);
      sum_of_exps += out[c];
    }
    // 1 / sum: the sum normalized to [1, 2), recentred from x = sum - 1 in
    // [0, 1] to the table's symmetric input.
    const int headroom_plus_one = CountLeadingZeros(static_cast<uint32_t>(sum_of_exps));
    const int32_t shifted_sum = static_cast<int32_t>(
        ((static_cast<int64_t>(sum_of_exps) << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    const int16_t reciprocal = LookupInt16Lut(
        SaturateInt16(shifted_sum - ((1 << 15) + (1 << 16))), params.one_over_one_plus_x_lut);
    const int right_shift = 31 - headroom_plus_one;
    const int64_t round = int64_t{1} << (right_shift - 1);
    for (int c = 0; c < depth; ++c) {
      const int32_t result = static_cast<int32_t>(
          (static_cast<int64_t>(out[c]) * reciprocal + round) >> right_shift);
      out[c] = static_cast<int16_t>(std::min(std::max(result, 0), 32767));
    }
  }
}

}  // namespace kernels
}  // namespace tfq
