#include "delegates/kernels/depthwise_vnni.h"

#include <algorithm>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "delegates/kernels/fixed_point_avx512.h"
#endif

namespace tfq {
namespace kernels {
namespace {

// Input columns the scratch row holds: the columns of a chunk of outputs'
// windows, interleaved (at most 2 quads of 4 zmm each: 40 KiB of stack).
constexpr int kScratchColumns = 80;

// The vector lane whose channel lands in dword `dword` of interleaved
// vector k (see InterleaveTaps).
int LaneOfDword(int k, int dword) { return 16 * (dword / 4) + 4 * k + dword % 4; }

// The channel in vector lane `lane` of block `block`, or -1.
int ChannelOfLane(const PackedDepthwiseVnni& p, int block, int lane) {
  if (p.pixels_per_vector > 1) return lane % p.depth;
  const int channel = 64 * block + lane;
  return channel < p.depth ? channel : -1;
}

}  // namespace

bool DepthwiseVnniAvailable() { return GetCpuFeatures().avx512_vnni; }

PackedDepthwiseVnni PackDepthwiseVnni(const int8_t* filter, int filter_height, int filter_width,
                                      int depth, int stride_width, const int32_t* bias,
                                      int32_t input_zero_point,
                                      const ChannelRequantization& requantization) {
  PackedDepthwiseVnni p;
  if (!DepthwiseVnniAvailable() || filter_height > kMaxDepthwiseVnniRows ||
      filter_width > kMaxDepthwiseVnniColumns || depth <= 0) {
    return p;
  }
  p.filter_height = filter_height;
  p.filter_width = filter_width;
  p.depth = depth;
  p.stride_width = stride_width;
  p.pixels_per_vector = stride_width == 1 && (depth == 16 || depth == 32) ? 64 / depth : 1;
  p.quads = (filter_height + 3) / 4;
  p.blocks = p.pixels_per_vector > 1 ? 1 : (depth + 63) / 64;
  p.input_zero_point = input_zero_point;
  p.weights.resize(static_cast<size_t>(p.blocks) * filter_width * p.quads * 4);
  // Per channel: the bias less (zp + 128) * sum(w), the unsigned inputs' excess.
  std::vector<int32_t> offsets(depth);
  for (int c = 0; c < depth; ++c) {
    int32_t sum = 0;
    for (int t = 0; t < filter_height * filter_width; ++t) sum += filter[t * depth + c];
    offsets[c] = (bias != nullptr ? bias[c] : 0) - (input_zero_point + 128) * sum;
  }
  for (int block = 0; block < p.blocks; ++block) {
    for (int fx = 0; fx < filter_width; ++fx) {
      for (int q = 0; q < p.quads; ++q) {
        for (int k = 0; k < 4; ++k) {
          Bytes64& out = p.weights[((static_cast<size_t>(block) * filter_width + fx) * p.quads +
                                    q) * 4 + k];
          for (int dword = 0; dword < 16; ++dword) {
            const int channel = ChannelOfLane(p, block, LaneOfDword(k, dword));
            for (int row = 0; row < 4; ++row) {  // byte `row` of the quad: window row 4q + row
              const int fy = 4 * q + row;
              out.bytes[4 * dword + row] =
                  channel >= 0 && fy < filter_height
                      ? filter[(static_cast<int64_t>(fy) * filter_width + fx) * depth + channel]
                      : 0;
            }
          }
        }
      }
    }
    // The epilogue's constants for each interleaved vector's 16 channels
    // (absent lanes repeat channel 0's: computed, never stored).
    for (int k = 0; k < 4; ++k) {
      int32_t significands[16], left_shifts[16], right_shifts[16], block_offsets[16];
      for (int dword = 0; dword < 16; ++dword) {
        const int channel = std::max(0, ChannelOfLane(p, block, LaneOfDword(k, dword)));
        significands[dword] = requantization.significands[channel];
        left_shifts[dword] = requantization.left_shifts[channel];
        right_shifts[dword] = requantization.right_shifts[channel];
        block_offsets[dword] = offsets[channel];
      }
      const ChannelRequantization permuted{significands, left_shifts, right_shifts,
                                           requantization.zero_point, requantization.min,
                                           requantization.max};
      p.constants.push_back(MakeChannelBlocks(permuted, block_offsets, 16).at(0));
    }
    int epilogue = 2;
    for (int k = 0; k < 4; ++k) {
      const ChannelBlockConstants& constants = p.constants[4 * block + k];
      if (!constants.single_rounding) epilogue = 0;
      if (!constants.negatives_clamp_to_min) epilogue = std::min(epilogue, 1);
    }
    p.epilogues.push_back(epilogue);
  }
  return p;
}

bool DepthwiseVnniFits(const ConvGeometry& g, const PackedDepthwiseVnni& p) {
  if (p.empty() || g.filter_height != p.filter_height || g.filter_width != p.filter_width ||
      g.input_depth != p.depth || g.output_depth != p.depth || g.stride_width != p.stride_width) {
    return false;
  }
  // At least 8 outputs' windows in the scratch row.
  const int64_t span = static_cast<int64_t>(g.filter_width - 1) * g.dilation_width + 1;
  return span + 7LL * p.pixels_per_vector * g.stride_width <= kScratchColumns;
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

// Four vectors of 64 bytes interleaved into vpdpbusd's quads: quads[k]
// dword e of 128-bit lane L holds byte 16L + 4k + e of each vector, in
// order (lanes 0..3 of the dword: vectors 0..3).
__attribute__((target("avx512f,avx512bw"))) inline void InterleaveTaps(const __m512i taps[4],
                                                                       __m512i quads[4]) {
  const __m512i low01 = _mm512_unpacklo_epi8(taps[0], taps[1]);
  const __m512i high01 = _mm512_unpackhi_epi8(taps[0], taps[1]);
  const __m512i low23 = _mm512_unpacklo_epi8(taps[2], taps[3]);
  const __m512i high23 = _mm512_unpackhi_epi8(taps[2], taps[3]);
  quads[0] = _mm512_unpacklo_epi16(low01, low23);
  quads[1] = _mm512_unpackhi_epi16(low01, low23);
  quads[2] = _mm512_unpacklo_epi16(high01, high23);
  quads[3] = _mm512_unpackhi_epi16(high01, high23);
}

// The lanes of the vector at input column x that hold pixels inside the
// row: each of the vector's pixels is `depth` lanes (one pixel: `lanes`).
inline __mmask64 ColumnLanes(int x, int input_width, int pixels, int depth, __mmask64 lanes) {
  if (pixels == 1) return x >= 0 && x < input_width ? lanes : 0;
  __mmask64 mask = 0;
  const __mmask64 pixel = depth == 64 ? ~__mmask64(0) : (__mmask64(1) << depth) - 1;
  for (int j = 0; j < pixels; ++j) {
    if (x + j >= 0 && x + j < input_width) mask |= pixel << (j * depth);
  }
  return mask;
}

enum Epilogue { kTwoSteps = 0, kSingleRounding = 1, kSingleRoundingClampsNegatives = 2 };

// One interleaved vector's 16 channels rescaled (zero point added, not
// clamped), as the block's epilogue mode computes it.
template <Epilogue kEpilogue>
__attribute__((target("avx512f,avx512bw"))) inline __m512i Rescale(
    const ChannelBlockConstants& c, __m512i sums) {
  if constexpr (kEpilogue == kTwoSteps) {
    return RescaledX16(LoadChannelBlockX16(c), sums);
  } else {
    constexpr bool kFixNegative = kEpilogue == kSingleRounding;
    const __m512i even = SingleRoundingX8(
        sums, _mm512_load_si512(c.significand_even), _mm512_load_si512(c.round_even),
        _mm512_load_si512(c.negative_below_even), _mm512_load_si512(c.sign_fix_even),
        _mm512_load_si512(c.shift_even), kFixNegative);
    const __m512i odd = SingleRoundingX8(
        _mm512_srli_epi64(sums, 32), _mm512_load_si512(c.significand_odd),
        _mm512_load_si512(c.round_odd), _mm512_load_si512(c.negative_below_odd),
        _mm512_load_si512(c.sign_fix_odd), _mm512_load_si512(c.shift_odd), kFixNegative);
    return _mm512_mask_shuffle_epi32(even, __mmask16(0xAAAA), odd, _MM_PERM_CDAB);
  }
}

// The kernel's shape: the filter's width and quads when known at compile
// time (the loops over taps unroll and the weights stay in registers),
// else 0, and the block's epilogue.
template <int kWidth, int kQuads>
struct RowsVnniShape {
  static constexpr int kMaxQuads = kMaxDepthwiseVnniRows / 4;
  using Scratch = __m512i[kScratchColumns][kMaxQuads][4];
  using Weights = __m512i[kMaxDepthwiseVnniColumns][kMaxQuads][4];
};

// Output vectors [v0, v1) of one row and block, from the chunk's
// interleaved columns (column 0 = the first vector's window's first).
template <int kWidth, int kQuads, Epilogue kEpilogue>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void VectorsOfChunk(
    const PackedDepthwiseVnni& p, int width, int quads, int step, int dilation, int output_width,
    const __m512i (*scratch)[RowsVnniShape<kWidth, kQuads>::kMaxQuads][4],
    const __m512i (*weights)[RowsVnniShape<kWidth, kQuads>::kMaxQuads][4],
    const ChannelBlockConstants* constants, __mmask64 lanes, int v0, int v1, int8_t* out) {
  const int depth = p.depth, pixels = p.pixels_per_vector;
  const __m512i low = _mm512_set1_epi8(static_cast<int8_t>(constants[0].min));
  const __m512i high = _mm512_set1_epi8(static_cast<int8_t>(constants[0].max));
  for (int v = v0; v < v1; ++v) {
    const int first = (v - v0) * step;
    __m512i sums[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                       _mm512_setzero_si512()};
    for (int fx = 0; fx < width; ++fx) {
      const int column = first + fx * dilation;
      for (int q = 0; q < quads; ++q) {
        for (int k = 0; k < 4; ++k) {
          sums[k] = _mm512_dpbusd_epi32(sums[k], scratch[column][q][k], weights[fx][q][k]);
        }
      }
    }
    __m512i values[4];
    for (int k = 0; k < 4; ++k) values[k] = Rescale<kEpilogue>(constants[k], sums[k]);
    // Saturating packs, which also put the channels back in order.
    __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(values[0], values[1]),
                                       _mm512_packs_epi32(values[2], values[3]));
    bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, low), high);
    const int first_pixel = v * pixels;
    const int stored = std::min(pixels, output_width - first_pixel);
    const __mmask64 out_lanes = pixels == 1        ? lanes
                                : stored == pixels ? ~__mmask64(0)
                                                   : (__mmask64(1) << (stored * depth)) - 1;
    _mm512_mask_storeu_epi8(out + static_cast<int64_t>(first_pixel) * depth, out_lanes, bytes);
  }
}

