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

// The rescale a block's 4 interleaved vectors all take
// (fixed_point_avx512.h): MBQM's two steps, the single rounding, or the
// single rounding whose negatives all clamp to min (no sign fix).
enum Epilogue { kTwoSteps = 0, kSingleRounding = 1, kSingleRoundingClampsNegatives = 2 };

// The vector lane whose channel lands in dword `dword` of interleaved
// vector k (see InterleaveTaps).
int LaneOfDword(int k, int dword) { return 16 * (dword / 4) + 4 * k + dword % 4; }

// The channel in vector lane `lane` of `block`, or -1 (an idle lane).
int ChannelOfLane(const PackedDepthwiseVnni::Block& block, int lane) {
  const int offset = lane % (64 / block.segments);
  return offset < block.channels ? block.first_channel + offset : -1;
}

}  // namespace

bool DepthwiseVnniAvailable() { return GetCpuFeatures().avx512_vnni; }

PackedDepthwiseVnni PackDepthwiseVnni(const int8_t* filter, int filter_height, int filter_width,
                                      int depth, const int32_t* bias, int32_t input_zero_point,
                                      const ChannelRequantization& requantization) {
  PackedDepthwiseVnni p;
  if (!DepthwiseVnniAvailable() || filter_height > kMaxDepthwiseVnniRows ||
      filter_width > kMaxDepthwiseVnniColumns || depth <= 0) {
    return p;
  }
  p.filter_height = filter_height;
  p.filter_width = filter_width;
  p.depth = depth;
  p.quads = (filter_height + 3) / 4;
  p.input_zero_point = input_zero_point;
  for (int first = 0; first < depth; first += 64) {
    const int channels = std::min(64, depth - first);
    p.blocks.push_back({first, channels, channels <= 16 ? 4 : channels <= 32 ? 2 : 1, 0});
  }
  // Per channel: the bias less (zp + 128) * sum(w), the unsigned inputs' excess.
  const std::vector<int32_t> offsets =
      DepthwiseOffsets(filter, filter_height * filter_width, depth, input_zero_point + 128, bias);
  p.row_pairs = filter_height % 4 != 0;
  for (PackedDepthwiseVnni::Block& block : p.blocks) {
    // Set `shift` has window row fy in quad slot fy + shift: the lower
    // output row of a pair reads its window one input row further down.
    for (int shift = 0; shift < (p.row_pairs ? 2 : 1); ++shift) {
      for (int fx = 0; fx < filter_width; ++fx) {
        for (int q = 0; q < p.quads; ++q) {
          for (int k = 0; k < 4; ++k) {
            Bytes64 interleaved;
            for (int dword = 0; dword < 16; ++dword) {
              const int channel = ChannelOfLane(block, LaneOfDword(k, dword));
              for (int slot = 0; slot < 4; ++slot) {  // byte `slot` of the quad
                const int fy = 4 * q + slot - shift;
                interleaved.bytes[4 * dword + slot] =
                    channel >= 0 && fy >= 0 && fy < filter_height
                        ? filter[(static_cast<int64_t>(fy) * filter_width + fx) * depth + channel]
                        : 0;
              }
            }
            p.weights.push_back(interleaved);
          }
        }
      }
    }
    // The epilogue's constants for each interleaved vector's 16 channels
    // (idle lanes repeat the block's first channel: computed, never stored).
    block.epilogue = kSingleRoundingClampsNegatives;
    for (int k = 0; k < 4; ++k) {
      int32_t significands[16], left_shifts[16], right_shifts[16], block_offsets[16];
      for (int dword = 0; dword < 16; ++dword) {
        const int channel =
            std::max(block.first_channel, ChannelOfLane(block, LaneOfDword(k, dword)));
        significands[dword] = requantization.significands[channel];
        left_shifts[dword] = requantization.left_shifts[channel];
        right_shifts[dword] = requantization.right_shifts[channel];
        block_offsets[dword] = offsets[channel];
      }
      const ChannelRequantization permuted{significands, left_shifts, right_shifts,
                                           requantization.zero_point, requantization.min,
                                           requantization.max};
      const ChannelBlockConstants constants = MakeChannelBlocks(permuted, block_offsets, 16).at(0);
      // The block takes the most general mode any of its vectors needs.
      const Epilogue needed = !constants.single_rounding         ? kTwoSteps
                              : constants.negatives_clamp_to_min ? kSingleRoundingClampsNegatives
                                                                 : kSingleRounding;
      block.epilogue = std::min<int>(block.epilogue, needed);
      p.constants.push_back(constants);
    }
  }
  return p;
}

