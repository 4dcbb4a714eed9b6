// The int16x8 fast paths (kernels/dot_int16.h's packed dot products and the
// optimized conv / depthwise built on them) against plain int64 sums and
// the scalar references: random shapes and windows, and the extremes
// (-32768 inputs times -128 weights over thousands of taps), where an int32
// lane would overflow without the periodic flush. Tolerance 0. Whichever
// ISA path the CPU (or qemu's -cpu) picks is the one tested.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "delegates/kernels/conv.h"
#include "delegates/kernels/depthwise_avx512.h"
#include "delegates/kernels/dot_int16.h"
#include "delegates/kernels/fully_connected.h"
#include "tests/delegates/conv_test_cases.h"

namespace tfq {
namespace kernels {
namespace {

std::vector<int16_t> RandomInt16(std::mt19937* rng, size_t n) {
  std::uniform_int_distribution<int> values(-32768, 32767);
  std::vector<int16_t> out(n);
  for (auto& v : out) v = static_cast<int16_t>(values(*rng));
  return out;
}

std::vector<int8_t> RandomInt8(std::mt19937* rng, size_t n) {
  std::uniform_int_distribution<int> values(-128, 127);
  std::vector<int8_t> out(n);
  for (auto& v : out) v = static_cast<int8_t>(values(*rng));
  return out;
}

void ExpectPackedDotMatchesSums(const std::vector<int16_t>& input,
                                const std::vector<int8_t>& filters, int num_rows,
                                int output_depth, int n) {
  const std::vector<int16_t> packed = PackFiltersInt16(filters.data(), output_depth, n);
  const int16_t* rows[4] = {};
  for (int r = 0; r < num_rows; ++r) rows[r] = input.data() + static_cast<size_t>(r) * n;
  const int64_t stride = output_depth + 3;  // the output's row stride need not be its depth
  std::vector<int64_t> out(static_cast<size_t>(num_rows) * stride, -1);
  PackedDotInt16Rows(rows, num_rows, packed, output_depth, n, out.data(), stride);
  for (int r = 0; r < num_rows; ++r) {
    for (int c = 0; c < output_depth; ++c) {
      int64_t sum = 0;
      for (int i = 0; i < n; ++i) {
        sum += static_cast<int64_t>(rows[r][i]) * filters[static_cast<size_t>(c) * n + i];
      }
      ASSERT_EQ(sum, out[r * stride + c]) << "row " << r << " channel " << c << " n " << n;
    }
    for (int64_t c = output_depth; c < stride; ++c) {
      ASSERT_EQ(-1, out[r * stride + c]) << "wrote past channel " << output_depth;
    }
  }
}

TEST(PackedDotInt16, RandomShapesMatchInt64Sums) {
  std::mt19937 rng(11);
  // Depths around the 16-lane groups and tap counts around pairs and flushes.
  for (int output_depth : {1, 7, 16, 17, 33}) {
    for (int n : {1, 2, 3, 31, 256, 257, 600}) {
      for (int num_rows = 1; num_rows <= 4; ++num_rows) {
        ExpectPackedDotMatchesSums(RandomInt16(&rng, static_cast<size_t>(num_rows) * n),
                                   RandomInt8(&rng, static_cast<size_t>(output_depth) * n),
                                   num_rows, output_depth, n);
      }
    }
  }
}

TEST(PackedDotInt16, ExtremesDoNotOverflow) {
  // 4,099 taps of -32768 * -128 = 2^22 each: 2^34 in all, and every pair
  // sum at the int32 lanes' worst case.
  const int n = 4099, output_depth = 18;
  for (int8_t weight : {int8_t{-128}, int8_t{127}}) {
    ExpectPackedDotMatchesSums(std::vector<int16_t>(4 * n, -32768),
                               std::vector<int8_t>(static_cast<size_t>(output_depth) * n, weight),
                               4, output_depth, n);
  }
}

struct Int16Case {
  ConvGeometry geometry;
  std::vector<QuantizedMultiplier> multipliers;
  std::vector<int64_t> bias;
};

Int16Case RandomInt16Case(std::mt19937* rng, bool depthwise) {
  Int16Case c;
  c.geometry = RandomConvGeometry(rng, depthwise);
  const ConvGeometry& g = c.geometry;
  for (int i = 0; i < g.output_depth; ++i) {
    c.multipliers.push_back(
        QuantizeMultiplier(std::uniform_real_distribution<double>(1e-5, 1e-3)(*rng)));
    c.bias.push_back(std::uniform_int_distribution<int64_t>(-3000000, 3000000)(*rng));
  }
  return c;
}

TEST(ConvInt16Kernels, OptimizedMatchesReference) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 300; ++trial) {
    Int16Case c = RandomInt16Case(&rng, false);
    const ConvGeometry& g = c.geometry;
    const ConvQuantization q{0, 0, -32768, trial % 4 == 0 ? 6000 : 32767, c.multipliers.data()};
    const int patch = g.filter_height * g.filter_width * g.input_depth;
    auto input = RandomInt16(&rng, static_cast<size_t>(g.batches) * g.input_height *
                                       g.input_width * g.input_depth);
    auto filter = RandomInt8(&rng, static_cast<size_t>(g.output_depth) * patch);
    const size_t outputs =
        static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
    std::vector<int16_t> expected(outputs), actual(outputs), scratch(4 * patch);
    std::vector<int64_t> acc(4 * g.output_depth);
    const int64_t* bias = trial % 3 == 0 ? nullptr : c.bias.data();
    Conv2DInt16Reference(g, g.input_depth, q, input.data(), filter.data(), bias,
                         expected.data());
    Conv2DInt16Optimized(g, q, input.data(), PackFiltersInt16(filter.data(), g.output_depth, patch),
                         bias, scratch.data(), acc.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
  }
}

TEST(ConvInt16Kernels, OptimizedDepthwiseMatchesReference) {
  std::mt19937 rng(13);
  for (int trial = 0; trial < 300; ++trial) {
    Int16Case c = RandomInt16Case(&rng, true);
    const ConvGeometry& g = c.geometry;
    const ConvQuantization q{0, 0, trial % 4 == 0 ? -6000 : -32768, 32767, c.multipliers.data()};
    auto input = RandomInt16(&rng, static_cast<size_t>(g.batches) * g.input_height *
                                       g.input_width * g.input_depth);
    auto filter = RandomInt8(&rng, static_cast<size_t>(g.filter_height) * g.filter_width *
                                       g.output_depth);
    const std::vector<int16_t> filter16(filter.begin(), filter.end());
    const size_t outputs =
        static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
    std::vector<int16_t> expected(outputs), actual(outputs);
    std::vector<int32_t> acc(g.output_depth);
    const int64_t* bias = trial % 3 == 0 ? nullptr : c.bias.data();
    DepthwiseConv2DInt16Reference(g, 1, q, input.data(), filter.data(), bias, expected.data());
    DepthwiseConv2DInt16Optimized(g, q, input.data(), filter16.data(), bias, nullptr,
                                  acc.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
    if (DepthwiseRowInt16Available()) {  // and the AVX-512 row kernel
      const Int64Rescale rescale = MakeInt64Rescale(c.multipliers.data(), g.output_depth);
      std::fill(actual.begin(), actual.end(), 0);
      DepthwiseConv2DInt16Optimized(g, q, input.data(), filter16.data(), bias, &rescale,
                                    acc.data(), actual.data());
      ASSERT_EQ(expected, actual) << "row kernel, trial " << trial;
    }
  }
}

TEST(FullyConnectedInt16Kernels, OptimizedMatchesReference) {
  std::mt19937 rng(14);
  for (int trial = 0; trial < 200; ++trial) {
    // Batches around the 4-row blocks, depths around pairs and flushes.
    const FullyConnectedShape shape{1 + trial % 6, 1 + (trial * 37) % 700, 1 + trial % 35};
    std::vector<double> multipliers(shape.output_depth);
    for (auto& m : multipliers) m = std::uniform_real_distribution<double>(1e-7, 1e-5)(rng);
    const FullyConnectedQuantization q{0, 0, trial % 4 == 0 ? -9000 : -32768, 32767,
                                       multipliers.data()};
    auto input = RandomInt16(&rng, static_cast<size_t>(shape.batches) * shape.input_depth);
    auto weights = RandomInt8(&rng, static_cast<size_t>(shape.output_depth) * shape.input_depth);
    std::vector<int64_t> bias(shape.output_depth);
    for (auto& b : bias) b = std::uniform_int_distribution<int64_t>(-5000000, 5000000)(rng);
    const int64_t* bias_or_none = trial % 3 == 0 ? nullptr : bias.data();
    std::vector<int16_t> expected(static_cast<size_t>(shape.batches) * shape.output_depth);
    std::vector<int16_t> actual(expected.size());
    std::vector<int64_t> acc(4 * static_cast<size_t>(shape.output_depth));
    FullyConnectedInt16Reference(shape, q, input.data(), weights.data(), bias_or_none,
                                 expected.data());
    FullyConnectedInt16Optimized(
        shape, q, input.data(),
        PackFiltersInt16(weights.data(), shape.output_depth, shape.input_depth), bias_or_none,
        acc.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
  }
}

}  // namespace
}  // namespace kernels
}  // namespace tfq
