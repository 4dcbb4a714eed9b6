// The inner loops the optimized int8 kernels spend their time in, compiled
// for the CPU found at load: GCC target clones (AVX2 and baseline x86-64) on
// x86, plain code elsewhere. Integer sums are exact in any order, so every
// clone gives the same result as the scalar reference.
#ifndef TFQ_DELEGATES_KERNELS_DOT_H_
#define TFQ_DELEGATES_KERNELS_DOT_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/requantize.h"

namespace tfq {
namespace kernels {

// sum_i a[i] * b[i] in int32 (callers bound n so it cannot overflow).
int32_t DotInt8(const int8_t* a, const int8_t* b, int n);

// The dot products of one row with 4 filters at once (the row is read once):
// out[k] = sum_i row[i] * filters[k][i]. AVX2 when the CPU has it (chosen
// once per process). CPUs with AVX-512 VNNI use the packed path below.
void DotInt8x4(const int8_t* row, const int8_t* const filters[4], int n, int32_t out[4]);

// Filters packed once, for the CPU's packed kernel:
//   x86 AVX-512 VNNI: output channels in the 16 int32 lanes, 4 consecutive
//     taps per lane, so one vpdpbusd with 4 input bytes broadcast as they
//     lie advances 16 dot products and no horizontal sum is needed.
//     vpdpbusd multiplies unsigned by signed bytes, so one side carries
//     +128: PackFilters stores each weight as the unsigned w + 128 (for
//     PackedDotRowsToInt32, which takes back 128 * sum(row) per row);
//     PackFiltersForOffsetRows stores the weights as they are and the rows
//     carry the +128 instead (OffsetRowsForPackedDot), so the excess,
//     128 * sum(filter), is a per-channel constant folded into the offsets
//     and no row needs its own sum (for PackedDotRowsToInt8);
//   aarch64 (dot_neon.cc): i8mm (smmla), dotprod (sdot) or plain NEON, each
//     with its own layout, signed on both sides (both packings are one).
bool PackedDotAvailable();  // x86: AVX-512 VNNI (+BW); aarch64: always
// "avx512_vnni", "neon_i8mm", "neon_dotprod", "neon", or "" (none).
const char* PackedDotKernel();
// filters [output_depth][n] -> the chosen kernel's layout.
std::vector<int8_t> PackFilters(const int8_t* filters, int output_depth, int n);
std::vector<int8_t> PackFiltersForOffsetRows(const int8_t* filters, int output_depth, int n);
// What PackedDotRowsToInt8's rows carry on top of each input byte: 128 on
// x86, 0 on aarch64. Its offsets fold it in: bias - (input_zero_point +
// PackedDotRowOffset()) * sum(filter) for a convolution.
int PackedDotRowOffset();
// The rows PackedDotRowsToInt8 reads: on x86 rows[r] + 128 (as unsigned
// bytes) written to scratch + r * n, rows[r] then pointing there (a row
// already there is offset in place); nothing on aarch64. count <=
// kPackedDotMaxRows; scratch holds count * n + 3 bytes (the kernel reads
// offset rows in whole 4-byte quads).
void OffsetRowsForPackedDot(const int8_t* rows[], int count, int n, int8_t* scratch);
// out[r * out_stride + c] = clamp(MBQM(offsets[c] + sum_i rows[r][i] *
// filter_c[i]) + zero point) for rows r < num_rows (1 to kPackedDotMaxRows)
// and every channel c < output_depth: 32 channels x num_rows rows per
// register tile, rescaled to int8 in the tile's epilogue while the sums are
// still in registers (each channel's multiplier loaded once per tile, not
// once per row), exactly RowRequantizer::Run's result. Only when
// PackedDotAvailable(). `packed`: PackFiltersForOffsetRows; `rows`: from
// OffsetRowsForPackedDot, so the sums include PackedDotRowOffset() *
// sum(filter c), which the offsets take back (they fold in what the caller
// adds per channel: bias - (input_zero_point + PackedDotRowOffset()) *
// sum(filter) for a convolution).
// `blocks` (optional): MakeChannelBlocks(requantization, offsets), the
// epilogue's constants computed once instead of in every tile (x86).
constexpr int kPackedDotMaxRows = 8;
void PackedDotRowsToInt8(const int8_t* const rows[kPackedDotMaxRows], int num_rows,
                         const std::vector<int8_t>& packed, const int32_t* offsets,
                         const ChannelRequantization& requantization, int output_depth, int n,
                         int8_t* out, int out_stride,
                         const ChannelBlockConstants* blocks = nullptr);

// The raw int32 sums sum_i rows[r][i] * filter_c[i] instead, for the
// channels of 16-channel groups [group_begin, group_end) (channels past
// output_depth are not written), rows r < num_rows (1 to
// kPackedSumsMaxRows) at sums + r * sums_stride: for epilogues other than
// the fixed-point rescale (FULLY_CONNECTED's float64 one). Only when
// PackedSumsAvailable() (x86 AVX-512 VNNI; PackFilters' layout).
constexpr int kPackedSumsMaxRows = 4;
bool PackedSumsAvailable();
void PackedDotRowsToInt32(const int8_t* const rows[kPackedSumsMaxRows], int num_rows,
                          const std::vector<int8_t>& packed, int output_depth, int n,
                          int group_begin, int group_end, int32_t* sums, int sums_stride);

// sums[c] = sum of filter c, for `count` filters of `filter_size` bytes:
// what folding the input zero point out of a dot product takes back.
void FilterSums(const int8_t* filters, int count, int filter_size, int32_t* sums);

// sum_i a[i] in int32.
int32_t SumInt8(const int8_t* a, int n);

// acc[c] += (input[c] - zero_point) * filter[c] for c < n (one depthwise tap
// over a row of channels).
void MultiplyAccumulateInt8(const int8_t* input, int32_t zero_point, const int8_t* filter,
                            int n, int32_t* acc);

// One depthwise output pixel (depth multiplier 1), channels outermost so
// the sums stay in registers: acc[c] = bias[c] + sum over taps t of
// (inputs[t][c] - zero_point) * filters[t][c], c < n (bias may be null).
// AVX-512 BW + VL: (q - zp) * w fits int16 (|q - zp| <= 255, |w| <= 128), one
// vpmullw per 32 channels per tap, widened into int32 sums. Only when
// DepthwiseTapsAvailable(); filters are the int8 weights widened to int16.
bool DepthwiseTapsAvailable();
void DepthwiseTapsInt8(const int8_t* const inputs[], const int16_t* const filters[], int taps,
                       int32_t zero_point, const int32_t* bias, int n, int32_t* acc);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DOT_H_