bool DepthwiseVnniFits(const ConvGeometry& g, const PackedDepthwiseVnni& p) {
  if (p.empty() || g.filter_height != p.filter_height || g.filter_width != p.filter_width ||
      g.input_depth != p.depth || g.output_depth != p.depth) {
    return false;
  }
  // At least 8 outputs' windows in the scratch row.
  const int64_t span = static_cast<int64_t>(g.filter_width - 1) * g.dilation_width + 1;
  return span + 7LL * g.stride_width <= kScratchColumns;
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

// One interleaved vector's 16 channels rescaled (zero point added, not
// clamped), as the block's epilogue mode computes it.
template <Epilogue kEpilogue>
__attribute__((target("avx512f,avx512bw"))) inline __m512i Rescale(
    const ChannelBlockConstants& c, __m512i sums) {
  if constexpr (kEpilogue == kTwoSteps) {
    return RescaledX16(LoadChannelBlockX16(c), sums);
  } else {
    return SingleRoundedX16(
        sums,
        {_mm512_load_si512(c.significand_even), _mm512_load_si512(c.round_even),
         _mm512_load_si512(c.negative_below_even), _mm512_load_si512(c.sign_fix_even),
         _mm512_load_si512(c.shift_even)},
        {_mm512_load_si512(c.significand_odd), _mm512_load_si512(c.round_odd),
         _mm512_load_si512(c.negative_below_odd), _mm512_load_si512(c.sign_fix_odd),
         _mm512_load_si512(c.shift_odd)},
        kEpilogue == kSingleRounding);
  }
}

constexpr int kMaxQuads = kMaxDepthwiseVnniRows / 4;
using QuadVectors = __m512i[kMaxQuads][4];  // one column's (or tap column's) quads

// Where one block's vectors read and write: segment s of vector v is
// output pixel v + s * vectors of the row, in lanes [s * width, s * width +
// channels) (width = 64 / segments), and its window's columns are the first
// segment's shifted by vectors * stride input pixels.
struct SegmentLayout {
  int segments, width, vectors;
  __mmask64 lanes[4];  // each segment's lanes
};

SegmentLayout LayoutOf(const PackedDepthwiseVnni::Block& block, int output_width) {
  SegmentLayout layout;
  layout.segments = block.segments;
  layout.width = 64 / block.segments;
  layout.vectors = (output_width + block.segments - 1) / block.segments;
  const __mmask64 channels =
      block.channels == 64 ? ~__mmask64(0) : (__mmask64(1) << block.channels) - 1;
  for (int s = 0; s < 4; ++s) layout.lanes[s] = s < block.segments ? channels << (s * layout.width) : 0;
  return layout;
}

// Output vectors [v0, v1) of kRows output rows (a pair shares the
// interleaved columns, with weight sets 0 and 1) and one block, from the
// chunk's interleaved columns (column 0 = the first vector's window's
// first). out[r] = row r's output at the block's first channel.
template <int kWidth, int kQuads, int kRows, Epilogue kEpilogue>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void VectorsOfChunk(
    const ConvGeometry& g, const SegmentLayout& layout, int width, int quads,
    const QuadVectors* scratch, const QuadVectors (*weights)[kMaxDepthwiseVnniColumns],
    const ChannelBlockConstants* constants, int v0, int v1, int8_t* const* out) {
  const int depth = g.output_depth;
  const __m512i low = _mm512_set1_epi8(static_cast<int8_t>(constants[0].min));
  const __m512i high = _mm512_set1_epi8(static_cast<int8_t>(constants[0].max));
  for (int v = v0; v < v1; ++v) {
    const int first = (v - v0) * g.stride_width;
    __m512i sums[kRows][4];
    for (int r = 0; r < kRows; ++r) {
      for (int k = 0; k < 4; ++k) sums[r][k] = _mm512_setzero_si512();
    }
    for (int fx = 0; fx < width; ++fx) {
      const int column = first + fx * g.dilation_width;
      for (int q = 0; q < quads; ++q) {
        for (int k = 0; k < 4; ++k) {
          for (int r = 0; r < kRows; ++r) {
            sums[r][k] =
                _mm512_dpbusd_epi32(sums[r][k], scratch[column][q][k], weights[r][fx][q][k]);
          }
        }
      }
    }
    for (int r = 0; r < kRows; ++r) {
      __m512i values[4];
      for (int k = 0; k < 4; ++k) values[k] = Rescale<kEpilogue>(constants[k], sums[r][k]);
      // Saturating packs, which also put the channels back in order.
      __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(values[0], values[1]),
                                         _mm512_packs_epi32(values[2], values[3]));
      bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, low), high);
      for (int s = 0; s < layout.segments; ++s) {
        const int pixel = v + s * layout.vectors;
        if (pixel >= g.output_width) break;
        // Lane s * width + i goes to channel i of the pixel.
        _mm512_mask_storeu_epi8(out[r] + static_cast<int64_t>(pixel) * depth - s * layout.width,
                                layout.lanes[s], bytes);
      }
    }
  }
}

