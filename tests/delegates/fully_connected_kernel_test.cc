// The FULLY_CONNECTED kernels (the reference, the dot-product one, the
// AVX2 one and, on AVX-512 VNNI, the packed one, whole and split into
// channel ranges as threads run it) against a direct transcription of the
// reference formula, on values that stress them: extreme int8 inputs and
// zero points, large biases, exact .5 ties of the float64 rescale (both
// signs), clamping, and shapes at the edges of the packed kernels' 4-byte
// quads, 16- and 32-channel groups, odd depths and 2- and 4-row batches.
// Tolerance 0. (The Python tests compare the whole op with TFLite
// BUILTIN_REF.)
#include "delegates/kernels/fully_connected.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "delegates/kernels/dot.h"
#include "delegates/kernels/fully_connected_avx2.h"

namespace tfq {
namespace kernels {
namespace {

std::vector<int8_t> Expected(const FullyConnectedShape& s, const FullyConnectedQuantization& q,
                             const std::vector<int8_t>& in, const std::vector<int8_t>& w,
                             const std::vector<int32_t>* bias) {
  std::vector<int8_t> out(static_cast<size_t>(s.batches) * s.output_depth);
  for (int b = 0; b < s.batches; ++b) {
    for (int o = 0; o < s.output_depth; ++o) {
      int64_t acc = bias ? (*bias)[o] : 0;
      for (int i = 0; i < s.input_depth; ++i) {
        acc += (int64_t{in[b * s.input_depth + i]} - q.input_zero_point) * w[o * s.input_depth + i];
      }
      const double scaled = static_cast<double>(acc) * q.multipliers[o];
      // round half away from zero, written out rather than calling std::round
      const double rounded = scaled >= 0 ? std::floor(scaled + 0.5) : std::ceil(scaled - 0.5);
      int64_t value = static_cast<int64_t>(rounded) + q.output_zero_point;
      value = std::min<int64_t>(std::max<int64_t>(value, q.output_min), q.output_max);
      out[b * s.output_depth + o] = static_cast<int8_t>(value);
    }
  }
  return out;
}

struct Case {
  int batches, input_depth, output_depth;
  int32_t input_zero_point, output_zero_point, output_min, output_max;
  bool bias;
};

class FullyConnectedKernelTest : public ::testing::TestWithParam<Case> {};

TEST_P(FullyConnectedKernelTest, MatchesReferenceFormula) {
  const Case& c = GetParam();
  std::mt19937 rng(1234 + c.input_depth * 31 + c.output_depth);
  std::uniform_int_distribution<int> int8_dist(-128, 127), weight_dist(-127, 127);
  std::uniform_int_distribution<int32_t> bias_dist(-100000, 100000);
  std::uniform_real_distribution<double> mult_dist(1e-5, 2e-3);
  const FullyConnectedShape shape{c.batches, c.input_depth, c.output_depth};
  std::vector<int8_t> input(static_cast<size_t>(c.batches) * c.input_depth);
  std::vector<int8_t> weights(static_cast<size_t>(c.output_depth) * c.input_depth);
  std::vector<int32_t> bias(c.output_depth);
  std::vector<double> multipliers(c.output_depth);
  for (auto& v : input) v = static_cast<int8_t>(int8_dist(rng));
  // Row 0 all -128 and row 1 all 127: the extremes of (x - zp).
  for (int i = 0; i < c.input_depth; ++i) {
    input[i] = -128;
    if (c.batches > 1) input[c.input_depth + i] = 127;
  }
  for (auto& v : weights) v = static_cast<int8_t>(weight_dist(rng));
  for (auto& v : bias) v = bias_dist(rng);
  for (auto& m : multipliers) m = mult_dist(rng);
  multipliers[0] = 0.5;  // every odd accumulator is an exact tie
  // Channels 1-4 (with a bias): zero weights, biases +-1, +-3 at multiplier
  // 0.5, so their values are ties of both signs, one LSB from the zero point.
  for (int o = 1; o <= 4 && o < c.output_depth; ++o) {
    for (int i = 0; i < c.input_depth; ++i) weights[o * c.input_depth + i] = 0;
    bias[o] = (o % 2 ? 1 : -1) * (o <= 2 ? 1 : 3);
    multipliers[o] = 0.5;
  }
  const FullyConnectedQuantization quantization{c.input_zero_point, c.output_zero_point,
                                                c.output_min, c.output_max, multipliers.data()};
  const std::vector<int8_t> expected =
      Expected(shape, quantization, input, weights, c.bias ? &bias : nullptr);
  const int32_t* bias_data = c.bias ? bias.data() : nullptr;
  std::vector<int8_t> output(static_cast<size_t>(c.batches) * c.output_depth);
  FullyConnectedInt8Reference(shape, quantization, input.data(), weights.data(), bias_data,
                              output.data());
  EXPECT_EQ(output, expected) << "reference";

  std::vector<int32_t> weight_sums(c.output_depth), offsets(c.output_depth);
  FilterSums(weights.data(), c.output_depth, c.input_depth, weight_sums.data());
  for (int o = 0; o < c.output_depth; ++o) {
    offsets[o] = (c.bias ? bias[o] : 0) - c.input_zero_point * weight_sums[o];
  }
  // Whole, and in channel ranges of 16 and 48 (the op's thread split).
  for (int split : {0, 16, 48}) {
    std::fill(output.begin(), output.end(), 0);
    const int step = split == 0 ? c.output_depth : split;
    for (int begin = 0; begin < c.output_depth; begin += step) {
      const int end = std::min(c.output_depth, begin + step);
      FullyConnectedInt8Optimized(shape, quantization, input.data(), weights.data(),
                                  weight_sums.data(), bias_data, output.data(), begin, end);
    }
    EXPECT_EQ(output, expected) << "dot products, split " << split;
    if (FullyConnectedAvx2Available()) {  // blocks of 32 channels, split as threads do
      const PackedFullyConnectedAvx2 packed =
          PackFullyConnectedAvx2(weights.data(), c.output_depth, c.input_depth, offsets.data());
      std::vector<int16_t> rows16(packed.RowScratch());
      std::fill(output.begin(), output.end(), 0);
      const int block_step = std::max(1, step / kFullyConnectedAvx2Block);
      for (int begin = 0; begin < packed.blocks; begin += block_step) {
        FullyConnectedInt8Avx2(shape, quantization, input.data(), packed, rows16.data(),
                               output.data(), begin, std::min(packed.blocks, begin + block_step));
      }
      EXPECT_EQ(output, expected) << "avx2, split " << split;
    }
    if (!PackedSumsAvailable()) continue;
    const std::vector<int8_t> packed = PackFilters(weights.data(), c.output_depth, c.input_depth);
    std::vector<int32_t> sums(static_cast<size_t>(kPackedSumsMaxRows) * c.output_depth);
    std::fill(output.begin(), output.end(), 0);
    for (int begin = 0; begin < c.output_depth; begin += step) {
      const int end = std::min(c.output_depth, begin + step);
      FullyConnectedInt8Packed(shape, quantization, input.data(), packed, offsets.data(),
                               sums.data(), output.data(), begin, end);
    }
    EXPECT_EQ(output, expected) << "packed, split " << split;
  }
}

INSTANTIATE_TEST_SUITE_P(
    TileEdgesAndZeroPoints, FullyConnectedKernelTest,
    ::testing::Values(Case{1, 1, 1, 0, 0, -128, 127, true}, Case{3, 15, 7, -128, 127, -128, 127, true},
                      Case{2, 16, 8, 127, -128, -128, 127, false},
                      Case{4, 17, 9, 5, -3, -3, 127, true},      // RELU-style clamp
                      Case{2, 64, 33, -7, 0, 0, 60, true},       // RELU6-style clamp
                      Case{5, 65, 16, 0, 10, -20, 40, false},    // RELU_N1_TO1-style clamp
                      Case{2, 1000, 3, 100, -100, -128, 127, true},
                      // The packed kernel's edges: quads, groups of 16 (8 per
                      // pass for one row), batches past 4 rows.
                      Case{1, 1280, 1000, -3, 5, -128, 127, true},  // a batch-1 head
                      Case{1, 3, 129, 0, 0, -128, 127, true},
                      Case{9, 5, 17, -128, -128, -128, 127, true},
                      Case{6, 63, 144, 127, 3, -128, 127, false},
                      Case{7, 4, 15, 1, 1, -128, 127, true},
                      Case{8, 129, 65, -60, 90, -128, 127, true}));

}  // namespace
}  // namespace kernels
}  // namespace tfq
