#include "delegates/kernels/activations.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tfq {
namespace kernels {
namespace {

int8_t ClampInt8(int32_t value) {
  return static_cast<int8_t>(std::min(std::max(value, -128), 127));
}

// LUT entry as TFLite's LUTPopulate: all float, round half away from zero.
int8_t TableEntry(float y, float output_scale, int32_t output_zero_point) {
  const float rounded = std::round(y * (1.0f / output_scale));
  return ClampInt8(static_cast<int32_t>(rounded + static_cast<float>(output_zero_point)));
}

int16_t SaturatingRoundingDoublingHighMul16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) {
    return std::numeric_limits<int16_t>::max();
  }
  const int32_t product = static_cast<int32_t>(a) * static_cast<int32_t>(b);
  const int32_t nudge = product >= 0 ? (1 << 14) : (1 - (1 << 14));
  return static_cast<int16_t>((product + nudge) / (1 << 15));
}

int16_t SaturatingLeftShift16(int16_t value, int shift) {
  const int64_t shifted = static_cast<int64_t>(value) * (int64_t{1} << shift);
  return static_cast<int16_t>(std::min<int64_t>(std::max<int64_t>(shifted, -32768), 32767));
}

// gemmlowp's int16 RoundingDivideByPOT, which TFLite's HardSwish calls: its
// mask is an int16, so from exponent 16 on it is -1 (all ones) and the result
// is 1 for x >= 0 and -1 for x < 0, not 0. Reproduced (exponent <= 31: the
// op declines beyond).
int16_t RoundingDivideByPowerOfTwo16(int16_t x, int exponent) {
  const int16_t mask = static_cast<int16_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<int16_t>((x >> exponent) + (remainder > threshold ? 1 : 0));
}

}  // namespace

void LookupInt8(const Int8Table& table, int64_t count, const int8_t* input, int8_t* output) {
  for (int64_t i = 0; i < count; ++i) output[i] = table[static_cast<uint8_t>(input[i])];
}

int8_t RescaleValue(int32_t q, const RescaleParams& p) {
  const int32_t value =
      p.output_zero_point + MultiplyByQuantizedMultiplier(q - p.input_zero_point, p.multiplier);
  return static_cast<int8_t>(std::min(std::max(value, p.output_min), p.output_max));
}

int8_t LeakyReluValue(int32_t q, const LeakyReluParams& p) {
  const int32_t centered = q - p.input_zero_point;
  const QuantizedMultiplier& m = centered >= 0 ? p.identity : p.alpha;
  return ClampInt8(p.output_zero_point + MultiplyByQuantizedMultiplier(centered, m));
}

int8_t LogisticValue(int32_t q, float input_scale, int32_t input_zero_point,
                     float output_scale, int32_t output_zero_point) {
  const float x = input_scale * static_cast<float>(q - input_zero_point);
  return TableEntry(1.0f / (1.0f + std::exp(-x)), output_scale, output_zero_point);
}

int8_t TanhValue(int32_t q, float input_scale, int32_t input_zero_point, float output_scale,
                 int32_t output_zero_point) {
  const float x = input_scale * static_cast<float>(q - input_zero_point);
  return TableEntry(std::tanh(x), output_scale, output_zero_point);
}

int16_t DownScaleToInt16(int32_t multiplier) {
  if (multiplier >= std::numeric_limits<int32_t>::max() - (1 << 15)) {
    return std::numeric_limits<int16_t>::max();
  }
  return static_cast<int16_t>((multiplier + (1 << 15)) >> 16);
}

int8_t HardSwishValue(int32_t q, const HardSwishParams& p) {
  // The input on a 7-bit finer grid, as int16 (|q - zp| * 128 < 2^15).
  const int16_t hires = static_cast<int16_t>((q - p.input_zero_point) * 128);
  const int16_t preshift_output = SaturatingRoundingDoublingHighMul16(hires, p.output_multiplier);
  // relu6(x + 3) / 6 on [-1, 1] in Q15, from the same hires value.
  int16_t relu = hires;
  if (p.relu_shift > 0) relu = SaturatingLeftShift16(relu, p.relu_shift - 1);
  relu = SaturatingRoundingDoublingHighMul16(relu, p.relu_multiplier);
  if (p.relu_shift > 0) relu = SaturatingLeftShift16(relu, 1);
  if (p.relu_shift < 0) relu = RoundingDivideByPowerOfTwo16(relu, -p.relu_shift);
  relu = static_cast<int16_t>((static_cast<int32_t>(relu) + (1 << 15)) >> 1);  // to [0, 1]
  // Non-rounding doubling high multiply: truncating division.
  int32_t output = (static_cast<int32_t>(relu) * preshift_output) / (1 << 15);
  output = RoundingDivideByPowerOfTwo(output, -p.output_shift);
  return ClampInt8(output + p.output_zero_point);
}

}  // namespace kernels
}  // namespace tfq
