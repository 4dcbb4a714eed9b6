// The inner loop of the int16x8 convolutions and FULLY_CONNECTED: int16
// activations times int8 weights, which are widened to int16 once (at
// pack time) so that one vpmaddwd (or AVX-512 VNNI vpdpwssd) multiplies and
// adds a pair of taps exactly in int32. The int32 lanes are flushed into
// int64 every kPairsPerFlush pairs, before they could overflow, so the sums
// equal TFLite's int64 accumulation for any depth. Chosen once per process:
// AVX-512 VNNI, AVX2, NEON (aarch64), or portable code.
#ifndef TFQ_DELEGATES_KERNELS_DOT_INT16_H_
#define TFQ_DELEGATES_KERNELS_DOT_INT16_H_

#include <cstdint>
#include <vector>

namespace tfq {
namespace kernels {

// |int16 * int8| <= 2^15 * 2^7, so a pair of taps is <= 2^23 and 255 pairs
// fit in int32; 128 leaves margin.
constexpr int kPairsPerFlush = 128;

// filters [output_depth][n] -> groups of 16 output channels, each
// ceil(n / 2) pairs x 16 lanes x 2 int16 (channels past output_depth and
// the tap past an odd n are 0).
std::vector<int16_t> PackFiltersInt16(const int8_t* filters, int output_depth, int n);

// out[r * out_stride + c] = sum_i rows[r][i] * filter_c[i] in int64, for
// rows r < num_rows (1 to 4) and every channel c < output_depth. Reads
// exactly n values of each row.
void PackedDotInt16Rows(const int16_t* const rows[4], int num_rows,
                        const std::vector<int16_t>& packed, int output_depth, int n,
                        int64_t* out, int64_t out_stride);
// The path PackedDotInt16Rows runs: "avx512_vnni", "avx2", "neon" or "portable".
const char* PackedDotInt16Path();

// acc[c] += input[c] * filter[c] for c < n: one depthwise tap over a row of
// channels (the caller bounds the taps so the int32 sums cannot overflow).
// AVX-512 (vpmaddwd of sign- and zero-extended lanes) or portable code.
void MultiplyAccumulateInt16(const int16_t* input, const int16_t* filter, int n, int32_t* acc);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_DOT_INT16_H_
