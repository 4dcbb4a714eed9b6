// int8 -> int8 ops whose output depends on the input byte alone: RELU /
// RELU6 / RELU_N1_TO_1 / RELU_0_TO_1, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH
// and the int8 -> int8 QUANTIZE. Each has a scalar reference: TFLite's
// reference arithmetic for one value. The op evaluates it for all 256 bytes
// once (at prepare) and runs as a table lookup, exact by construction.
#ifndef TFQ_DELEGATES_KERNELS_ACTIVATIONS_H_
#define TFQ_DELEGATES_KERNELS_ACTIVATIONS_H_

#include <array>
#include <cstdint>

#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

using Int8Table = std::array<int8_t, 256>;  // indexed by (uint8_t) input

// out[i] = table[(uint8_t) in[i]]
void LookupInt8(const Int8Table& table, int64_t count, const int8_t* input, int8_t* output);

// Builds the table of a scalar reference function int8 -> int8.
template <typename Function>
Int8Table TabulateInt8(Function function) {
  Int8Table table{};
  for (int q = -128; q <= 127; ++q) table[static_cast<uint8_t>(q)] = function(q);
  return table;
}

struct RescaleParams {  // out = clamp(zp_out + MBQM(q - zp_in, m), min, max)
  int32_t input_zero_point, output_zero_point;
  QuantizedMultiplier multiplier;
  int32_t output_min, output_max;
};
// RELU family (reference_ops::ReluX) and int8 -> int8 QUANTIZE (Requantize).
int8_t RescaleValue(int32_t q, const RescaleParams& params);

struct LeakyReluParams {
  int32_t input_zero_point, output_zero_point;
  QuantizedMultiplier identity, alpha;  // s_in / s_out and alpha s_in / s_out
};
int8_t LeakyReluValue(int32_t q, const LeakyReluParams& params);

// LOGISTIC and TANH: TFLite's int8 table, built in float:
// y = f(s_in (q - zp_in)); out = clamp(round(y * (1 / s_out)) + zp_out).
int8_t LogisticValue(int32_t q, float input_scale, int32_t input_zero_point,
                     float output_scale, int32_t output_zero_point);
int8_t TanhValue(int32_t q, float input_scale, int32_t input_zero_point, float output_scale,
                 int32_t output_zero_point);

struct HardSwishParams {
  int32_t input_zero_point, output_zero_point;
  int16_t output_multiplier;  // hires s / s_out, narrowed to Q15
  int output_shift;           // <= 0
  int16_t relu_multiplier;    // hires s / (3 / 32768), narrowed to Q15
  int relu_shift;
};
// TFLite's int16 fixed-point pipeline (reference_ops::HardSwish).
int8_t HardSwishValue(int32_t q, const HardSwishParams& params);
// A Q31 multiplier narrowed to Q15 as TFLite's DownScaleInt32ToInt16Multiplier.
int16_t DownScaleToInt16(int32_t multiplier);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_ACTIVATIONS_H_
