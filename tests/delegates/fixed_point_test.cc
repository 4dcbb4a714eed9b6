// TFLite's fixed-point rescale in tfq's kernels: QuantizeMultiplier and
// MultiplyByQuantizedMultiplier against values worked out by hand and
// against a 128-bit transcription of gemmlowp's definition (the Q31 product
// rounded half up, then the power-of-two division rounded half away from
// zero). The Python tests compare whole ops with TFLite BUILTIN_REF.
#include "delegates/kernels/fixed_point.h"
#include "delegates/kernels/requantize.h"

#include <gtest/gtest.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "delegates/kernels/fixed_point_avx512.h"
#include "delegates/kernels/rescale_avx2.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <tuple>
#include <utility>
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

#if defined(__x86_64__) && defined(__GNUC__)
// The dot-product kernels' epilogue, one row of 16 channels.
__attribute__((target("avx512f,avx512bw"))) void RescaleRow(const ChannelRequantization& rescale,
                                                            const int32_t* offsets, int width,
                                                            const int32_t* sums, int8_t* out) {
  const ChannelBlockX16 block = LoadChannelBlockX16(rescale, offsets, 0, width);
  StoreRescaledX16(block, _mm512_loadu_si512(sums), out);
}

// RescaleRow against MultiplyByQuantizedMultiplier + zero point + clamp.
void ExpectRescaleRowMatches(const std::vector<QuantizedMultiplier>& multipliers,
                             const int32_t* offsets, int width, const int32_t* sums,
                             int32_t zero_point, int32_t low, int32_t high) {
  const RowRequantizer requantizer(multipliers, zero_point, low, high);
  int8_t out[16] = {};
  RescaleRow(requantizer.channels(), offsets, width, sums, out);
  for (int c = 0; c < 16; ++c) {
    const int32_t value = MultiplyByQuantizedMultiplier(sums[c] + offsets[c], multipliers[c]) +
                          zero_point;
    const int8_t expected = c < width ? static_cast<int8_t>(std::min(std::max(value, low), high)) : 0;
    ASSERT_EQ(out[c], expected) << "c=" << c << " sum=" << sums[c] << " offset=" << offsets[c]
                                << " significand=" << multipliers[c].significand
                                << " shift=" << multipliers[c].shift;
  }
}

// ChannelBlockX16 against the scalar rescale: blocks whose channels all
// shift right (the single-rounding path, right shifts 0 to 31) and blocks
// with a left shift (MBQM's two steps), sums over the whole int32 range
// where no channel shifts left (INT32_MIN, INT32_MAX and the Q31 rounding
// ties included), narrower blocks, clamps and zero points.
TEST(ChannelBlockX16, MatchesTheScalarRescale) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) {
    GTEST_SKIP() << "this CPU has no AVX-512 BW";
  }
  std::mt19937 rng(12);
  std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max());
  std::uniform_int_distribution<int32_t> zero_points(-128, 127), small(-70000, 70000);
  for (int trial = 0; trial < 20000; ++trial) {
    SCOPED_TRACE(trial);
    const bool left_shifts = trial % 4 == 3;
    const int width = trial % 5 == 4 ? 1 + trial % 16 : 16;
    std::vector<QuantizedMultiplier> multipliers(16);
    int32_t sums[16], offsets[16] = {};
    for (int c = 0; c < 16; ++c) {
      const double exponent =
          std::uniform_real_distribution<double>(left_shifts ? -8.0 : -31.0, left_shifts ? 7.0 : 0.0)(rng);
      multipliers[c] = QuantizeMultiplier(std::pow(2.0, exponent));
      const int left = multipliers[c].shift > 0 ? multipliers[c].shift : 0;
      if (left_shifts) {
        const int32_t bound = (int32_t{1} << (30 - left)) - 1;
        sums[c] = std::uniform_int_distribution<int32_t>(-bound, bound)(rng);
      } else {
        switch (trial % 7) {
          case 0: sums[c] = c % 2 ? std::numeric_limits<int32_t>::min()
                                  : std::numeric_limits<int32_t>::max(); break;
          case 1: sums[c] = small(rng); break;
          default: sums[c] = any(rng);
        }
        offsets[c] = trial % 3 == 0 ? small(rng) / 4 : 0;
        // Keep sum + offset in int32, as the kernels' accumulators are.
        if (static_cast<int64_t>(sums[c]) + offsets[c] != static_cast<int32_t>(
                static_cast<int64_t>(sums[c]) + offsets[c])) {
          offsets[c] = 0;
        }
      }
    }
    // Lower clamps below the zero point and at it (a fused ReLU, where the
    // single rounding skips its sign fix).
    const int32_t zero_point = zero_points(rng);
    ExpectRescaleRowMatches(multipliers, offsets, width, sums, zero_point,
                            trial % 2 ? -128 : trial % 4 == 0 ? zero_point : -20,
                            trial % 3 ? 127 : 100);
    if (HasFailure()) return;
  }
}