template <int kWidth, int kQuads>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void RowsVnni(
    const ConvGeometry& g, const PackedDepthwiseVnni& p, const int8_t* input, int8_t* output,
    int64_t row_begin, int64_t row_end) {
  using Shape = RowsVnniShape<kWidth, kQuads>;
  const int width = kWidth > 0 ? kWidth : p.filter_width;
  const int quads = kQuads > 0 ? kQuads : p.quads;
  const int depth = p.depth, pixels = p.pixels_per_vector;
  const int step = pixels * g.stride_width;  // input columns between consecutive vectors
  const int span = (width - 1) * g.dilation_width + 1;
  const int vectors = (g.output_width + pixels - 1) / pixels;
  const int chunk = std::min(vectors, (kScratchColumns - span) / step + 1);
  alignas(64) typename Shape::Scratch scratch;
  alignas(64) typename Shape::Weights weights;
  const __m512i zero_point = _mm512_set1_epi8(static_cast<int8_t>(p.input_zero_point));
  const __m512i flip = _mm512_set1_epi8(-128);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int b = static_cast<int>(row / g.output_height);
    const int oy = static_cast<int>(row % g.output_height);
    const int y0 = oy * g.stride_height - g.pad_top;
    // Each quad slot's input row, and all lanes or none: a window row in the
    // padding (or past the filter) loads nothing and reads the zero point.
    const int8_t* rows[4 * Shape::kMaxQuads];
    __mmask64 row_lanes[4 * Shape::kMaxQuads];
    for (int fy = 0; fy < 4 * quads; ++fy) {
      const int y = y0 + fy * g.dilation_height;
      const bool inside = fy < p.filter_height && y >= 0 && y < g.input_height;
      rows[fy] = inside ? input + (static_cast<int64_t>(b) * g.input_height + y) *
                                      g.input_width * depth
                        : input;
      row_lanes[fy] = inside ? ~__mmask64(0) : 0;
    }
    int8_t* row_output =
        output + (static_cast<int64_t>(b) * g.output_height + oy) * g.output_width * depth;
    for (int block = 0; block < p.blocks; ++block) {
      const int c = 64 * block;
      const int block_lanes = pixels > 1 ? 64 : std::min(64, depth - c);
      const __mmask64 lanes =
          block_lanes == 64 ? ~__mmask64(0) : (__mmask64(1) << block_lanes) - 1;
      const Bytes64* block_weights =
          p.weights.data() + static_cast<size_t>(block) * width * quads * 4;
      for (int fx = 0; fx < width; ++fx) {
        for (int q = 0; q < quads; ++q) {
          for (int k = 0; k < 4; ++k) {
            weights[fx][q][k] = _mm512_load_si512(block_weights + (fx * quads + q) * 4 + k);
          }
        }
      }
      const ChannelBlockConstants* constants = p.constants.data() + 4 * block;
      for (int v0 = 0; v0 < vectors; v0 += chunk) {
        const int v1 = std::min(vectors, v0 + chunk);
        const int x_first = v0 * step - g.pad_left;
        const int columns = (v1 - 1 - v0) * step + span;
        for (int column = 0; column < columns; ++column) {
          const int x = x_first + column;
          const __mmask64 inside = ColumnLanes(x, g.input_width, pixels, depth, lanes);
          for (int q = 0; q < quads; ++q) {
            __m512i taps[4];
            for (int r = 0; r < 4; ++r) {
              // Lanes in the padding read the zero point (unsigned: zp + 128).
              taps[r] = _mm512_xor_si512(
                  _mm512_mask_loadu_epi8(zero_point, inside & row_lanes[4 * q + r],
                                         rows[4 * q + r] + static_cast<int64_t>(x) * depth + c),
                  flip);
            }
            InterleaveTaps(taps, scratch[column][q]);
          }
        }
        int8_t* out = row_output + c;
        switch (p.epilogues[block]) {
          case kSingleRoundingClampsNegatives:
            VectorsOfChunk<kWidth, kQuads, kSingleRoundingClampsNegatives>(
                p, width, quads, step, g.dilation_width, g.output_width, scratch, weights,
                constants, lanes, v0, v1, out);
            break;
          case kSingleRounding:
            VectorsOfChunk<kWidth, kQuads, kSingleRounding>(p, width, quads, step,
                                                            g.dilation_width, g.output_width,
                                                            scratch, weights, constants, lanes,
                                                            v0, v1, out);
            break;
          default:
            VectorsOfChunk<kWidth, kQuads, kTwoSteps>(p, width, quads, step, g.dilation_width,
                                                      g.output_width, scratch, weights,
                                                      constants, lanes, v0, v1, out);
        }
      }
    }
  }
}

}  // namespace

void DepthwiseRowsVnni(const ConvGeometry& g, const PackedDepthwiseVnni& p, const int8_t* input,
                       int8_t* output, int64_t row_begin, int64_t row_end) {
  if (p.filter_width == 3 && p.quads == 1) {
    RowsVnni<3, 1>(g, p, input, output, row_begin, row_end);
  } else if (p.filter_width == 5 && p.quads == 2) {
    RowsVnni<5, 2>(g, p, input, output, row_begin, row_end);
  } else {
    RowsVnni<0, 0>(g, p, input, output, row_begin, row_end);
  }
}
#else
void DepthwiseRowsVnni(const ConvGeometry&, const PackedDepthwiseVnni&, const int8_t*, int8_t*,
                       int64_t, int64_t) {}
#endif

}  // namespace kernels
}  // namespace tfq
