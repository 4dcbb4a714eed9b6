// The optimized conv, depthwise and fully-connected kernels (zero point
// folded out, dot products in kernels/dot.h's clones) against the scalar
// references, on random shapes, windows and zero points including -128 and
// 127. Tolerance 0. (The Python tests compare the ops with BUILTIN_REF.)
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "delegates/kernels/conv.h"
#include "delegates/kernels/depthwise_avx512.h"
#include "delegates/kernels/depthwise_neon.h"
#include "delegates/kernels/depthwise_vnni.h"
#include "delegates/kernels/dot.h"
#include "delegates/kernels/dot_amx.h"
#include "delegates/kernels/fully_connected.h"
#include "delegates/kernels/pooling.h"
#include "tests/delegates/conv_test_cases.h"

namespace tfq {
namespace kernels {
namespace {

std::vector<int8_t> RandomInt8(std::mt19937* rng, size_t n, int low = -128) {
  std::uniform_int_distribution<int> values(low, 127);
  std::vector<int8_t> out(n);
  for (auto& v : out) v = static_cast<int8_t>(values(*rng));
  return out;
}

struct Case {
  ConvGeometry geometry;
  ConvQuantization quantization;
  std::vector<QuantizedMultiplier> multipliers;
  std::vector<int32_t> bias;
};

// Random multipliers, bias and zero points for geometry g.
Case CaseFor(std::mt19937* rng, const ConvGeometry& geometry) {
  std::uniform_int_distribution<int> zero_point(-128, 127);
  Case c;
  c.geometry = geometry;
  const ConvGeometry& g = c.geometry;
  for (int i = 0; i < g.output_depth; ++i) {
    c.multipliers.push_back(
        QuantizeMultiplier(std::uniform_real_distribution<double>(1e-4, 0.01)(*rng)));
    c.bias.push_back(std::uniform_int_distribution<int32_t>(-40000, 40000)(*rng));
  }
  const int32_t zps[] = {-128, 127, zero_point(*rng)};
  c.quantization = {zps[std::uniform_int_distribution<int>(0, 2)(*rng)],
                    zero_point(*rng), -128, 127, nullptr};
  return c;
}

Case RandomCase(std::mt19937* rng, bool depthwise) {
  return CaseFor(rng, RandomConvGeometry(rng, depthwise));
}

// n bytes that end where an inaccessible page begins: reading past them
// faults.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    span_ = (n + page - 1) / page * page + page;
    base_ = static_cast<int8_t*>(
        mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(base_, MAP_FAILED);
    EXPECT_EQ(mprotect(base_ + span_ - page, page, PROT_NONE), 0);
    data_ = base_ + span_ - page - n;
  }
  ~GuardedBytes() { munmap(base_, span_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  int8_t* data() { return data_; }

 private:
  int8_t* base_ = nullptr;
  int8_t* data_ = nullptr;
  size_t span_ = 0;
};

// Conv2DInt8Optimized's output on the AMX tiles (rows padded to 64 bytes, 32
// per block).
std::vector<int8_t> AmxConv(const Case& c, const RowRequantizer& requantizer,
                            const int8_t* input, const std::vector<int8_t>& filter,
                            const std::vector<int32_t>& offsets, size_t outputs) {
  const ConvGeometry& g = c.geometry;
  const int patch = g.filter_height * g.filter_width * g.input_depth;
  std::vector<int8_t> scratch(kAmxMaxRows * AmxRowStride(patch)), actual(outputs);
  const std::vector<int8_t> packed = PackFiltersAmx(filter.data(), g.output_depth, patch);
  Conv2DInt8Optimized(g, c.quantization, requantizer, input, filter.data(), {}, offsets.data(),
                      scratch.data(), nullptr, actual.data(), 0, -1, &packed);
  return actual;
}

// The packed kernel is the best the CPU has: under qemu-aarch64
// (tools/cross_aarch64.sh) $TFQ_EXPECT_CPU_FEATURES names the model's
// features, and -cpu max, neoverse-n1 and cortex-a53 must each take their
// own path (so each is the one the tests below compare with the reference).
TEST(ConvKernels, PackedKernelFollowsTheCpu) {
  const std::string kernel = PackedDotKernel();
  EXPECT_EQ(PackedDotAvailable(), !kernel.empty());
#if defined(__aarch64__)
  const char* expected_features = std::getenv("TFQ_EXPECT_CPU_FEATURES");
  if (expected_features != nullptr) {
    const std::string features = expected_features;
    const std::string expected = features.find("neon_i8mm") != std::string::npos ? "neon_i8mm"
                                 : features.find("neon_dotprod") != std::string::npos
                                     ? "neon_dotprod"
                                     : "neon";
    EXPECT_EQ(kernel, expected) << "features: " << features;
  }
#endif
}

TEST(ConvKernels, OptimizedMatchesReference) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    Case c = RandomCase(&rng, false);
    c.quantization.multipliers = c.multipliers.data();
    const ConvGeometry& g = c.geometry;
    const int patch = g.filter_height * g.filter_width * g.input_depth;
    auto input = RandomInt8(&rng, static_cast<size_t>(g.batches) * g.input_height *
                                      g.input_width * g.input_depth);
    auto filter = RandomInt8(&rng, static_cast<size_t>(g.output_depth) * patch);
    const int32_t* bias = trial % 3 == 0 ? nullptr : c.bias.data();
    const std::vector<int32_t> offsets = ConvOffsets(
        filter.data(), g.output_depth, patch, c.quantization.input_zero_point, bias);
    const size_t outputs =
        static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
    std::vector<int8_t> expected(outputs), actual(outputs),
        scratch(kConvPixelBlock * patch + 3);  // + 3: the packed kernel reads whole quads
    std::vector<int32_t> acc(kConvPixelBlock * g.output_depth);
    const RowRequantizer requantizer(c.multipliers, c.quantization.output_zero_point,
                                     c.quantization.output_min, c.quantization.output_max);
    Conv2DInt8Reference(g, g.input_depth, c.quantization, input.data(), filter.data(), bias,
                        expected.data());
    Conv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(), {},
                        offsets.data(), scratch.data(), acc.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
    if (PackedDotAvailable()) {  // and the packed-filter path, whose rows carry an offset
      const std::vector<int32_t> packed_offsets =
          ConvOffsets(filter.data(), g.output_depth, patch,
                      c.quantization.input_zero_point + PackedDotRowOffset(), bias);
      std::fill(actual.begin(), actual.end(), 0);
      Conv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(),
                          PackFiltersForOffsetRows(filter.data(), g.output_depth, patch),
                          packed_offsets.data(), scratch.data(), acc.data(), actual.data());
      ASSERT_EQ(expected, actual) << "packed, trial " << trial;
    }
    if (AmxAvailable()) {  // and the AMX tiles
      ASSERT_EQ(expected, AmxConv(c, requantizer, input.data(), filter, offsets, outputs))
          << "amx, trial " << trial;
    }
    if (PackedDotAvx2Available()) {  // and the AVX2 int16-pair kernel
      const PackedFiltersAvx2 avx2 = PackFiltersAvx2(filter.data(), g.output_depth, patch,
                                                     requantizer.channels(), offsets.data());
      std::vector<int16_t> wide(kPackedAvx2MaxRows * Avx2RowStride(patch));
      std::fill(actual.begin(), actual.end(), 0);
      Conv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(), {},
                          offsets.data(), scratch.data(), acc.data(), actual.data(), 0, -1,
                          nullptr, 0, -1, nullptr, &avx2, wide.data());
      ASSERT_FALSE(avx2.rescale.empty());  // these multipliers are in its range
      ASSERT_EQ(expected, actual) << "avx2, trial " << trial;
      // The epilogue a rescale outside that range takes (r = 0).
      PackedFiltersAvx2 other = avx2;
      other.rescale.clear();
      other.epilogue = MakeChannelBlocksAvx2(requantizer.channels(), offsets.data(),
                                             g.output_depth);
      std::fill(actual.begin(), actual.end(), 0);
      Conv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(), {},
                          offsets.data(), scratch.data(), acc.data(), actual.data(), 0, -1,
                          nullptr, 0, -1, nullptr, &other, wide.data());
      ASSERT_EQ(expected, actual) << "avx2 (8-channel epilogue), trial " << trial;
    }
  }
}

