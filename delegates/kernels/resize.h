// int8 RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR on plain NHWC arrays, as
// TFLite's reference kernels compute them (no rescale: the output shares
// the input's quantization).
//   nearest:  source index from float scale (in / out, or (in-1)/(out-1)
//             with align_corners), + 0.5 with half_pixel_centers, floor (or
//             round with align_corners), clamped into the input.
//   bilinear: ResizeBilinearInteger: 10-bit fixed-point source positions and
//             weights, an int64 blend of the 4 neighbours, rounded half away
//             from zero by a 20-bit shift.
#ifndef TFQ_DELEGATES_KERNELS_RESIZE_H_
#define TFQ_DELEGATES_KERNELS_RESIZE_H_

#include <cstdint>

namespace tfq {
namespace kernels {

struct ResizeGeometry {
  int batches, input_height, input_width, depth, output_height, output_width;
  bool align_corners, half_pixel_centers;
};

void ResizeNearestInt8Reference(const ResizeGeometry& geometry, const int8_t* input,
                                int8_t* output);
void ResizeBilinearInt8Reference(const ResizeGeometry& geometry, const int8_t* input,
                                 int8_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_RESIZE_H_
