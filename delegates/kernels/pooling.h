// MAX_POOL_2D and AVERAGE_POOL_2D on plain NHWC arrays (no TFLite types),
// int8 and int16 (int16x8 models).
//
// TFLite's reference arithmetic (reference_integer_ops MaxPool / AveragePool):
// the window is cut to the taps inside the input (padding never counts);
// max starts from the type's lowest value; the average divides the int32 sum by the number of
// taps, rounding half away from zero with C integer division; no rescale
// (input and output share scale and zero point). Then the activation clamp.
#ifndef TFQ_DELEGATES_KERNELS_POOLING_H_
#define TFQ_DELEGATES_KERNELS_POOLING_H_

#include <cstdint>

#include "delegates/kernels/conv.h"

namespace tfq {
namespace kernels {

// geometry: as for convolutions with input_depth == output_depth and
// dilations of 1 (the filter is the pooling window).
void MaxPoolInt8Reference(const ConvGeometry& geometry, int32_t output_min, int32_t output_max,
                          const int8_t* input, int8_t* output);
void AveragePoolInt8Reference(const ConvGeometry& geometry, int32_t output_min,
                              int32_t output_max, const int8_t* input, int8_t* output);
void MaxPoolInt16Reference(const ConvGeometry& geometry, int32_t output_min, int32_t output_max,
                           const int16_t* input, int16_t* output);
void AveragePoolInt16Reference(const ConvGeometry& geometry, int32_t output_min,
                               int32_t output_max, const int16_t* input, int16_t* output);

// The same maxima, channels innermost (the window's rows are running
// elementwise maxima over contiguous channels).
void MaxPoolInt8Optimized(const ConvGeometry& geometry, int32_t output_min, int32_t output_max,
                          const int8_t* input, int8_t* output);
void MaxPoolInt16Optimized(const ConvGeometry& geometry, int32_t output_min, int32_t output_max,
                           const int16_t* input, int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_POOLING_H_