// Pointwise convs on AMX read the input where it lies, 32 evenly spaced
// pixels per block, each row over-read up to its next 64-byte boundary
// (those bytes meet zero weights); blocks whose over-read would leave the
// tensor, or whose pixels are not evenly spaced (stride 2 across an output
// row), are copied. The input ends where an inaccessible page begins, so a
// read past the tensor faults (ASan does not see tile loads, which are asm).
// Depths around 64 and MobileNetV2 / ResNet50's own.
TEST(ConvKernels, AmxPointwiseMatchesReference) {
  if (!AmxAvailable()) GTEST_SKIP() << "this CPU has no AMX-INT8";
  std::mt19937 rng(8);
  for (int depth : {3, 16, 24, 63, 64, 65, 96, 160, 256}) {
    for (int stride : {1, 2}) {
      ConvGeometry g;
      g.batches = 2;
      g.input_height = 7;
      g.input_width = 11;
      g.input_depth = depth;
      g.filter_height = g.filter_width = 1;
      g.output_depth = 40;
      g.stride_height = g.stride_width = stride;
      g.dilation_height = g.dilation_width = 1;
      g.pad_top = g.pad_left = 0;
      g.output_height = (g.input_height - 1) / stride + 1;
      g.output_width = (g.input_width - 1) / stride + 1;
      Case c = CaseFor(&rng, g);
      c.quantization.multipliers = c.multipliers.data();
      const auto values = RandomInt8(&rng, static_cast<size_t>(g.batches) * g.input_height *
                                               g.input_width * depth);
      GuardedBytes input(values.size());
      std::copy(values.begin(), values.end(), input.data());
      auto filter = RandomInt8(&rng, static_cast<size_t>(g.output_depth) * depth);
      const std::vector<int32_t> offsets = ConvOffsets(
          filter.data(), g.output_depth, depth, c.quantization.input_zero_point, c.bias.data());
      const size_t outputs =
          static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
      std::vector<int8_t> expected(outputs);
      Conv2DInt8Reference(g, depth, c.quantization, values.data(), filter.data(),
                          c.bias.data(), expected.data());
      const RowRequantizer requantizer(c.multipliers, c.quantization.output_zero_point,
                                       c.quantization.output_min, c.quantization.output_max);
      ASSERT_EQ(expected, AmxConv(c, requantizer, input.data(), filter, offsets, outputs))
          << "depth " << depth << ", stride " << stride;
    }
  }
}

