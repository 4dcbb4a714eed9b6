// Random convolution geometries the C++ kernel tests share: small images,
// windows up to 4x4, strides and height dilations of 1 or 2, padding
// anywhere inside the window, batches of 1 or 2.
#ifndef TFQ_TESTS_DELEGATES_CONV_TEST_CASES_H_
#define TFQ_TESTS_DELEGATES_CONV_TEST_CASES_H_

#include <random>

#include "delegates/kernels/conv.h"

namespace tfq {
namespace kernels {

inline ConvGeometry RandomConvGeometry(std::mt19937* rng, bool depthwise) {
  std::uniform_int_distribution<int> small(1, 4), size(1, 9), depth(1, 40), stride(1, 2);
  ConvGeometry g;
  g.batches = small(*rng) > 3 ? 2 : 1;
  g.input_height = size(*rng);
  g.input_width = size(*rng);
  g.input_depth = depth(*rng);
  g.filter_height = small(*rng);
  g.filter_width = small(*rng);
  g.output_depth = depthwise ? g.input_depth : depth(*rng);
  g.stride_height = stride(*rng);
  g.stride_width = stride(*rng);
  g.dilation_height = stride(*rng);
  g.dilation_width = 1;
  g.pad_top = std::uniform_int_distribution<int>(0, g.filter_height - 1)(*rng);
  g.pad_left = std::uniform_int_distribution<int>(0, g.filter_width - 1)(*rng);
  g.output_height = (g.input_height + 2 * g.pad_top - 1) / g.stride_height + 1;
  g.output_width = (g.input_width + 2 * g.pad_left - 1) / g.stride_width + 1;
  return g;
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_TESTS_DELEGATES_CONV_TEST_CASES_H_