// Products x * significand placed on and beside every rounding boundary of
// the given right shifts: x * significand = k * 2^30 + d + j * 2^(31 + r)
// (k = -3 .. 3, d = -1, 0, 1) for small x and j, the significand solved for
// (so the output is small, not clamped), returned as (sum, multiplier).
std::vector<std::pair<int32_t, QuantizedMultiplier>> RoundingBoundaryCases(
    std::initializer_list<int> right_shifts) {
  std::vector<std::pair<int32_t, QuantizedMultiplier>> cases;
  for (int right : right_shifts) {
    const int64_t period = int64_t{1} << (31 + right);
    for (int k = -3; k <= 3; ++k) {
      for (int d = -1; d <= 1; ++d) {
        for (int x = -300; x <= 300; ++x) {
          if (x == 0) continue;
          for (int64_t j = -300; j <= 300; ++j) {
            const int64_t product = k * (int64_t{1} << 30) + d + j * period;
            if (product % x != 0) continue;
            const int64_t significand = product / x;
            if (significand < (int64_t{1} << 30) || significand >= (int64_t{1} << 31)) continue;
            cases.push_back({x, {static_cast<int32_t>(significand), -right}});
            break;  // one per (x, boundary)
          }
        }
      }
    }
  }
  return cases;
}

// Products on and beside the rounding boundaries of right shifts 0, 1, 2 and
// 5, reached as sum + offset. A rounding constant off by one fails here.
TEST(ChannelBlockX16, RoundingBoundaries) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) {
    GTEST_SKIP() << "this CPU has no AVX-512 BW";
  }
  const std::vector<std::pair<int32_t, QuantizedMultiplier>> cases =
      RoundingBoundaryCases({0, 1, 2, 5});
  ASSERT_GT(cases.size(), 5000u);
  // The boundary value x reached as sum + offset, with zero points either side.
  std::mt19937 rng(13);
  std::uniform_int_distribution<int32_t> offsets_drawn(-100000, 100000), zero_points(-128, 127);
  for (size_t first = 0; first + 16 <= cases.size(); first += 16) {
    SCOPED_TRACE(first);
    std::vector<QuantizedMultiplier> multipliers(16);
    int32_t sums[16], offsets[16];
    for (int c = 0; c < 16; ++c) {
      int32_t x;
      std::tie(x, multipliers[c]) = cases[first + c];
      offsets[c] = (first / 16) % 2 ? offsets_drawn(rng) : 0;
      sums[c] = x - offsets[c];
    }
    // Unclamped, and clamped at the zero point (ReLU: the negative ties
    // are rounded without the sign fix, then clamped).
    const int32_t zero_point = (first / 16) % 3 ? zero_points(rng) : 0;
    ExpectRescaleRowMatches(multipliers, offsets, 16, sums, zero_point, -128, 127);
    ExpectRescaleRowMatches(multipliers, offsets, 16, sums, zero_point, zero_point, 127);
    if (HasFailure()) return;
  }
}

// RescaleX16 (rescale_avx2.h) on 16 channels vs the scalar rescale + zero
// point + clamp.
__attribute__((target("avx2"))) void ExpectAvx2RescaleMatches(const std::vector<QuantizedMultiplier>& multipliers,
                              const int32_t sums[16], int32_t zero_point, int32_t low,
                              int32_t high) {
  std::vector<int32_t> significands(16), left(16), right(16);
  for (int c = 0; c < 16; ++c) {
    significands[c] = multipliers[c].significand;
    left[c] = multipliers[c].shift > 0 ? multipliers[c].shift : 0;
    right[c] = multipliers[c].shift > 0 ? 0 : -multipliers[c].shift;
  }
  const ChannelRequantization q{significands.data(), left.data(), right.data(), zero_point, low,
                                high};
  const std::vector<RescaleBlockAvx2> blocks = MakeRescaleBlocksAvx2(q, 16);
  ASSERT_EQ(blocks.size(), 1u);
  alignas(32) int32_t lanes[16];
  std::copy(sums, sums + 16, lanes);
  alignas(16) int8_t out[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(out),
                  RescaleX16(blocks[0], _mm256_load_si256(reinterpret_cast<__m256i*>(lanes)),
                             _mm256_load_si256(reinterpret_cast<__m256i*>(lanes + 8)),
                             _mm_set1_epi8(static_cast<int8_t>(low)),
                             _mm_set1_epi8(static_cast<int8_t>(high))));
  for (int c = 0; c < 16; ++c) {
    const int32_t expected = std::min(
        high, std::max(low, MultiplyByQuantizedMultiplier(sums[c], multipliers[c]) + zero_point));
    ASSERT_EQ(out[c], expected) << "c=" << c << " sum=" << sums[c]
                                << " significand=" << multipliers[c].significand
                                << " shift=" << multipliers[c].shift << " zp=" << zero_point;
  }
}