TEST(ConvKernels, OptimizedDepthwiseMatchesReference) {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 300; ++trial) {
    Case c = RandomCase(&rng, true);
    c.quantization.multipliers = c.multipliers.data();
    const ConvGeometry& g = c.geometry;
    auto input = RandomInt8(&rng, static_cast<size_t>(g.batches) * g.input_height *
                                      g.input_width * g.input_depth);
    auto filter = RandomInt8(&rng, static_cast<size_t>(g.filter_height) * g.filter_width *
                                       g.output_depth);
    const size_t outputs =
        static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
    std::vector<int8_t> expected(outputs), actual(outputs);
    std::vector<int32_t> acc(g.output_depth);
    const int32_t* bias = trial % 3 == 0 ? nullptr : c.bias.data();
    DepthwiseConv2DInt8Reference(g, 1, c.quantization, input.data(), filter.data(), bias,
                                 expected.data());
    const RowRequantizer requantizer(c.multipliers, c.quantization.output_zero_point,
                                     c.quantization.output_min, c.quantization.output_max);
    DepthwiseConv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(),
                                 nullptr, bias, acc.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
    if (PackedDotAvx2Available()) {  // and the AVX2 pixel kernel (its epilogue, or the tail's)
      const std::vector<int16_t> filter16(filter.begin(), filter.end());
      const std::vector<ChannelBlockAvx2> blocks =
          MakeChannelBlocksAvx2(requantizer.channels(), bias, g.output_depth);
      std::fill(actual.begin(), actual.end(), 0);
      DepthwiseConv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(),
                                   filter16.data(), bias, acc.data(), actual.data(), 0, -1,
                                   &blocks);
      ASSERT_EQ(expected, actual) << "AVX2 pixels, trial " << trial
                                  << (blocks.empty() ? " (RowRequantizer)" : "");
      // The tap-pair kernel with the zero point folded out (empty when the
      // rescale is outside its range: none of these multipliers are).
      PackedDepthwiseAvx2 pairs =
          PackDepthwiseAvx2(filter.data(), g.filter_height * g.filter_width, g.output_depth,
                            bias, c.quantization.input_zero_point, requantizer.channels());
      ASSERT_FALSE(pairs.empty());
      // Pixel by pixel (the zero-point row as packed is too short for a
      // row), then whole rows once the op's Prepare has lengthened it.
      for (const bool rows : {false, true}) {
        if (rows) {
          pairs.FitZeroPointRow(pairs.RowBytes(
              g.output_width, static_cast<int64_t>(g.stride_width) * g.output_depth));
        }
        std::fill(actual.begin(), actual.end(), 0);
        DepthwiseConv2DInt8Optimized(g, c.quantization, requantizer, input.data(),
                                     filter.data(), nullptr, bias, acc.data(), actual.data(), 0,
                                     -1, nullptr, nullptr, &pairs);
        ASSERT_EQ(expected, actual) << "AVX2 tap pairs, trial " << trial
                                    << (rows ? ", rows" : ", pixels");
      }
    }
    if (DepthwiseNeonAvailable()) {  // and the NEON pixel kernel (filter -128 included)
      const std::vector<int16_t> filter16(filter.begin(), filter.end());
      std::fill(actual.begin(), actual.end(), 0);
      DepthwiseConv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(),
                                   filter16.data(), bias, acc.data(), actual.data());
      ASSERT_EQ(expected, actual) << "NEON, trial " << trial;
    }
    if (DepthwiseTapsAvailable()) {  // and the AVX-512 taps path (filter -128 included)
      const std::vector<int16_t> filter16(filter.begin(), filter.end());
      std::fill(actual.begin(), actual.end(), 0);
      DepthwiseConv2DInt8Optimized(g, c.quantization, requantizer, input.data(),
                                   filter.data(), filter16.data(), bias, acc.data(),
                                   actual.data());
      ASSERT_EQ(expected, actual) << "AVX-512 taps, trial " << trial;
      // Again with the epilogue's constants precomputed (the op's way).
      const std::vector<ChannelBlockConstants> blocks =
          MakeChannelBlocks(requantizer.channels(), bias, g.output_depth);
      std::fill(actual.begin(), actual.end(), 0);
      DepthwiseConv2DInt8Optimized(g, c.quantization, requantizer, input.data(), filter.data(),
                                   filter16.data(), bias, acc.data(), actual.data(), 0, -1,
                                   nullptr, blocks.data());
      ASSERT_EQ(expected, actual) << "precomputed blocks, trial " << trial;
    }
  }
}

