#include "delegates/kernels/sigmoid_int16.h"

#include <array>
#include <cmath>
#include <cstdlib>

namespace tfq {
namespace kernels {
namespace {

// TFLite's table of sigmoid(i / 24) in 0.16 fixed point, i < 256, for
// linear interpolation: each node is raised by half the interpolation
// error between nodes (|f''| / 16 for unit steps, f(i) = 2^16 sigmoid(i /
// 24)), so chords straddle the concave curve; the last node is the
// saturation value 65535 the interpolation runs into. (Rebuilt from that
// formula; tests/test_delegate_int16x8.py compares every int16 input at
// eight input scales with BUILTIN_REF.)
const std::array<uint32_t, 256>& SigmoidTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> values{};
    for (int i = 0; i < 256; ++i) {
      const double s = 1.0 / (1.0 + std::exp(-i / 24.0));
      const double curvature = 65536.0 * s * (1.0 - s) * (2.0 * s - 1.0) / (24.0 * 24.0);
      values[i] = static_cast<uint32_t>(
          std::fmin(std::round(65536.0 * s + curvature / 16.0), 65535.0));
    }
    values[255] = 65535;
    return values;
  }();
  return table;
}

// The multiplier with the shift folded in for a power-of-two scale, as the
// reference does at every call.
SigmoidInputRescale Effective(const SigmoidInputRescale& r) {
  if (r.multiplier == 0) return {3 << r.left_shift, 0};
  return r;
}

int32_t RescaledInput(int16_t q, const SigmoidInputRescale& r) {
  const int32_t round = r.left_shift > 0 ? 1 << (r.left_shift - 1) : 0;
  return (q * r.multiplier + round) >> r.left_shift;
}

// The table interpolated linearly at `magnitude`, 2^step_bits input units
// per table step, in units of 2^-(16 + step_bits); `saturated` past its end.
uint32_t Interpolate(uint32_t magnitude, int step_bits, uint32_t saturated) {
  const std::array<uint32_t, 256>& table = SigmoidTable();
  const uint32_t step = magnitude >> step_bits;
  if (step >= 255) return saturated;
  const uint32_t fraction = magnitude & ((1u << step_bits) - 1);
  return (table[step] << step_bits) + fraction * (table[step + 1] - table[step]);
}

}  // namespace

bool CheckedLog2(float x, int* log2_rounded) {
  const float x_log2 = std::log(x) * (1.0f / std::log(2.0f));
  const float rounded = std::round(x_log2);
  *log2_rounded = static_cast<int>(rounded);
  return std::fabs(x_log2 - rounded) < 1e-3f;
}

bool ComputeSigmoidInputRescale(float input_scale, bool tanh, SigmoidInputRescale* rescale) {
  constexpr int kInputIntegerBits = 3;
  int scale_log2 = 0;
  bool power_of_two = CheckedLog2(input_scale, &scale_log2);
  rescale->multiplier = 0;
  rescale->left_shift = (15 - kInputIntegerBits) + scale_log2;
  power_of_two &= rescale->left_shift == 0 || (tanh && rescale->left_shift == 1);
  if (power_of_two) return true;
  double multiplier = static_cast<double>(input_scale) * 4096.0 * 3.0;
  rescale->left_shift = 0;
  while (multiplier <= 32767.0 / 2.0 && rescale->left_shift <= 30) {
    ++rescale->left_shift;
    multiplier *= 2.0;
  }
  // |q| <= 2^15: q * multiplier must stay within int32.
  if (!(multiplier < 65536.0)) return false;
  rescale->multiplier = static_cast<int32_t>(multiplier);
  return true;
}

void LogisticInt16(const SigmoidInputRescale& rescale, int64_t count, const int16_t* input,
                   int16_t* output) {
  const SigmoidInputRescale r = Effective(rescale);
  for (int64_t i = 0; i < count; ++i) {
    const int32_t value = RescaledInput(input[i], r);
    uint32_t result = Interpolate(static_cast<uint32_t>(std::abs(value)), 9, 0x7FFFu << 10);
    result = value >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
    output[i] = static_cast<int16_t>(result >> 10);
  }
}

void TanhInt16(const SigmoidInputRescale& rescale, int64_t count, const int16_t* input,
               int16_t* output) {
  const SigmoidInputRescale r = Effective(rescale);
  for (int64_t i = 0; i < count; ++i) {
    const int32_t value = RescaledInput(input[i], r);
    // tanh(x) = 2 sigmoid(2x) - 1: the table read at twice the rate.
    int32_t result = static_cast<int32_t>(
        Interpolate(static_cast<uint32_t>(std::abs(value)), 8, 0xFFFFu << 8));
    result = value >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    output[i] = static_cast<int16_t>(result >> 8);
  }
}

}  // namespace kernels
}  // namespace tfq
