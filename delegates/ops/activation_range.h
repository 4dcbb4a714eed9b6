// The clamp bounds of a fused activation on a quantized output, as TFLite's
// CalculateActivationRangeQuantized computes them: zp + round(f / scale) in
// float, intersected with the type's range.
#ifndef TFQ_DELEGATES_OPS_ACTIVATION_RANGE_H_
#define TFQ_DELEGATES_OPS_ACTIVATION_RANGE_H_

#include <cstdint>
#include <string>

#include "delegates/tflite_abi.h"

namespace tfq {

// Fails (with `why`) for activations other than NONE/RELU/RELU_N1_TO1/RELU6
// and for scales so small that the bounds overflow int32.
bool QuantizedActivationRange(int activation, float scale, int32_t zero_point,
                              int32_t qmin, int32_t qmax, int32_t* out_min,
                              int32_t* out_max, std::string* why);

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPS_ACTIVATION_RANGE_H_