// VectorsOfChunk for a block's epilogue mode and kRows rows.
template <int kWidth, int kQuads, int kRows>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void VectorsOfChunkFor(
    int epilogue, const ConvGeometry& g, const SegmentLayout& layout, int width, int quads,
    const QuadVectors* scratch, const QuadVectors (*weights)[kMaxDepthwiseVnniColumns],
    const ChannelBlockConstants* constants, int v0, int v1, int8_t* const* out) {
  switch (epilogue) {
    case kSingleRoundingClampsNegatives:
      VectorsOfChunk<kWidth, kQuads, kRows, kSingleRoundingClampsNegatives>(
          g, layout, width, quads, scratch, weights, constants, v0, v1, out);
      break;
    case kSingleRounding:
      VectorsOfChunk<kWidth, kQuads, kRows, kSingleRounding>(g, layout, width, quads, scratch,
                                                             weights, constants, v0, v1, out);
      break;
    default:
      VectorsOfChunk<kWidth, kQuads, kRows, kTwoSteps>(g, layout, width, quads, scratch,
                                                       weights, constants, v0, v1, out);
  }
}

// Input columns [x_first, x_first + columns) of one row and block (each
// window row from `rows`, all lanes or none by `row_lanes`), interleaved
// into scratch[0, columns). Segment s reads input column x + s * vectors *
// stride; lanes outside the input read the zero point (unsigned: zp + 128).
template <int kQuads, int kSegments>
__attribute__((target("avx512f,avx512bw"))) void InterleaveColumns(
    const ConvGeometry& g, const SegmentLayout& layout, int quads, const int8_t* input, int c,
    const int8_t* const* rows, const __mmask64* row_lanes, int x_first, int columns,
    __m512i zero_point, QuadVectors* scratch) {
  const __m512i flip = _mm512_set1_epi8(-128);
  const int depth = g.input_depth;
  const int64_t segment_step = static_cast<int64_t>(layout.vectors) * g.stride_width;
  for (int column = 0; column < columns; ++column) {
    const int x = x_first + column;
    int64_t offsets[kSegments];  // of each segment's read, from the row's start
    __mmask64 inside = 0;
    for (int s = 0; s < kSegments; ++s) {
      const int64_t xs = x + s * segment_step;
      offsets[s] = xs * depth + c - s * layout.width;
      if (xs >= 0 && xs < g.input_width) inside |= layout.lanes[s];
    }
    for (int q = 0; q < (kQuads > 0 ? kQuads : quads); ++q) {
      __m512i taps[4];
      for (int r = 0; r < 4; ++r) {
        const __mmask64 lanes = inside & row_lanes[4 * q + r];
        __m512i tap = zero_point;
        for (int s = 0; s < kSegments; ++s) {
          tap = _mm512_mask_loadu_epi8(tap, lanes & layout.lanes[s], rows[4 * q + r] + offsets[s]);
        }
        taps[r] = _mm512_xor_si512(tap, flip);
      }
      InterleaveTaps(taps, scratch[column][q]);
    }
  }
}

