// float32 <-> int8 conversions of QUANTIZE and DEQUANTIZE, as TFLite's
// reference kernels compute them (per tensor).
#ifndef TFQ_DELEGATES_KERNELS_QUANTIZE_H_
#define TFQ_DELEGATES_KERNELS_QUANTIZE_H_

#include <cstdint>

namespace tfq {
namespace kernels {

// q = clamp((int32) round(x / scale) + zp): the division in float, ties away
// from zero. Beyond int32 (where TFLite's cast is undefined) values
// saturate, and NaN gives -128 as x86 builds of TFLite do.
void QuantizeFloatToInt8(float scale, int32_t zero_point, int64_t count, const float* input,
                         int8_t* output);

// x = scale * (q - zp), exact in double, then rounded to float.
void DequantizeInt8ToFloat(float scale, int32_t zero_point, int64_t count, const int8_t* input,
                           float* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_QUANTIZE_H_
