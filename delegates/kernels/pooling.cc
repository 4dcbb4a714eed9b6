#include "delegates/kernels/pooling.h"

#include <algorithm>
#include <limits>

#include "delegates/kernels/target_clones.h"

namespace tfq {
namespace kernels {
namespace {

// out[c] = max(out[c], row[c]) and out[c] = min(out[c], high), c < n.
template <typename T>
TFQ_CLONES void MaxInto(const T* row, int n, T* out) {
  for (int c = 0; c < n; ++c) out[c] = std::max(out[c], row[c]);
}

template <typename T>
TFQ_CLONES void MinInto(T high, int n, T* out) {
  for (int c = 0; c < n; ++c) out[c] = std::min(out[c], high);
}

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

// The same maxima with channels innermost: each window row is a running
// elementwise max over contiguous channels (vectorized by the compiler's
// AVX2 clone), then the clamp. Exact: max is order-free.
template <typename T>
void MaxPoolRows(const ConvGeometry& g, int32_t output_min, int32_t output_max, const T* input,
                 T* output) {
  const int depth = g.input_depth;
  const T low = static_cast<T>(output_min), high = static_cast<T>(output_max);
  T* out = output;
  for (int b = 0; b < g.batches; ++b) {
    for (int oy = 0; oy < g.output_height; ++oy) {
      const int y0 = oy * g.stride_height - g.pad_top;
      const int y_begin = std::max(0, -y0), y_end = std::min(g.filter_height, g.input_height - y0);
      for (int ox = 0; ox < g.output_width; ++ox, out += depth) {
        const int x0 = ox * g.stride_width - g.pad_left;
        const int x_begin = std::max(0, -x0);
        const int x_end = std::min(g.filter_width, g.input_width - x0);
        std::fill(out, out + depth, low);  // the clamp's floor doubles as the start
        for (int fy = y_begin; fy < y_end; ++fy) {
          for (int fx = x_begin; fx < x_end; ++fx) {
            MaxInto(input + ((static_cast<int64_t>(b) * g.input_height + y0 + fy) *
                                 g.input_width + x0 + fx) * depth,
                    depth, out);
          }
        }
        MinInto(high, depth, out);
      }
    }
  }
}

}  // namespace

void MaxPoolInt8Optimized(const ConvGeometry& g, int32_t output_min, int32_t output_max,
                          const int8_t* input, int8_t* output) {
  MaxPoolRows(g, output_min, output_max, input, output);
}

void MaxPoolInt16Optimized(const ConvGeometry& g, int32_t output_min, int32_t output_max,
                           const int16_t* input, int16_t* output) {
  MaxPoolRows(g, output_min, output_max, input, output);
}

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