// Right shifts 1 to 31 (multipliers in [2^-32, 0.5), powers of two, whose
// significand 2^30 is the edge of the sign test, included), sums over the
// whole int32 range, zero points and clamps.
TEST(RescaleAvx2, MatchesTheScalarRescale) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(14);
  std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max());
  std::uniform_int_distribution<int32_t> zero_points(-128, 127), small(-70000, 70000),
      tiny(-3, 3), exponents(-31, -2);
  for (int trial = 0; trial < 20000; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<QuantizedMultiplier> multipliers(16);
    int32_t sums[16];
    for (int c = 0; c < 16; ++c) {
      const double multiplier =
          trial % 5 == 0 ? std::pow(2.0, exponents(rng))
                         : std::pow(2.0, std::uniform_real_distribution<double>(-31.0, -1.0)(rng));
      multipliers[c] = QuantizeMultiplier(multiplier);
      if (multipliers[c].significand == 0 || multipliers[c].shift > -1) {
        multipliers[c] = QuantizeMultiplier(0.3);
      }
      switch (trial % 7) {
        case 0: sums[c] = c % 2 ? std::numeric_limits<int32_t>::min()
                                : std::numeric_limits<int32_t>::max(); break;
        case 1: sums[c] = small(rng); break;
        case 2: sums[c] = tiny(rng); break;
        default: sums[c] = any(rng);
      }
    }
    const int32_t zero_point = zero_points(rng);
    ExpectAvx2RescaleMatches(multipliers, sums, zero_point,
                             trial % 2 ? -128 : trial % 4 == 0 ? zero_point : -20,
                             trial % 3 ? 127 : 100);
    if (HasFailure()) return;
  }
}

// Products on and beside the rounding boundaries of right shifts 1, 2, 5
// and 20 (as ChannelBlockX16's test places them), zero points either side.
TEST(RescaleAvx2, RoundingBoundaries) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "this CPU has no AVX2";
  const std::vector<std::pair<int32_t, QuantizedMultiplier>> cases =
      RoundingBoundaryCases({1, 2, 5, 20});
  ASSERT_GT(cases.size(), 5000u);
  std::mt19937 rng(15);
  std::uniform_int_distribution<int32_t> zero_points(-128, 127);
  for (size_t first = 0; first + 16 <= cases.size(); first += 16) {
    SCOPED_TRACE(first);
    std::vector<QuantizedMultiplier> multipliers(16);
    int32_t sums[16];
    for (int c = 0; c < 16; ++c) std::tie(sums[c], multipliers[c]) = cases[first + c];
    const int32_t zero_point = (first / 16) % 3 ? zero_points(rng) : 0;
    ExpectAvx2RescaleMatches(multipliers, sums, zero_point, -128, 127);
    ExpectAvx2RescaleMatches(multipliers, sums, zero_point, zero_point, 127);
    if (HasFailure()) return;
  }
}

// Outside its range (r = 0, a left shift, a zero multiplier) it declines.
TEST(RescaleAvx2, DeclinesWhatItCannotRound) {
  for (double multiplier : {0.5, 0.75, 3.0, 0.0}) {
    const QuantizedMultiplier m = QuantizeMultiplier(multiplier);
    const int32_t significand = m.significand, left = m.shift > 0 ? m.shift : 0,
                  right = m.shift > 0 ? 0 : -m.shift;
    const ChannelRequantization q{&significand, &left, &right, 0, -128, 127};
    EXPECT_TRUE(MakeRescaleBlocksAvx2(q, 1).empty()) << multiplier;
  }
}
#endif

}  // namespace
}  // namespace kernels
}  // namespace tfq
