// QUANTIZE and DEQUANTIZE as TFLite's reference kernels compute them (per
// tensor): float32 <-> int8 / int16, and requantization between int8 and
// int16 tensors (int16x8 models' boundaries with int8 parts).
#ifndef TFQ_DELEGATES_KERNELS_QUANTIZE_H_
#define TFQ_DELEGATES_KERNELS_QUANTIZE_H_

#include <cstdint>

#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

// q = clamp((int32) round(x / scale) + zp): the division in float, ties away
// from zero. Beyond int32 (where TFLite's cast is undefined) values
// saturate, and NaN gives the type's minimum as x86 builds of TFLite do.
void QuantizeFloatToInt8(float scale, int32_t zero_point, int64_t count, const float* input,
                         int8_t* output);
void QuantizeFloatToInt16(float scale, int32_t zero_point, int64_t count, const float* input,
                          int16_t* output);

// x = scale * (q - zp), exact in double, then rounded to float.
void DequantizeInt8ToFloat(float scale, int32_t zero_point, int64_t count, const int8_t* input,
                           float* output);
void DequantizeInt16ToFloat(float scale, int32_t zero_point, int64_t count,
                            const int16_t* input, float* output);

// reference_ops::Requantize: out = clamp(MBQM(q - zp_in, m) + zp_out) to the
// output type, m = QuantizeMultiplier(s_in / s_out) in double. The caller
// bounds m's left shift so (q - zp_in) << shift fits int32.
struct Requantization {
  int32_t input_zero_point, output_zero_point;
  QuantizedMultiplier multiplier;
};
void RequantizeInt16ToInt16(const Requantization& r, int64_t count, const int16_t* input,
                            int16_t* output);
void RequantizeInt16ToInt8(const Requantization& r, int64_t count, const int16_t* input,
                           int8_t* output);
void RequantizeInt8ToInt16(const Requantization& r, int64_t count, const int8_t* input,
                           int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_QUANTIZE_H_
