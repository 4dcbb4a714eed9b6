#include "delegates/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tfq {
namespace kernels {
namespace {

constexpr int kScaledDiffIntegerBits = 5;     // Q5.26 differences
constexpr int kAccumulationIntegerBits = 12;  // Q12.19 sum of exps

// gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent.
int32_t SaturatingShiftLeft(int32_t x, int exponent) {
  const int32_t threshold = (1 << (31 - exponent)) - 1;
  if (x > threshold) return std::numeric_limits<int32_t>::max();
  if (x < -threshold) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(static_cast<uint32_t>(x) << exponent);
}

int32_t Mul(int32_t a, int32_t b) { return SaturatingRoundingDoublingHighMul(a, b); }

// exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8.
int32_t ExpOnQuarterInterval(int32_t a) {
  constexpr int32_t kExpMinusOneEighth = 1895147668;
  constexpr int32_t kOneThird = 715827883;
  const int32_t x = a + (1 << 28);  // + 1/8
  const int32_t x2 = Mul(x, x);
  const int32_t x3 = Mul(x2, x);
  const int32_t x4 = Mul(x2, x2);
  const int32_t x4_over_4 = RoundingDivideByPowerOfTwo(x4, 2);
  const int32_t poly = RoundingDivideByPowerOfTwo(Mul(x4_over_4 + x3, kOneThird) + x2, 1);
  return kExpMinusOneEighth + Mul(kExpMinusOneEighth, x + poly);
}

// exp(a) for a <= 0 in Q5.26, result Q0.31 (gemmlowp exp_on_negative_values).
int32_t ExpOnNegativeValues(int32_t a) {
  constexpr int kFractionalBits = 31 - kScaledDiffIntegerBits;
  constexpr int32_t kOneQuarter = 1 << (kFractionalBits - 2);
  const int32_t mask = kOneQuarter - 1;
  const int32_t a_mod_quarter_minus_quarter = (a & mask) - kOneQuarter;
  int32_t result = ExpOnQuarterInterval(
      SaturatingShiftLeft(a_mod_quarter_minus_quarter, kScaledDiffIntegerBits));
  const int32_t remainder = a_mod_quarter_minus_quarter - a;
  // exp(-2^k) for k = -2..4, applied for each bit of the remainder.
  constexpr struct { int exponent; int32_t multiplier; } kBarrel[] = {
      {-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308},
      {2, 39332535},    {3, 720401},      {4, 242}};
  for (const auto& step : kBarrel) {
    if (remainder & (1 << (kFractionalBits + step.exponent))) {
      result = Mul(result, step.multiplier);
    }
  }
  return a == 0 ? std::numeric_limits<int32_t>::max() : result;
}

// 1 / (1 + a) for a in [0, 1), Q0.31 in and out: Newton-Raphson in Q2.29.
int32_t OneOverOnePlusX(int32_t a) {
  const int32_t half_denominator =
      static_cast<int32_t>((static_cast<int64_t>(a) + (int64_t{1} << 31)) / 2);
  constexpr int32_t k48Over17 = 1515870810, kMinus32Over17 = -1010580540;
  constexpr int32_t kOneQ2 = 1 << 29;
  int32_t x = k48Over17 + Mul(half_denominator, kMinus32Over17);
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus = kOneQ2 - Mul(half_denominator, x);
    x = x + SaturatingShiftLeft(Mul(x, one_minus), 2);
  }
  return SaturatingShiftLeft(x, 1);
}

// Round half away from zero of x / 2^exponent for any exponent >= 0: rows
// whose exps sum to >= 2^28 (>= 512 values near the max) need shifts past 31.
int32_t RoundingDivideByPowerOfTwoWide(int32_t x, int exponent) {
  if (exponent <= 31) return RoundingDivideByPowerOfTwo(x, exponent);
  return x == std::numeric_limits<int32_t>::min() && exponent == 32 ? -1 : 0;
}

int CountLeadingZeros(uint32_t x) {
  int zeros = 0;
  for (uint32_t bit = 1u << 31; bit != 0 && (x & bit) == 0; bit >>= 1) ++zeros;
  return zeros;
}

}  // namespace

bool MakeSoftmaxParams(double beta, double input_scale, SoftmaxParams* params) {
  const double real = std::min(beta * input_scale * (1 << (31 - kScaledDiffIntegerBits)),
                               static_cast<double>((int64_t{1} << 31) - 1));
  if (!(real > 1.0)) return false;
  params->input_multiplier = QuantizeMultiplier(real);
  if (params->input_multiplier.shift < 0 || params->input_multiplier.shift > 31) return false;
  const double radius = 1.0 * ((1 << kScaledDiffIntegerBits) - 1) *
                        static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)) /
                        static_cast<double>(int64_t{1} << params->input_multiplier.shift);
  params->diff_min = -static_cast<int32_t>(std::floor(radius));
  return true;
}

void SoftmaxInt8Reference(const SoftmaxParams& params, int64_t rows, int depth,
                          const int8_t* input, int8_t* output) {
  const int left_shift = params.input_multiplier.shift;
  auto scaled_exp = [&](int32_t difference) {
    // |difference| * 2^shift <= 31 * 2^26 when difference >= diff_min.
    return ExpOnNegativeValues(SaturatingRoundingDoublingHighMul(
        static_cast<int32_t>(static_cast<uint32_t>(difference) << left_shift),
        params.input_multiplier.significand));
  };
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* in = input + r * depth;
    int8_t* out = output + r * depth;
    int32_t row_max = -128;
    for (int c = 0; c < depth; ++c) row_max = std::max<int32_t>(row_max, in[c]);
    int32_t sum = 0;  // Q12.19; the op's check keeps depth below 4096
    for (int c = 0; c < depth; ++c) {
      const int32_t difference = in[c] - row_max;
      if (difference >= params.diff_min) {
        sum += RoundingDivideByPowerOfTwo(scaled_exp(difference), kAccumulationIntegerBits);
      }
    }
    const int headroom = CountLeadingZeros(static_cast<uint32_t>(sum));
    const int bits_over_unit = kAccumulationIntegerBits - headroom;
    const int32_t shifted_sum_minus_one = static_cast<int32_t>(
        (static_cast<uint32_t>(sum) << headroom) - (static_cast<uint32_t>(1) << 31));
    const int32_t reciprocal = OneOverOnePlusX(shifted_sum_minus_one);
    for (int c = 0; c < depth; ++c) {
      const int32_t difference = in[c] - row_max;
      int32_t value = -128;
      if (difference >= params.diff_min) {
        value = RoundingDivideByPowerOfTwoWide(Mul(reciprocal, scaled_exp(difference)),
                                               bits_over_unit + 31 - 8) - 128;
      }
      out[c] = static_cast<int8_t>(std::min(std::max(value, -128), 127));
    }
  }
}

}  // namespace kernels
}  // namespace tfq
