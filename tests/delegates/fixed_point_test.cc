// TFLite's fixed-point rescale in tfq's kernels: QuantizeMultiplier and
// MultiplyByQuantizedMultiplier against values worked out by hand and
// against a 128-bit transcription of gemmlowp's definition (the Q31 product
// rounded half up, then the power-of-two division rounded half away from
// zero). The Python tests compare whole ops with TFLite BUILTIN_REF.
#include "delegates/kernels/fixed_point.h"
#include "delegates/kernels/requantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace tfq {
namespace kernels {
namespace {

TEST(QuantizeMultiplier, KnownValues) {
  EXPECT_EQ(QuantizeMultiplier(0.5).significand, 1 << 30);
  EXPECT_EQ(QuantizeMultiplier(0.5).shift, 0);
  EXPECT_EQ(QuantizeMultiplier(1.0).significand, 1 << 30);
  EXPECT_EQ(QuantizeMultiplier(1.0).shift, 1);
  EXPECT_EQ(QuantizeMultiplier(0.75).significand, 1610612736);
  EXPECT_EQ(QuantizeMultiplier(0.1).shift, -3);
  // A significand that rounds up to 2^31 is halved and the shift bumped.
  const QuantizedMultiplier almost_one = QuantizeMultiplier(1.0 - 1e-12);
  EXPECT_EQ(almost_one.significand, 1 << 30);
  EXPECT_EQ(almost_one.shift, 1);
  // Below 2^-32 every bit would be shifted out: zero.
  EXPECT_EQ(QuantizeMultiplier(1e-12).significand, 0);
  EXPECT_EQ(QuantizeMultiplier(1e-12).shift, 0);
  EXPECT_EQ(QuantizeMultiplier(0.0).significand, 0);
}

TEST(FixedPoint, RoundingEdges) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(kMin, kMin), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(RoundingDivideByPowerOfTwo(5, 1), 3);    // 2.5 -> 3
  EXPECT_EQ(RoundingDivideByPowerOfTwo(-5, 1), -3);  // -2.5 -> -3
  EXPECT_EQ(RoundingDivideByPowerOfTwo(-4, 1), -2);
  EXPECT_EQ(RoundingDivideByPowerOfTwo(7, 0), 7);
  // x * 0.5: (x * 2^30 * 2) / 2^31 exactly; then no shift.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1001, QuantizeMultiplier(0.5)), 501);  // 500.5 -> 501
  // The high multiply rounds ties up, not away: -500.5 -> -500.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-1001, QuantizeMultiplier(0.5)), -500);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(300, QuantizeMultiplier(2.0)), 600);
}

int64_t RoundHalfUpDivide(__int128 numerator, __int128 denominator) {
  __int128 shifted = numerator + denominator / 2;
  __int128 quotient = shifted / denominator;
  if (shifted % denominator != 0 && shifted < 0) --quotient;  // floor
  return static_cast<int64_t>(quotient);
}

int64_t RoundHalfAwayDivide(__int128 numerator, __int128 denominator) {
  const __int128 magnitude = numerator < 0 ? -numerator : numerator;
  const __int128 rounded = (2 * magnitude + denominator) / (2 * denominator);
  return static_cast<int64_t>(numerator < 0 ? -rounded : rounded);
}

TEST(FixedPoint, MatchesTheDefinitionOnRandomValues) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> accumulators(-(1 << 24), 1 << 24);
  std::uniform_real_distribution<double> exponents(-20.0, 0.0);
  for (int i = 0; i < 200000; ++i) {
    const int32_t x = accumulators(rng);
    const QuantizedMultiplier m = QuantizeMultiplier(std::pow(2.0, exponents(rng)));
    ASSERT_LE(m.shift, 0);
    const int64_t high = RoundHalfUpDivide(static_cast<__int128>(x) * m.significand,
                                             static_cast<__int128>(1) << 31);
    const int64_t expected = RoundHalfAwayDivide(high, static_cast<__int128>(1) << -m.shift);
    ASSERT_EQ(MultiplyByQuantizedMultiplier(x, m), expected)
        << "x=" << x << " significand=" << m.significand << " shift=" << m.shift;
  }
}

// The row requantizer (AVX-512 on CPUs that have it) == the scalar rescale,
// over multipliers from 2^-31 to 2^7 (right shifts up to 31, left shifts up
// to 7), accumulators that keep x * 2^left in int32, every zero point and
// clamp, and row lengths around the 16-lane width.
TEST(RowRequantizer, MatchesTheScalarRescale) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> exponents(-31.0, 7.0);
  std::uniform_int_distribution<int32_t> zero_points(-128, 127);
  for (int n : {1, 15, 16, 17, 31, 33, 100}) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<QuantizedMultiplier> multipliers(n);
      std::vector<int32_t> acc(n);
      for (int c = 0; c < n; ++c) {
        multipliers[c] = QuantizeMultiplier(std::pow(2.0, exponents(rng)));
        const int left = multipliers[c].shift > 0 ? multipliers[c].shift : 0;
        const int32_t bound = (int32_t{1} << (30 - left)) - 1;
        acc[c] = std::uniform_int_distribution<int32_t>(-bound, bound)(rng);
      }
      const int32_t zero_point = zero_points(rng);
      const int32_t low = trial % 2 ? -128 : zero_point, high = trial % 3 ? 127 : 100;
      const RowRequantizer requantizer(multipliers, zero_point, low, high);
      std::vector<int8_t> actual(n);
      requantizer.Run(acc.data(), 0, n, actual.data());
      for (int c = 0; c < n; ++c) {
        const int32_t value = MultiplyByQuantizedMultiplier(acc[c], multipliers[c]) + zero_point;
        ASSERT_EQ(actual[c], static_cast<int8_t>(std::min(std::max(value, low), high)))
            << "n=" << n << " c=" << c << " acc=" << acc[c] << " shift=" << multipliers[c].shift;
      }
    }
  }
}

}  // namespace
}  // namespace kernels
}  // namespace tfq
