// FULLY_CONNECTED int8 on CPUs with AVX2 but no AVX-512 VNNI: the weights
// stay int8 (a batch-1 head streams each weight once, so bytes read are its
// cost) and are widened as they are loaded; vpmaddwd sums two inputs' exact
// products (|x * w| <= 2^14) for 8 channels at a time; the rescale is
// fully_connected.h's float64 one, 8 channels per pair of vectors.
#ifndef TFQ_DELEGATES_KERNELS_FULLY_CONNECTED_AVX2_H_
#define TFQ_DELEGATES_KERNELS_FULLY_CONNECTED_AVX2_H_

#include <cstdint>
#include <vector>

#include "delegates/kernels/fully_connected.h"

namespace tfq {
namespace kernels {

// Output channels per packed block: 4 vectors of 8 int32 sums per row.
constexpr int kFullyConnectedAvx2Block = 32;

// The weights packed once: per block of 32 channels and per pair of inputs
// (2p, 2p + 1), 64 bytes: channel 8s + j of the block at bytes 16s + 2j and
// 16s + 2j + 1. Zero for an odd depth's missing input and for channels past
// the output depth, so edges run the same loop.
struct PackedFullyConnectedAvx2 {
  int input_depth = 0, output_depth = 0, pairs = 0, blocks = 0;
  std::vector<int8_t> weights;
  std::vector<int32_t> offsets;  // bias - input zp * sum(w), padded to whole blocks
  bool empty() const { return weights.empty(); }
  // int16 scratch one thread needs for its widened input rows.
  int RowScratch() const { return 2 * 2 * pairs; }
};

bool FullyConnectedAvx2Available();  // the CPU (as capped) has AVX2

// `weights`: [output_depth][input_depth]; `offsets`: [output_depth].
PackedFullyConnectedAvx2 PackFullyConnectedAvx2(const int8_t* weights, int output_depth,
                                                int input_depth, const int32_t* offsets);

// The same results as FullyConnectedInt8Reference for channel blocks
// [block_begin, block_end) of every batch row; `rows16` holds
// packed.RowScratch() int16s of the calling thread's own.
void FullyConnectedInt8Avx2(const FullyConnectedShape& shape,
                            const FullyConnectedQuantization& quantization,
                            const int8_t* input, const PackedFullyConnectedAvx2& packed,
                            int16_t* rows16, int8_t* output, int block_begin, int block_end);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FULLY_CONNECTED_AVX2_H_