// kWidth, kQuads: the filter's width and quads when known at compile time
// (the loops over taps unroll and the weights stay in registers), else 0.
template <int kWidth, int kQuads>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void RowsVnni(
    const ConvGeometry& g, const PackedDepthwiseVnni& p, const int8_t* input, int8_t* output,
    int64_t row_begin, int64_t row_end, int block_begin, int block_end) {
  const int width = kWidth > 0 ? kWidth : p.filter_width;
  const int quads = kQuads > 0 ? kQuads : p.quads;
  const int depth = p.depth;
  const int span = (width - 1) * g.dilation_width + 1;
  const int chunk = (kScratchColumns - span) / g.stride_width + 1;  // vectors
  alignas(64) QuadVectors scratch[kScratchColumns];
  alignas(64) QuadVectors weights[2][kMaxDepthwiseVnniColumns];
  const __m512i zero_point = _mm512_set1_epi8(static_cast<int8_t>(p.input_zero_point));
  // Pairs of output rows one input row apart share their window rows' quads.
  const bool pairs = p.row_pairs && g.stride_height == 1 && g.dilation_height == 1;
  const int sets = p.row_pairs ? 2 : 1;  // weight sets packed per block
  for (int64_t row = row_begin; row < row_end;) {
    const int b = static_cast<int>(row / g.output_height);
    const int oy = static_cast<int>(row % g.output_height);
    const int y0 = oy * g.stride_height - g.pad_top;
    const int row_count = pairs && row + 1 < row_end && oy + 1 < g.output_height ? 2 : 1;
    // Each quad slot's input row, and all lanes or none: a window row in the
    // padding (or past the rows' windows) loads nothing and reads the zero
    // point.
    const int8_t* rows[4 * kMaxQuads];
    __mmask64 row_lanes[4 * kMaxQuads];
    for (int slot = 0; slot < 4 * quads; ++slot) {
      const int y = y0 + slot * g.dilation_height;
      const bool inside =
          slot < p.filter_height + row_count - 1 && y >= 0 && y < g.input_height;
      rows[slot] = inside ? input + (static_cast<int64_t>(b) * g.input_height + y) *
                                        g.input_width * depth
                          : input;
      row_lanes[slot] = inside ? ~__mmask64(0) : 0;
    }
    int8_t* row_output =
        output + (static_cast<int64_t>(b) * g.output_height + oy) * g.output_width * depth;
    const Bytes64* block_weights =
        p.weights.data() + static_cast<size_t>(block_begin) * sets * width * quads * 4;
    const ChannelBlockConstants* constants = p.constants.data() + 4 * block_begin;
    for (int index = block_begin; index < block_end; ++index) {
      const PackedDepthwiseVnni::Block& block = p.blocks[index];
      const SegmentLayout layout = LayoutOf(block, g.output_width);
      const int c = block.first_channel;
      for (int set = 0; set < row_count; ++set) {
        for (int fx = 0; fx < width; ++fx) {
          for (int q = 0; q < quads; ++q) {
            for (int k = 0; k < 4; ++k) {
              weights[set][fx][q][k] = _mm512_load_si512(
                  block_weights + ((set * width + fx) * quads + q) * 4 + k);
            }
          }
        }
      }
      for (int v0 = 0; v0 < layout.vectors; v0 += chunk) {
        const int v1 = std::min(layout.vectors, v0 + chunk);
        const int x_first = v0 * g.stride_width - g.pad_left;
        const int columns = (v1 - 1 - v0) * g.stride_width + span;
        switch (layout.segments) {
          case 1:
            InterleaveColumns<kQuads, 1>(g, layout, quads, input, c, rows, row_lanes, x_first,
                                         columns, zero_point, scratch);
            break;
          case 2:
            InterleaveColumns<kQuads, 2>(g, layout, quads, input, c, rows, row_lanes, x_first,
                                         columns, zero_point, scratch);
            break;
          default:
            InterleaveColumns<kQuads, 4>(g, layout, quads, input, c, rows, row_lanes, x_first,
                                         columns, zero_point, scratch);
        }
        int8_t* const out[2] = {row_output + c,
                                row_output + static_cast<int64_t>(g.output_width) * depth + c};
        if (row_count == 2) {
          VectorsOfChunkFor<kWidth, kQuads, 2>(block.epilogue, g, layout, width, quads, scratch,
                                               weights, constants, v0, v1, out);
        } else {
          VectorsOfChunkFor<kWidth, kQuads, 1>(block.epilogue, g, layout, width, quads, scratch,
                                               weights, constants, v0, v1, out);
        }
      }
      block_weights += sets * width * quads * 4;
      constants += 4;
    }
    row += row_count;
  }
}

}  // namespace

void DepthwiseRowsVnni(const ConvGeometry& g, const PackedDepthwiseVnni& p, const int8_t* input,
                       int8_t* output, int64_t row_begin, int64_t row_end, int block_begin,
                       int block_end) {
  if (block_end < 0) block_end = static_cast<int>(p.blocks.size());
  if (p.filter_width == 3 && p.quads == 1) {
    RowsVnni<3, 1>(g, p, input, output, row_begin, row_end, block_begin, block_end);
  } else if (p.filter_width == 5 && p.quads == 2) {
    RowsVnni<5, 2>(g, p, input, output, row_begin, row_end, block_begin, block_end);
  } else {
    RowsVnni<0, 0>(g, p, input, output, row_begin, row_end, block_begin, block_end);
  }
}
#else
void DepthwiseRowsVnni(const ConvGeometry&, const PackedDepthwiseVnni&, const int8_t*, int8_t*,
                       int64_t, int64_t, int, int) {}
#endif

}  // namespace kernels
}  // namespace tfq
