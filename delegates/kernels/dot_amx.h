// int8 dot products on AMX tiles (Intel AMX-INT8, Sapphire Rapids and later):
// tdpbssd multiplies a 16-row x 64-byte tile of signed inputs by a 16 x 64
// tile of signed weights (16 output channels x 4 taps per row) into 16 x 16
// int32 sums, 16384 multiply-adds per instruction (AVX-512 VNNI: 1024).
//
//   A: up to 32 im2col rows (two tiles) read with a stride: in place from
//      the input for pointwise convs, else from a scratch of n rounded up
//      to 64 bytes per row;
//   B: the filter packed once, per 16 channels and 64 taps, a 1 KiB tile;
//   C: 2 x 2 tiles per pass over K (32 rows x 32 channels), then the offsets
//      (bias - zp * sum(filter)) and the requantization, tile by tile.
// The sums are exact int32, like the other paths, so the result is the
// reference's bit for bit.
#ifndef TFQ_DELEGATES_KERNELS_DOT_AMX_H_
#define TFQ_DELEGATES_KERNELS_DOT_AMX_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

// The CPU has AMX-TILE + AMX-INT8 and Linux granted this process the tile
// state (arch_prctl ARCH_REQ_XCOMP_PERM); asked once per process.
bool AmxAvailable();

// Bytes per row of the A scratch for rows of n bytes.
int AmxRowStride(int n);

// filters [output_depth][n] -> ceil(output_depth/16) x ceil(n/64) tiles of 1 KiB.
std::vector<int8_t> PackFiltersAmx(const int8_t* filters, int output_depth, int n);

// Holds this thread's tile configuration for one kernel call (rows of A and
// C as given to Configure) and releases the tiles when it goes.
class AmxTiles {
 public:
  AmxTiles() = default;
  ~AmxTiles();
  AmxTiles(const AmxTiles&) = delete;
  AmxTiles& operator=(const AmxTiles&) = delete;
  void Configure(int rows);  // reloads only when rows change

 private:
  int rows_ = 0;
};

// Rows per call: two 16-row tiles, so each weight tile loaded serves 32.
constexpr int kAmxMaxRows = 32;

// out[r * out_stride + c] = clamp(MBQM(offsets[c] + sum_i row_r[i] *
// filter_c[i]) + zero point) for rows r < num_rows (<= kAmxMaxRows) and
// channels c < output_depth, row r being the n bytes at a + r * a_stride.
// Each row is read for AmxRowStride(n) bytes: the bytes past n meet the
// packed filter's zero padding and add nothing, whatever they hold, but must
// be readable. Each tile of sums is rescaled as it leaves the tiles (offsets,
// multiplier, zero point, clamp): RowRequantizer::Run's result.
// Only channels [channel_begin, channel_end) (-1: all; both multiples of 32,
// or channel_end the last channel), so threads can split the channels of a
// small image.
void AmxDotRowsToInt8(AmxTiles& tiles, const int8_t* a, int64_t a_stride, int num_rows,
                      const std::vector<int8_t>& packed, const int32_t* offsets,
                      const ChannelRequantization& requantization, int output_depth, int n,
                      int8_t* out, int out_stride, int channel_begin = 0,
                      int channel_end = -1);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DOT_AMX_H_