// depthwise_vnni.h's whole-row kernel against the reference: `g` with a
// random filter, input and requantization; the activation clamp and
// multipliers chosen by `variant` so every epilogue runs (0: ReLU-like
// min >= zero point, single rounding without the sign fix; 1: no clamp,
// with it; 2: multipliers above 1, MBQM's two steps).
void ExpectDepthwiseVnniMatches(std::mt19937* rng, const ConvGeometry& g, int variant,
                                const std::string& label) {
  Case c = CaseFor(rng, g);
  if (variant == 0) {
    c.quantization.output_min = std::max(c.quantization.output_zero_point, -100);
    c.quantization.output_max = std::min(127, c.quantization.output_min + 90);
  }
  if (variant == 2) {
    for (auto& m : c.multipliers) {
      m = QuantizeMultiplier(std::uniform_real_distribution<double>(1.0, 3.0)(*rng));
    }
    for (auto& b : c.bias) b /= 400;
  }
  c.quantization.multipliers = c.multipliers.data();
  const auto input = RandomInt8(
      rng, static_cast<size_t>(g.batches) * g.input_height * g.input_width * g.input_depth);
  const auto filter = RandomInt8(
      rng, static_cast<size_t>(g.filter_height) * g.filter_width * g.output_depth);
  const size_t outputs =
      static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
  std::vector<int8_t> expected(outputs), actual(outputs, 0);
  const int32_t* bias = variant == 1 ? nullptr : c.bias.data();
  DepthwiseConv2DInt8Reference(g, 1, c.quantization, input.data(), filter.data(), bias,
                               expected.data());
  const RowRequantizer requantizer(c.multipliers, c.quantization.output_zero_point,
                                   c.quantization.output_min, c.quantization.output_max);
  const PackedDepthwiseVnni packed =
      PackDepthwiseVnni(filter.data(), g.filter_height, g.filter_width, g.output_depth, bias,
                        c.quantization.input_zero_point,
                        requantizer.channels());
  ASSERT_TRUE(DepthwiseVnniFits(g, packed)) << label;
  // In two row ranges, as two threads would, then in two block ranges.
  const int64_t rows = static_cast<int64_t>(g.batches) * g.output_height;
  DepthwiseRowsVnni(g, packed, input.data(), actual.data(), 0, rows / 2);
  DepthwiseRowsVnni(g, packed, input.data(), actual.data(), rows / 2, rows);
  ASSERT_EQ(expected, actual) << label << ", variant " << variant;
  std::fill(actual.begin(), actual.end(), 0);
  const int blocks = static_cast<int>(packed.blocks.size());
  DepthwiseRowsVnni(g, packed, input.data(), actual.data(), 0, rows, 0, blocks / 2);
  DepthwiseRowsVnni(g, packed, input.data(), actual.data(), 0, rows, blocks / 2, blocks);
  ASSERT_EQ(expected, actual) << label << ", variant " << variant << ", block ranges";
}

