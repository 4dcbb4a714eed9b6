// FULLY_CONNECTED on plain arrays (no TFLite types): int8, and int16x8 below.
//
//   acc[b][o] = bias[o] + sum_i (input[b][i] - input_zero_point) * weights[o][i]
//   out[b][o] = clamp(round_half_away((double)acc * multiplier[o]) + output_zero_point)
//
// This is TFLite's reference arithmetic (BUILTIN_REF, since 2025): the
// rescale is float64 with C round(), not the fixed-point multiplier the
// optimized kernels use. multiplier[o] = (double)s_in * (double)s_w[o] /
// (double)s_out, per channel or the same value repeated for per-tensor weights.
#ifndef TFQ_DELEGATES_KERNELS_FULLY_CONNECTED_H_
#define TFQ_DELEGATES_KERNELS_FULLY_CONNECTED_H_

#include <cstdint>
#include <vector>

namespace tfq {
namespace kernels {

struct FullyConnectedShape {
  int batches;
  int input_depth;
  int output_depth;
};

struct FullyConnectedQuantization {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t output_min;  // fused activation clamp, within [-128, 127]
  int32_t output_max;
  const double* multipliers;  // [output_depth]
};

// The scalar reference: the oracle the SIMD variants are tested against.
// weights: [output_depth][input_depth]; bias: [output_depth] or nullptr.
void FullyConnectedInt8Reference(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* bias, int8_t* output);

// The same results, faster: each output is one int8 dot product (kernels/
// dot.h's clones) with the input zero point folded out as zp * weight_sums[o].
// Output channels [channel_begin, channel_end) only (-1: all), so threads
// can share the weights.
void FullyConnectedInt8Optimized(const FullyConnectedShape& shape,
                                 const FullyConnectedQuantization& quantization,
                                 const int8_t* input, const int8_t* weights,
                                 const int32_t* weight_sums, const int32_t* bias,
                                 int8_t* output, int channel_begin = 0, int channel_end = -1);

// The same results on the packed AVX-512 VNNI sums (dot.h's
// PackedDotRowsToInt32, when PackedSumsAvailable()): `packed` =
// PackFilters(weights), offsets[o] = bias[o] - input_zero_point *
// sum(weights o); batch rows kPackedSumsMaxRows at a time into `sums`
// (kPackedSumsMaxRows * output_depth int32s), then the float64 rescale 8
// channels at a time. Channels [channel_begin, channel_end) (begin a
// multiple of 16; -1: all).
void FullyConnectedInt8Packed(const FullyConnectedShape& shape,
                              const FullyConnectedQuantization& quantization,
                              const int8_t* input, const std::vector<int8_t>& packed,
                              const int32_t* offsets, int32_t* sums, int8_t* output,
                              int channel_begin = 0, int channel_end = -1);

// int16x8: int16 activations (zero point 0), int8 weights, int64 bias (or an
// int32 one, widened). TFLite's reference accumulates in the bias type and
// rescales in float64 as for int8; output_min/max are within [-32768, 32767].
void FullyConnectedInt16Reference(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const int8_t* weights,
                                  const int64_t* bias, int16_t* output);

// The same results, faster: the weights widened to int16 and packed once
// (`packed` = PackFiltersInt16(weights)), batch rows 4 at a time through
// PackedDotInt16Rows (exact int64 sums); `acc` holds 4 * output_depth.
void FullyConnectedInt16Optimized(const FullyConnectedShape& shape,
                                  const FullyConnectedQuantization& quantization,
                                  const int16_t* input, const std::vector<int16_t>& packed,
                                  const int64_t* bias, int64_t* acc, int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_FULLY_CONNECTED_H_
