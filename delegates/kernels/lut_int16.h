// TFLite's interpolated int16 -> int16 lookup tables (LUTPopulate /
// LUTLookup for int16): 512 steps over the input range plus one end value;
// the top 9 bits of an input pick a step, the low 7 interpolate linearly
// with rounding. Each sample is lowered by half the rounded error of the
// chord at the step's midpoint, so interpolation errors straddle zero.
// int16 SOFTMAX builds two (exp and 1 / (1 + x)).
#ifndef TFQ_DELEGATES_KERNELS_LUT_INT16_H_
#define TFQ_DELEGATES_KERNELS_LUT_INT16_H_

#include <array>
#include <cstdint>

namespace tfq {
namespace kernels {

using Int16Lut = std::array<int16_t, 513>;

// The table of `function` for inputs input_scale * (q - input_zero_point)
// and outputs output_scale * (q - output_zero_point), computed in double.
Int16Lut PopulateInt16Lut(double input_scale, int32_t input_zero_point, double output_scale,
                          int32_t output_zero_point, double (*function)(double));

inline int16_t LookupInt16Lut(int16_t value, const Int16Lut& lut) {
  const int index = 256 + (value >> 7);
  const int offset = value & 0x7F;
  const int base = lut[index];
  const int16_t slope = static_cast<int16_t>(lut[index + 1] - lut[index]);  // int16, as TFLite
  return static_cast<int16_t>(base + ((slope * offset + 64) >> 7));
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_LUT_INT16_H_
