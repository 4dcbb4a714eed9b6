#include "delegates/kernels/lut_int16.h"

#include <algorithm>
#include <cmath>

namespace tfq {
namespace kernels {

Int16Lut PopulateInt16Lut(double input_scale, int32_t input_zero_point, double output_scale,
                          int32_t output_zero_point, double (*function)(double)) {
  const double input_min = input_scale * (-32768 - input_zero_point);
  const double input_max = input_scale * (32767 - input_zero_point);
  const double output_min = output_scale * (-32768 - output_zero_point);
  const double output_max = output_scale * (32767 - output_zero_point);
  constexpr int kSteps = 512;
  const double step = (input_max - input_min) / kSteps;
  const double to_output = 65536.0 / (output_max - output_min);
  auto clamp = [](double v) { return static_cast<int16_t>(std::min(std::max(v, -32768.0), 32767.0)); };
  Int16Lut lut{};
  for (int i = 0; i < kSteps; ++i) {
    const double value = function(input_min + i * step);
    const double midpoint = function(input_min + i * step + step / 2);
    const double next = function(input_min + (i + 1) * step);
    const double sample = std::round(value * to_output);
    // The chord's midpoint against the function's, both rounded to the grid.
    const double chord_midpoint = std::round((next * to_output + sample) / 2);
    const double error = chord_midpoint - std::round(midpoint * to_output);
    lut[i] = clamp(sample - std::round(error / 2));
  }
  lut[kSteps] = clamp(std::round(function(input_max) * to_output));
  return lut;
}

}  // namespace kernels
}  // namespace tfq
