// ADD/SUB's optimized kernel (per-input 256-entry tables, contiguous fast
// path) against the scalar reference, with and without broadcasting, for
// random scales, zero points and clamps. Tolerance 0. (The Python tests
// compare the ops with BUILTIN_REF.)
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "delegates/cpu_features.h"
#include "delegates/kernels/add_sub.h"

namespace tfq {
namespace kernels {
namespace {

// int8 ADD quantization as TFLite derives it from random scales and zero
// points (the caller sets the clamp and ADD or SUB).
AddSubQuantization RandomInt8AddSub(std::mt19937* rng) {
  std::uniform_real_distribution<double> scales(0.001, 0.5);
  std::uniform_int_distribution<int> zero_points(-128, 127);
  const double s1 = scales(*rng), s2 = scales(*rng), s_out = 2 * scales(*rng);
  const double twice_max = 2 * std::max(s1, s2);
  AddSubQuantization q{};
  q.input1_zero_point = zero_points(*rng);
  q.input2_zero_point = zero_points(*rng);
  q.output_zero_point = zero_points(*rng);
  q.input1_multiplier = QuantizeMultiplier(s1 / twice_max);
  q.input2_multiplier = QuantizeMultiplier(s2 / twice_max);
  q.output_multiplier = QuantizeMultiplier(twice_max / ((1 << kAddSubLeftShift) * s_out));
  return q;
}

TEST(AddSubKernels, OptimizedMatchesReference) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> bytes(-128, 127);
  const std::vector<std::pair<std::vector<int>, std::vector<int>>> shapes = {
      {{2, 5, 7}, {2, 5, 7}}, {{1, 4, 4, 8}, {8}}, {{2, 1, 3}, {1, 4, 1}}, {{33}, {33}},
      // Same shape past several 16-lane steps, with a ragged tail.
      {{1, 257}, {1, 257}}, {{3, 300}, {3, 300}}};
  for (int trial = 0; trial < 200; ++trial) {
    AddSubQuantization q = RandomInt8AddSub(&rng);
    q.output_min = trial % 2 ? -128 : q.output_zero_point;
    q.output_max = trial % 3 ? 127 : 90;
    q.subtract = trial % 2 == 0;
    const auto& [shape1, shape2] = shapes[trial % shapes.size()];
    BroadcastShape shape;
    ASSERT_TRUE(Broadcast(shape1, shape2, &shape));
    auto random_bytes = [&](const std::vector<int>& dims) {
      size_t n = 1;
      for (int d : dims) n *= d;
      std::vector<int8_t> v(n);
      for (auto& x : v) x = static_cast<int8_t>(bytes(rng));
      return v;
    };
    const auto a = random_bytes(shape1), b = random_bytes(shape2);
    std::vector<int8_t> expected(shape.elements()), actual(shape.elements());
    AddSubInt8Reference(q, shape, a.data(), b.data(), expected.data());
    const AddSubInt8Optimized kernel(q);
    kernel.Run(shape, a.data(), b.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
    if (IsContiguous(shape)) {  // as threads split it: ranges that start mid-chunk
      std::vector<int8_t> pieces(shape.elements());
      const int64_t cut = shape.elements() / 3;
      kernel.RunContiguous(a.data(), b.data(), pieces.data(), 0, cut);
      kernel.RunContiguous(a.data(), b.data(), pieces.data(), cut, shape.elements());
      ASSERT_EQ(expected, pieces) << "trial " << trial;
    }
  }
}

// Every pair of input bytes against the reference, for ADD and SUB with
// random scales and zero points and a narrowed clamp: the 64 KiB table, and
// with AVX-512 or AVX2 the float path, whose elements within its window
// take the table (whole and cut mid-vector, as threads split the elements).
TEST(AddSubKernels, EveryPairOfBytesMatchesReference) {
  std::mt19937 rng(10);
  std::vector<int8_t> a(65536), b(65536);
  for (int i = 0; i < 65536; ++i) {
    a[i] = static_cast<int8_t>(i >> 8);
    b[i] = static_cast<int8_t>(i & 0xFF);
  }
  BroadcastShape shape;
  ASSERT_TRUE(Broadcast({65536}, {65536}, &shape));
  int pairs_in_window = 0;
  for (int trial = 0; trial < 40; ++trial) {
    AddSubQuantization q = RandomInt8AddSub(&rng);
    q.output_min = trial % 2 ? -128 : q.output_zero_point;
    q.output_max = trial % 4 < 2 ? 127 : 100;
    q.subtract = trial % 3 == 0;
    std::vector<int8_t> expected(65536), actual(65536), pieces(65536);
    AddSubInt8Reference(q, shape, a.data(), b.data(), expected.data());
    const AddSubInt8Optimized kernel(q);
    kernel.Run(shape, a.data(), b.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
    kernel.RunContiguous(a.data(), b.data(), pieces.data(), 0, 30001);
    kernel.RunContiguous(a.data(), b.data(), pieces.data(), 30001, 65536);
    ASSERT_EQ(expected, pieces) << "trial " << trial;
    pairs_in_window += kernel.UsesFloatPath() ? kernel.PairsInFloatPathWindow() : 0;
  }
  // The float path's table fallback was exercised too.
  if (GetCpuFeatures().avx2) {
    EXPECT_GT(pairs_in_window, 0);
  }
}

// The float path (AVX-512, or AVX2 with FMA3: every AVX2 CPU the tests run
// on) is taken for the quantizations models have, so the test above
// exercises it; on the portable path it never is.
TEST(AddSubKernels, FloatPathTakenWhereTheCpuHasIt) {
  std::mt19937 rng(11);
  int taken = 0;
  for (int trial = 0; trial < 100; ++trial) {
    AddSubQuantization q = RandomInt8AddSub(&rng);
    q.output_min = trial % 2 ? -128 : q.output_zero_point;
    q.output_max = 127;
    q.subtract = trial % 3 == 0;
    taken += AddSubInt8Optimized(q).UsesFloatPath();
  }
  if (GetCpuFeatures().avx2) {
    EXPECT_GE(taken, 95);
  } else {
    EXPECT_EQ(taken, 0);
  }
}

// int16x8 (zero points 0, left shift 15), same shapes: the vector path
// against the reference on full-range values, ranges cut mid-vector.
TEST(AddSubKernels, Int16ContiguousMatchesReference) {
  std::mt19937 rng(10);
  std::uniform_real_distribution<double> scales(1e-5, 1e-3);
  std::uniform_int_distribution<int> values(-32768, 32767);
  for (int trial = 0; trial < 200; ++trial) {
    const double s1 = scales(rng), s2 = scales(rng), s_out = 2 * scales(rng);
    const double twice_max = 2 * std::max(s1, s2);
    AddSubQuantization q{};
    q.left_shift = kAddSubLeftShiftInt16;
    q.input1_multiplier = QuantizeMultiplier(s1 / twice_max);
    q.input2_multiplier = QuantizeMultiplier(s2 / twice_max);
    q.output_multiplier =
        QuantizeMultiplier(twice_max / ((1 << kAddSubLeftShiftInt16) * s_out));
    q.output_min = trial % 2 ? -32768 : 0;
    q.output_max = trial % 3 ? 32767 : 9000;
    q.subtract = trial % 2 == 0;
    const int n = 1 + trial * 7 % 150;
    BroadcastShape shape;
    ASSERT_TRUE(Broadcast({n}, {n}, &shape));
    std::vector<int16_t> a(n), b(n), expected(n), actual(n);
    for (int i = 0; i < n; ++i) {
      a[i] = static_cast<int16_t>(values(rng));
      b[i] = static_cast<int16_t>(i % 5 == 0 ? -32768 : values(rng));
    }
    AddSubInt16Reference(q, shape, a.data(), b.data(), expected.data());
    const int64_t cut = n / 3;
    AddSubInt16Contiguous(q, a.data(), b.data(), actual.data(), 0, cut);
    AddSubInt16Contiguous(q, a.data(), b.data(), actual.data(), cut, n);
    ASSERT_EQ(expected, actual) << "trial " << trial;
  }
}

}  // namespace
}  // namespace kernels
}  // namespace tfq
