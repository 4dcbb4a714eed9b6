#include "delegates/kernels/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace tfq {
namespace kernels {
namespace {

int NearestSource(int out_index, int in_size, int out_size, bool align_corners,
                  bool half_pixel_centers) {
  const float scale = (align_corners && out_size > 1)
                          ? static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1)
                          : static_cast<float>(in_size) / static_cast<float>(out_size);
  const float offset = half_pixel_centers ? 0.5f : 0.0f;
  const float position = (static_cast<float>(out_index) + offset) * scale;
  int source = align_corners ? static_cast<int>(std::round(position))
                             : static_cast<int>(std::floor(position));
  source = std::min(source, in_size - 1);
  if (half_pixel_centers) source = std::max(source, 0);
  return source;
}

// One axis of ResizeBilinearInteger: the two source indices and the 10-bit
// distance past the first (may be negative at the border, where both are 0).
struct BilinearTap {
  int first, second;
  int32_t distance;
};

std::vector<BilinearTap> BilinearTaps(int in_size, int out_size, bool align_corners,
                                      bool half_pixel_centers) {
  const int32_t scale =
      (align_corners && out_size > 1)
          ? (1024 * (in_size - 1) + (out_size - 1) / 2) / (out_size - 1)
          : (1024 * in_size + out_size / 2) / out_size;
  std::vector<BilinearTap> taps(out_size);
  for (int i = 0; i < out_size; ++i) {
    const int32_t position = half_pixel_centers ? i * scale + scale / 2 - 512 : i * scale;
    const int first = std::max(position / 1024, 0);  // C division: toward zero
    const int second = std::min((position + 1023) / 1024, in_size - 1);
    taps[i] = {first, second, position - 1024 * first};
  }
  return taps;
}

}  // namespace

void ResizeNearestInt8Reference(const ResizeGeometry& g, const int8_t* input, int8_t* output) {
  for (int b = 0; b < g.batches; ++b) {
    for (int y = 0; y < g.output_height; ++y) {
      const int in_y = NearestSource(y, g.input_height, g.output_height, g.align_corners,
                                     g.half_pixel_centers);
      for (int x = 0; x < g.output_width; ++x) {
        const int in_x = NearestSource(x, g.input_width, g.output_width, g.align_corners,
                                       g.half_pixel_centers);
        std::memcpy(output, input + ((static_cast<int64_t>(b) * g.input_height + in_y) *
                                         g.input_width + in_x) * g.depth,
                    static_cast<size_t>(g.depth));
        output += g.depth;
      }
    }
  }
}

void ResizeBilinearInt8Reference(const ResizeGeometry& g, const int8_t* input, int8_t* output) {
  const std::vector<BilinearTap> rows =
      BilinearTaps(g.input_height, g.output_height, g.align_corners, g.half_pixel_centers);
  const std::vector<BilinearTap> columns =
      BilinearTaps(g.input_width, g.output_width, g.align_corners, g.half_pixel_centers);
  auto at = [&](int b, int y, int x, int c) -> int64_t {
    return input[((static_cast<int64_t>(b) * g.input_height + y) * g.input_width + x) * g.depth +
                 c];
  };
  for (int b = 0; b < g.batches; ++b) {
    for (const BilinearTap& row : rows) {
      for (const BilinearTap& column : columns) {
        const int64_t dy = row.distance, dx = column.distance;
        for (int c = 0; c < g.depth; ++c) {
          const int64_t blend = at(b, row.first, column.first, c) * (1024 - dy) * (1024 - dx) +
                                at(b, row.second, column.first, c) * dy * (1024 - dx) +
                                at(b, row.first, column.second, c) * (1024 - dy) * dx +
                                at(b, row.second, column.second, c) * dy * dx;
          const int64_t half = blend > 0 ? (1 << 19) : -(1 << 19);
          *output++ = static_cast<int8_t>((blend + half) / (1 << 20));
        }
      }
    }
  }
}

}  // namespace kernels
}  // namespace tfq