TEST(ConvKernels, DepthwiseVnniMatchesReference) {
  if (!DepthwiseVnniAvailable()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  std::mt19937 rng(14);
  // Random small geometries (padding anywhere in the window, batches of 2,
  // dilated rows and, here, columns).
  for (int trial = 0; trial < 300; ++trial) {
    ConvGeometry g = RandomConvGeometry(&rng, true);
    g.dilation_width = std::uniform_int_distribution<int>(1, 2)(rng);
    g.output_width = (g.input_width + 2 * g.pad_left - 1) / g.stride_width + 1;
    if (trial % 4 == 0) g.input_depth = g.output_depth = 64 + g.input_depth;  // 2 blocks
    ExpectDepthwiseVnniMatches(&rng, g, trial % 3, "trial " + std::to_string(trial));
  }
  // MobileNet-like depths (several 64-lane blocks, ragged last ones of 1, 2
  // and 4 row segments), 3x3, 5x5 and 7x7 windows (1 and 2 row quads; width
  // 7 on the generic path), strides 1 and 2, odd and wide rows (several
  // scratch chunks).
  for (int depth : {16, 32, 64, 96, 144, 200, 232}) {
    for (int window : {3, 5, 7}) {
      for (int stride : {1, 2}) {
        for (int width : {9, 10, 121}) {
          ConvGeometry g;
          g.batches = 1;
          g.input_height = 7;
          g.input_width = width;
          g.input_depth = g.output_depth = depth;
          g.filter_height = g.filter_width = window;
          g.stride_height = g.stride_width = stride;
          g.dilation_height = g.dilation_width = 1;
          g.pad_top = g.pad_left = window / 2;
          g.output_height = (g.input_height - 1) / stride + 1;
          g.output_width = (g.input_width - 1) / stride + 1;
          for (int variant = 0; variant < 3; ++variant) {
            ExpectDepthwiseVnniMatches(&rng, g, variant,
                                       "depth " + std::to_string(depth) + ", window " +
                                           std::to_string(window) + ", stride " +
                                           std::to_string(stride) + ", width " +
                                           std::to_string(width));
          }
        }
      }
    }
  }
}

// The kernel's limits: a filter taller or wider than 8 is not packed, and
// a dilated window wider than the scratch row does not fit.
TEST(ConvKernels, DepthwiseVnniDeclinesWhatItCannotHold) {
  if (!DepthwiseVnniAvailable()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  const std::vector<int8_t> filter(9 * 9 * 8, 1);
  const std::vector<int32_t> significands(8, 1 << 30), shifts(8, 0), right(8, 8);
  const ChannelRequantization q{significands.data(), shifts.data(), right.data(), 0, -128, 127};
  EXPECT_TRUE(PackDepthwiseVnni(filter.data(), 9, 3, 8, nullptr, 0, q).empty());
  EXPECT_TRUE(PackDepthwiseVnni(filter.data(), 3, 9, 8, nullptr, 0, q).empty());
  const PackedDepthwiseVnni packed = PackDepthwiseVnni(filter.data(), 3, 3, 8, nullptr, 0, q);
  ASSERT_FALSE(packed.empty());
  ConvGeometry g{1, 5, 200, 8, 3, 3, 5, 200, 8, 1, 1, 1, 1, 1, 1};
  EXPECT_TRUE(DepthwiseVnniFits(g, packed));
  g.dilation_width = 40;
  EXPECT_FALSE(DepthwiseVnniFits(g, packed));
}

TEST(PoolingKernels, OptimizedMaxPoolMatchesReference) {
  std::mt19937 rng(6);
  for (int trial = 0; trial < 200; ++trial) {
    ConvGeometry g = RandomConvGeometry(&rng, true);
    g.dilation_height = 1;  // pooling windows are not dilated
    g.output_height = (g.input_height + 2 * g.pad_top - 1) / g.stride_height + 1;
    const size_t inputs =
        static_cast<size_t>(g.batches) * g.input_height * g.input_width * g.input_depth;
    const size_t outputs =
        static_cast<size_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
    const int32_t low = trial % 3 == 0 ? -20 : -128, high = trial % 4 == 0 ? 50 : 127;
    auto input = RandomInt8(&rng, inputs);
    std::vector<int8_t> expected(outputs), actual(outputs);
    MaxPoolInt8Reference(g, low, high, input.data(), expected.data());
    MaxPoolInt8Optimized(g, low, high, input.data(), actual.data());
    ASSERT_EQ(expected, actual) << "int8, trial " << trial;
    std::vector<int16_t> input16(inputs), expected16(outputs), actual16(outputs);
    for (size_t i = 0; i < inputs; ++i) input16[i] = static_cast<int16_t>(input[i] * 251);
    MaxPoolInt16Reference(g, low * 200, high * 200, input16.data(), expected16.data());
    MaxPoolInt16Optimized(g, low * 200, high * 200, input16.data(), actual16.data());
    ASSERT_EQ(expected16, actual16) << "int16, trial " << trial;
  }
}

TEST(FullyConnectedKernels, OptimizedMatchesReference) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const FullyConnectedShape shape{1 + trial % 3, 1 + (trial * 7) % 300, 1 + trial % 33};
    std::vector<double> multipliers(shape.output_depth);
    for (auto& m : multipliers) m = std::uniform_real_distribution<double>(1e-5, 0.01)(rng);
    const int32_t zero_points[] = {-128, 127, 5};
    const FullyConnectedQuantization q{zero_points[trial % 3], -3, -128, 127,
                                       multipliers.data()};
    auto input = RandomInt8(&rng, static_cast<size_t>(shape.batches) * shape.input_depth);
    auto weights = RandomInt8(&rng, static_cast<size_t>(shape.output_depth) * shape.input_depth,
                              -127);
    std::vector<int32_t> bias(shape.output_depth, 1234), sums(shape.output_depth);
    FilterSums(weights.data(), shape.output_depth, shape.input_depth, sums.data());
    std::vector<int8_t> expected(static_cast<size_t>(shape.batches) * shape.output_depth);
    std::vector<int8_t> actual(expected.size());
    FullyConnectedInt8Reference(shape, q, input.data(), weights.data(), bias.data(),
                                expected.data());
    FullyConnectedInt8Optimized(shape, q, input.data(), weights.data(), sums.data(),
                                bias.data(), actual.data());
    ASSERT_EQ(expected, actual) << "trial " << trial;
  }
}

}  // namespace
}  // namespace kernels
}  // namespace tfq
