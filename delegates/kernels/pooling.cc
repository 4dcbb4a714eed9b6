#include "delegates/kernels/pooling.h"

#include <algorithm>
#include <limits>

namespace tfq {
namespace kernels {
namespace {

// Calls reduce(value) for every tap of the window of output (b, oy, ox, c)
// that lies inside the input; returns the number of taps.
template <typename T, typename Reduce>
int ForEachTap(const ConvGeometry& g, int b, int oy, int ox, int c, const T* input,
               Reduce reduce) {
  const int y0 = oy * g.stride_height - g.pad_top;
  const int x0 = ox * g.stride_width - g.pad_left;
  const int y_begin = std::max(0, -y0), y_end = std::min(g.filter_height, g.input_height - y0);
  const int x_begin = std::max(0, -x0), x_end = std::min(g.filter_width, g.input_width - x0);
  int taps = 0;
  for (int fy = y_begin; fy < y_end; ++fy) {
    for (int fx = x_begin; fx < x_end; ++fx) {
      reduce(input[((static_cast<int64_t>(b) * g.input_height + y0 + fy) * g.input_width +
                    x0 + fx) * g.input_depth + c]);
      ++taps;
    }
  }
  return taps;
}

template <typename T, typename Pool>
void ForEachOutput(const ConvGeometry& g, T* output, Pool pool) {
  int64_t index = 0;
  for (int b = 0; b < g.batches; ++b) {
    for (int oy = 0; oy < g.output_height; ++oy) {
      for (int ox = 0; ox < g.output_width; ++ox) {
        for (int c = 0; c < g.output_depth; ++c) output[index++] = pool(b, oy, ox, c);
      }
    }
  }
}

// TFLite's loops for int8 and int16 alike (the int16 sum stays in int32:
// the op bounds the window).
template <typename T>
void MaxPool(const ConvGeometry& g, int32_t output_min, int32_t output_max, const T* input,
             T* output) {
  ForEachOutput(g, output, [&](int b, int oy, int ox, int c) {
    int32_t maximum = std::numeric_limits<T>::lowest();
    ForEachTap(g, b, oy, ox, c, input,
               [&](int32_t value) { maximum = std::max(maximum, value); });
    return static_cast<T>(std::min(std::max(maximum, output_min), output_max));
  });
}

template <typename T>
void AveragePool(const ConvGeometry& g, int32_t output_min, int32_t output_max, const T* input,
                 T* output) {
  ForEachOutput(g, output, [&](int b, int oy, int ox, int c) {
    int32_t sum = 0;
    // The op's check guarantees every window keeps at least one tap.
    const int taps = ForEachTap(g, b, oy, ox, c, input, [&](int32_t value) { sum += value; });
    const int32_t average = sum > 0 ? (sum + taps / 2) / taps : (sum - taps / 2) / taps;
    return static_cast<T>(std::min(std::max(average, output_min), output_max));
  });
}

}  // namespace

void MaxPoolInt8Reference(const ConvGeometry& g, int32_t output_min, int32_t output_max,
                          const int8_t* input, int8_t* output) {
  MaxPool(g, output_min, output_max, input, output);
}

void AveragePoolInt8Reference(const ConvGeometry& g, int32_t output_min, int32_t output_max,
                              const int8_t* input, int8_t* output) {
  AveragePool(g, output_min, output_max, input, output);
}

void MaxPoolInt16Reference(const ConvGeometry& g, int32_t output_min, int32_t output_max,
                           const int16_t* input, int16_t* output) {
  MaxPool(g, output_min, output_max, input, output);
}

void AveragePoolInt16Reference(const ConvGeometry& g, int32_t output_min, int32_t output_max,
                               const int16_t* input, int16_t* output) {
  AveragePool(g, output_min, output_max, input, output);
}

}  // namespace kernels
}  // namespace tfq
