#include "delegates/kernels/conv.h"

#include <algorithm>
#include <cstring>

#include "delegates/kernels/depthwise_avx512.h"
#include "delegates/kernels/depthwise_neon.h"
#include "delegates/kernels/dot.h"
#include "delegates/kernels/dot_amx.h"
#include "delegates/kernels/dot_int16.h"

namespace tfq {
namespace kernels {
namespace {

int8_t Requantize(int32_t acc, int channel, const ConvQuantization& quantization) {
  int32_t value = MultiplyByQuantizedMultiplier(acc, quantization.multipliers[channel]);
  value += quantization.output_zero_point;
  return static_cast<int8_t>(
      std::min(std::max(value, quantization.output_min), quantization.output_max));
}

// int16x8: TFLite's int64 MultiplyByQuantizedMultiplier (fixed_point.h).
int16_t RequantizeInt16(int64_t acc, int channel, const ConvQuantization& quantization) {
  int32_t value = MultiplyByQuantizedMultiplierInt64(acc, quantization.multipliers[channel]);
  value += quantization.output_zero_point;
  return static_cast<int16_t>(
      std::min(std::max(value, quantization.output_min), quantization.output_max));
}

// TFLite's reference loops, for int8 (Acc int32) and int16 (Acc int64).
template <typename In, typename Acc, typename Out, typename RequantizeFn>
void ConvReference(const ConvGeometry& g, int filter_input_depth,
                   const ConvQuantization& quantization, const In* input, const int8_t* filter,
                   const Acc* bias, Out* output, RequantizeFn requantize, int64_t row_begin = 0,
                   int64_t row_end = -1) {
  const int groups = g.input_depth / filter_input_depth;
  const int outputs_per_group = g.output_depth / groups;
  // Output rows [row_begin, row_end) over batch and height (threads split them).
  if (row_end < 0) row_end = static_cast<int64_t>(g.batches) * g.output_height;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int b = static_cast<int>(row / g.output_height);
    const int oy = static_cast<int>(row % g.output_height);
    {
      const int y0 = oy * g.stride_height - g.pad_top;
      for (int ox = 0; ox < g.output_width; ++ox) {
        const int x0 = ox * g.stride_width - g.pad_left;
        for (int oc = 0; oc < g.output_depth; ++oc) {
          const int first_input_channel = (oc / outputs_per_group) * filter_input_depth;
          // The op's check bounds taps x depth so this sum cannot overflow.
          Acc acc = 0;
          for (int fy = 0; fy < g.filter_height; ++fy) {
            const int y = y0 + fy * g.dilation_height;
            if (y < 0 || y >= g.input_height) continue;
            for (int fx = 0; fx < g.filter_width; ++fx) {
              const int x = x0 + fx * g.dilation_width;
              if (x < 0 || x >= g.input_width) continue;
              const In* pixel =
                  input + ((static_cast<int64_t>(b) * g.input_height + y) * g.input_width + x) *
                              g.input_depth + first_input_channel;
              const int8_t* taps =
                  filter + ((static_cast<int64_t>(oc) * g.filter_height + fy) * g.filter_width +
                            fx) * filter_input_depth;
              for (int ic = 0; ic < filter_input_depth; ++ic) {
                acc += (static_cast<int32_t>(pixel[ic]) - quantization.input_zero_point) *
                       taps[ic];
              }
            }
          }
          if (bias != nullptr) acc += bias[oc];
          output[((static_cast<int64_t>(b) * g.output_height + oy) * g.output_width + ox) *
                     g.output_depth + oc] = requantize(acc, oc);
        }
      }
    }
  }
}

template <typename In, typename Acc, typename Out, typename RequantizeFn>
void DepthwiseConvReference(const ConvGeometry& g, int depth_multiplier,
                            const ConvQuantization& quantization, const In* input,
                            const int8_t* filter, const Acc* bias, Out* output,
                            RequantizeFn requantize, int64_t row_begin = 0,
                            int64_t row_end = -1) {
  // Output rows [row_begin, row_end) over batch and height (threads split them).
  if (row_end < 0) row_end = static_cast<int64_t>(g.batches) * g.output_height;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int b = static_cast<int>(row / g.output_height);
    const int oy = static_cast<int>(row % g.output_height);
    {
      const int y0 = oy * g.stride_height - g.pad_top;
      for (int ox = 0; ox < g.output_width; ++ox) {
        const int x0 = ox * g.stride_width - g.pad_left;
        for (int oc = 0; oc < g.output_depth; ++oc) {
          const int ic = oc / depth_multiplier;
          Acc acc = 0;
          for (int fy = 0; fy < g.filter_height; ++fy) {
            const int y = y0 + fy * g.dilation_height;
            if (y < 0 || y >= g.input_height) continue;
            for (int fx = 0; fx < g.filter_width; ++fx) {
              const int x = x0 + fx * g.dilation_width;
              if (x < 0 || x >= g.input_width) continue;
              const int32_t value = input[((static_cast<int64_t>(b) * g.input_height + y) *
                                               g.input_width + x) * g.input_depth + ic];
              acc += (value - quantization.input_zero_point) *
                     filter[(static_cast<int64_t>(fy) * g.filter_width + fx) * g.output_depth +
                            oc];
            }
          }
          if (bias != nullptr) acc += bias[oc];
          output[((static_cast<int64_t>(b) * g.output_height + oy) * g.output_width + ox) *
                     g.output_depth + oc] = requantize(acc, oc);
        }
      }
    }
  }
}

// A 1x1 window without padding reads each output pixel's input pixel as it
// lies: its im2col row is a pointer into the input, no copy.
bool ReadsInputInPlace(const ConvGeometry& g) {
  return g.filter_height == 1 && g.filter_width == 1 && g.pad_top == 0 && g.pad_left == 0;
}

// An output pixel's coordinates, from its index flattened over batch, y
// and x once, then stepped pixel by pixel (no division per pixel).
struct PixelCursor {
  PixelCursor(const ConvGeometry& g, int64_t pixel)
      : g(g),
        b(pixel / (static_cast<int64_t>(g.output_width) * g.output_height)),
        oy(static_cast<int>((pixel / g.output_width) % g.output_height)),
        ox(static_cast<int>(pixel % g.output_width)) {}
  void Next() {
    if (++ox < g.output_width) return;
    ox = 0;
    if (++oy < g.output_height) return;
    oy = 0;
    ++b;
  }
  const ConvGeometry& g;
  int64_t b;
  int oy, ox;
};

// `bytes` bytes from `from` to `to`, each XOR `flip` (0, or 0x80: an int8
// made the unsigned x + 128 the packed kernel reads). Short runs (a 3x3
// first conv's window rows are 9 bytes) go in 8-, 4- or 2-byte pieces, the last
// overlapping the one before, not through a call to memcpy.
inline void CopyRun(const void* from, int64_t bytes, uint8_t flip, void* to) {
  auto* dst = static_cast<unsigned char*>(to);
  const auto* src = static_cast<const unsigned char*>(from);
  if (flip == 0 && bytes > 32) {
    std::memcpy(dst, src, static_cast<size_t>(bytes));
    return;
  }
  const uint64_t flip8 = flip * uint64_t{0x0101010101010101};
  auto copy8 = [&](int64_t at) {
    uint64_t value;
    std::memcpy(&value, src + at, 8);
    value ^= flip8;
    std::memcpy(dst + at, &value, 8);
  };
  auto copy4 = [&](int64_t at) {
    uint32_t value;
    std::memcpy(&value, src + at, 4);
    value ^= static_cast<uint32_t>(flip8);
    std::memcpy(dst + at, &value, 4);
  };
  if (bytes >= 8) {
    for (int64_t i = 0; i + 8 < bytes; i += 8) copy8(i);
    copy8(bytes - 8);
  } else if (bytes >= 4) {
    copy4(0);
    copy4(bytes - 4);
  } else if (bytes >= 2) {  // a 3x3 first conv on one channel: 3-byte runs
    const auto flip2 = static_cast<uint16_t>(flip8);
    uint16_t first, last;
    std::memcpy(&first, src, 2);
    std::memcpy(&last, src + bytes - 2, 2);
    first ^= flip2, last ^= flip2;
    std::memcpy(dst, &first, 2);
    std::memcpy(dst + bytes - 2, &last, 2);
  } else if (bytes == 1) {
    dst[0] = src[0] ^ flip;
  }
}

// The im2col row of the output pixel at `at`: the window copied into
// `slot`, taps in the padding set to `fill` (the input zero point, so they
// add nothing), every byte XOR `flip` (fill included; 0 for int16); or,
// `in_place`, the input pixel itself (not flipped).
template <typename T>
const T* Im2colRow(const ConvGeometry& g, const T* input, const PixelCursor& at, T fill,
                   uint8_t flip, bool in_place, T* slot) {
  const int depth = g.input_depth;
  const int64_t b = at.b;
  const int y0 = at.oy * g.stride_height - g.pad_top, x0 = at.ox * g.stride_width - g.pad_left;
  if (in_place) return input + ((b * g.input_height + y0) * g.input_width + x0) * depth;
  const T flipped_fill = static_cast<T>(fill ^ flip);
  const int64_t tap_bytes = static_cast<int64_t>(depth) * sizeof(T);
  T* start = slot;
  // A window row wholly inside the input (dilation 1 in x) is one run of
  // filter_width * depth values: one copy, not one per tap (a first conv
  // with 3 channels would otherwise copy 3 bytes at a time).
  const bool whole_rows =
      g.dilation_width == 1 && x0 >= 0 && x0 + g.filter_width <= g.input_width;
  const int run = g.filter_width * depth;
  for (int fy = 0; fy < g.filter_height; ++fy) {
    const int y = y0 + fy * g.dilation_height;
    if (whole_rows && y >= 0 && y < g.input_height) {
      CopyRun(input + ((b * g.input_height + y) * g.input_width + x0) * depth,
              static_cast<int64_t>(run) * sizeof(T), flip, slot);
      slot += run;
      continue;
    }
    for (int fx = 0; fx < g.filter_width; ++fx, slot += depth) {
      const int x = x0 + fx * g.dilation_width;
      if (y < 0 || y >= g.input_height || x < 0 || x >= g.input_width) {
        std::fill(slot, slot + depth, flipped_fill);
      } else {
        CopyRun(input + ((b * g.input_height + y) * g.input_width + x) * depth, tap_bytes, flip,
                slot);
      }
    }
  }
  return start;
}

// The im2col row of an output pixel whose window lies inside the input, for
// window rows of at most 16 bytes (a first conv on 3 channels: 9): each
// window row copied as 16 bytes (XOR `flip`), the next copy overwriting the
// excess, so there is no branch on the run's size. The caller ensures the
// last copy ends inside rows it writes later and that 16 bytes from each
// window row are inside the input. Im2colRow took about 34 cycles a pixel
// on MobileNetV2's first conv (Zen 4), two thirds of the layer's time.
inline void Im2colShortRuns(const ConvGeometry& g, const int8_t* window, int run, uint8_t flip,
                            int8_t* slot) {
  const int64_t row_step =
      static_cast<int64_t>(g.dilation_height) * g.input_width * g.input_depth;
  for (int fy = 0; fy < g.filter_height; ++fy, window += row_step, slot += run) {
    uint8_t bytes[16];  // one 16-byte load, XOR and store once compiled
    std::memcpy(bytes, window, 16);
    for (uint8_t& byte : bytes) byte ^= flip;
    std::memcpy(slot, bytes, 16);
  }
}

// The walk of the optimized depthwise kernels (depth multiplier 1) over
// output rows [row_begin, row_end) (-1 = all): for each output pixel,
// start(), then tap(input offset, filter offset) for each tap inside the
// input (a row of `depth` channels at each), then finish(output offset).
template <typename StartFn, typename TapFn, typename FinishFn>
void ForEachDepthwisePixel(const ConvGeometry& g, int64_t row_begin, int64_t row_end,
                           StartFn start, TapFn tap, FinishFn finish) {
  const int depth = g.input_depth;
  const int64_t rows = row_end >= 0 ? row_end : static_cast<int64_t>(g.batches) * g.output_height;
  for (int64_t row = row_begin; row < rows; ++row) {
    const int64_t b = row / g.output_height;
    const int oy = static_cast<int>(row % g.output_height);
    const int y0 = oy * g.stride_height - g.pad_top;
    for (int ox = 0; ox < g.output_width; ++ox) {
      const int x0 = ox * g.stride_width - g.pad_left;
      start();
      for (int fy = 0; fy < g.filter_height; ++fy) {
        const int y = y0 + fy * g.dilation_height;
        if (y < 0 || y >= g.input_height) continue;
        for (int fx = 0; fx < g.filter_width; ++fx) {
          const int x = x0 + fx * g.dilation_width;
          if (x < 0 || x >= g.input_width) continue;
          tap(((b * g.input_height + y) * g.input_width + x) * depth,
              (static_cast<int64_t>(fy) * g.filter_width + fx) * depth);
        }
      }
      finish(((b * g.output_height + oy) * g.output_width + ox) * depth);
    }
  }
}

// The walk of the AVX-512 depthwise kernels (multiplier 1), per output row
// of [row_begin, row_end): the window rows inside the input [fy_begin,
// fy_end) and the interior columns [ox_begin, ox_end) (windows wholly inside
// the input in x) go to interior(b, oy, fy_begin, fy_end, ox_begin, ox_end)
// when the row kernel can hold their taps; every other pixel to
// border(b, oy, ox, fy_begin, fy_end).
template <typename Border, typename Interior>
void ForEachDepthwiseRow(const ConvGeometry& g, int64_t row_begin, int64_t row_end,
                         Border border, Interior interior) {
  const int64_t rows = row_end >= 0 ? row_end : static_cast<int64_t>(g.batches) * g.output_height;
  // Interior columns: x0 = ox * stride - pad >= 0 and the window's last
  // column x0 + (w - 1) * dilation inside the input.
  const int span = (g.filter_width - 1) * g.dilation_width;
  const int ox_begin = std::min(g.output_width, (g.pad_left + g.stride_width - 1) / g.stride_width);
  const int last_start = g.input_width - 1 - span + g.pad_left;
  const int ox_end = last_start < 0 ? ox_begin
                                    : std::max(ox_begin, std::min(g.output_width,
                                                                  last_start / g.stride_width + 1));
  for (int64_t row = row_begin; row < rows; ++row) {
    const int b = static_cast<int>(row / g.output_height);
    const int oy = static_cast<int>(row % g.output_height);
    const int y0 = oy * g.stride_height - g.pad_top;
    int fy_begin = 0;
    while (fy_begin < g.filter_height && y0 + fy_begin * g.dilation_height < 0) ++fy_begin;
    int fy_end = fy_begin;
    while (fy_end < g.filter_height && y0 + fy_end * g.dilation_height < g.input_height) ++fy_end;
    const bool row_kernel =
        ox_begin < ox_end && (fy_end - fy_begin) * g.filter_width <= kMaxDepthwiseRowTaps;
    for (int ox = 0; ox < g.output_width; ++ox) {
      if (row_kernel && ox == ox_begin) ox = ox_end;  // the row kernel's part
      if (ox >= g.output_width) break;
      border(b, oy, ox, fy_begin, fy_end);
    }
    if (row_kernel) interior(b, oy, fy_begin, fy_end, ox_begin, ox_end);
  }
}

// Calls tap(input offset, tap index fy * filter_width + fx) for the taps of
// output pixel (b, oy, ox) inside the input (window rows [fy_begin, fy_end)
// are). The filter's offset is the index times the depth.
template <typename Tap>
void ForEachDepthwiseTap(const ConvGeometry& g, int b, int oy, int ox, int fy_begin, int fy_end,
                         Tap tap) {
  const int y0 = oy * g.stride_height - g.pad_top, x0 = ox * g.stride_width - g.pad_left;
  for (int fy = fy_begin; fy < fy_end; ++fy) {
    const int y = y0 + fy * g.dilation_height;
    for (int fx = 0; fx < g.filter_width; ++fx) {
      const int x = x0 + fx * g.dilation_width;
      if (x < 0 || x >= g.input_width) continue;
      tap(((static_cast<int64_t>(b) * g.input_height + y) * g.input_width + x) * g.input_depth,
          fy * g.filter_width + fx);
    }
  }
}

int64_t OutputOffset(const ConvGeometry& g, int b, int oy, int ox) {
  return ((static_cast<int64_t>(b) * g.output_height + oy) * g.output_width + ox) *
         g.output_depth;
}

// int8: border pixels gather their in-bounds taps and sum them channel
// block by block (DepthwiseTapsInt8), then the row requantizer.
void DepthwiseInt8Avx512(const ConvGeometry& g, const ConvQuantization& quantization,
                         const RowRequantizer& requantizer, const int8_t* input,
                         const int8_t* filter, const int16_t* filter16, const int32_t* bias,
                         int32_t* acc, int8_t* output, int64_t row_begin, int64_t row_end,
                         const ChannelBlockConstants* blocks) {
  const int depth = g.input_depth;
  const ChannelRequantization channels = requantizer.channels();
  const int8_t* inputs[kMaxDepthwiseTaps];
  const int16_t* filters[kMaxDepthwiseTaps];
  ForEachDepthwiseRow(
      g, row_begin, row_end,
      [&](int b, int oy, int ox, int fy_begin, int fy_end) {
        int taps = 0;
        ForEachDepthwiseTap(g, b, oy, ox, fy_begin, fy_end,
                            [&](int64_t input_offset, int tap) {
                              inputs[taps] = input + input_offset;
                              filters[taps++] = filter16 + static_cast<int64_t>(tap) * depth;
                            });
        if (blocks != nullptr) {  // the bias is the blocks' offset
          DepthwiseTapsInt8(inputs, filters, taps, quantization.input_zero_point, nullptr, depth,
                            acc);
          RescaleRowAvx512(acc, blocks, depth, output + OutputOffset(g, b, oy, ox));
          return;
        }
        DepthwiseTapsInt8(inputs, filters, taps, quantization.input_zero_point, bias, depth,
                          acc);
        requantizer.Run(acc, 0, depth, output + OutputOffset(g, b, oy, ox));
      },
      [&](int b, int oy, int fy_begin, int fy_end, int ox_begin, int ox_end) {
        DepthwiseRowInt8Avx512(g, quantization.input_zero_point, channels, input, filter16, bias,
                               b, oy, fy_begin, fy_end, ox_begin, ox_end, output);
      });
}

}  // namespace

void Conv2DInt8Reference(const ConvGeometry& g, int filter_input_depth,
                         const ConvQuantization& quantization, const int8_t* input,
                         const int8_t* filter, const int32_t* bias, int8_t* output) {
  ConvReference(g, filter_input_depth, quantization, input, filter, bias, output,
                [&](int32_t acc, int c) { return Requantize(acc, c, quantization); });
}

void DepthwiseConv2DInt8Reference(const ConvGeometry& g, int depth_multiplier,
                                  const ConvQuantization& quantization, const int8_t* input,
                                  const int8_t* filter, const int32_t* bias, int8_t* output) {
  DepthwiseConvReference(g, depth_multiplier, quantization, input, filter, bias, output,
                         [&](int32_t acc, int c) { return Requantize(acc, c, quantization); });
}

void Conv2DInt16Reference(const ConvGeometry& g, int filter_input_depth,
                          const ConvQuantization& quantization, const int16_t* input,
                          const int8_t* filter, const int64_t* bias, int16_t* output,
                          int64_t row_begin, int64_t row_end) {
  ConvReference(g, filter_input_depth, quantization, input, filter, bias, output,
                [&](int64_t acc, int c) { return RequantizeInt16(acc, c, quantization); },
                row_begin, row_end);
}

void DepthwiseConv2DInt16Reference(const ConvGeometry& g, int depth_multiplier,
                                   const ConvQuantization& quantization, const int16_t* input,
                                   const int8_t* filter, const int64_t* bias, int16_t* output,
                                   int64_t row_begin, int64_t row_end) {
  DepthwiseConvReference(g, depth_multiplier, quantization, input, filter, bias, output,
                         [&](int64_t acc, int c) { return RequantizeInt16(acc, c, quantization); },
                         row_begin, row_end);
}

std::vector<int32_t> ConvOffsets(const int8_t* filter, int output_depth, int filter_size,
                                 int32_t input_zero_point, const int32_t* bias) {
  std::vector<int32_t> sums(output_depth);
  FilterSums(filter, output_depth, filter_size, sums.data());
  for (int c = 0; c < output_depth; ++c) {
    sums[c] = (bias != nullptr ? bias[c] : 0) - input_zero_point * sums[c];
  }
  return sums;
}

std::vector<int32_t> DepthwiseOffsets(const int8_t* filter, int taps, int depth,
                                      int32_t input_zero_point, const int32_t* bias) {
  std::vector<int32_t> offsets(depth);
  for (int c = 0; c < depth; ++c) {
    int32_t sum = 0;
    for (int t = 0; t < taps; ++t) sum += filter[static_cast<int64_t>(t) * depth + c];
    offsets[c] = (bias != nullptr ? bias[c] : 0) - input_zero_point * sum;
  }
  return offsets;
}

namespace {

// Output pixels [pixel_begin, pixel_end) (-1: all) in blocks of kRows: each
// block's im2col rows go to `patch` (rows `row_stride` elements apart,
// padding taps `fill`, every byte XOR `flip`; in place and as they are for
// pointwise convs, where the input pixel is the row), then body(rows,
// count, first pixel).
template <int kRows, typename T, typename Body>
void ForEachIm2colBlock(const ConvGeometry& g, const T* input, T fill, uint8_t flip, T* patch,
                        int row_stride, int64_t pixel_begin, int64_t pixel_end, Body body) {
  const bool pointwise = ReadsInputInPlace(g);
  // A stride-1 pointwise conv's output pixel p reads input pixel p: the rows
  // are pointers a pixel apart, with no cursor and no call per row (on a
  // 16-channel layer these were a third of the conv's time).
  const bool same_pixels = pointwise && g.stride_height == 1 && g.stride_width == 1 &&
                           g.output_height == g.input_height &&
                           g.output_width == g.input_width;
  const int64_t pixels = pixel_end >= 0 ? pixel_end
                                        : static_cast<int64_t>(g.batches) * g.output_height *
                                              g.output_width;
  // int8 window rows of at most 16 bytes inside the input: Im2colShortRuns.
  const int run = g.filter_width * g.input_depth;
  const bool short_runs = !pointwise && g.dilation_width == 1 && run <= 16;
  const int64_t input_bytes = static_cast<int64_t>(g.batches) * g.input_height * g.input_width *
                              g.input_depth * static_cast<int64_t>(sizeof(T));
  for (int64_t first = pixel_begin; first < pixels; first += kRows) {
    const int count = static_cast<int>(std::min<int64_t>(kRows, pixels - first));
    const T* rows[kRows] = {};
    if (same_pixels) {
      for (int r = 0; r < count; ++r) rows[r] = input + (first + r) * g.input_depth;
      body(rows, count, first);
      continue;
    }
    PixelCursor at(g, first);
    for (int r = 0; r < count; ++r, at.Next()) {
      T* slot = patch + static_cast<int64_t>(r) * row_stride;
      if constexpr (sizeof(T) == 1) {
        // Only where the last 16-byte copy ends inside the block's rows
        // (the rows after r, written later, overwrite what it adds).
        if (short_runs && static_cast<int64_t>(r) * row_stride +
                                  static_cast<int64_t>(g.filter_height - 1) * run + 16 <=
                              static_cast<int64_t>(count) * row_stride) {
          const int y0 = at.oy * g.stride_height - g.pad_top;
          const int x0 = at.ox * g.stride_width - g.pad_left;
          if (x0 >= 0 && x0 + g.filter_width <= g.input_width && y0 >= 0 &&
              y0 + (g.filter_height - 1) * g.dilation_height < g.input_height) {
            const T* window =
                input + ((at.b * g.input_height + y0) * g.input_width + x0) * g.input_depth;
            const T* last_row = window + static_cast<int64_t>(g.filter_height - 1) *
                                             g.dilation_height * g.input_width * g.input_depth;
            if (input_bytes - (last_row - input) >= 16) {
              Im2colShortRuns(g, window, run, flip, slot);
              rows[r] = slot;
              continue;
            }
          }
        }
      }
      rows[r] = Im2colRow(g, input, at, fill, flip, pointwise, slot);
    }
    body(rows, count, first);
  }
}

// Conv2DInt8Optimized on AMX: blocks of kAmxMaxRows output pixels. The
// tiles read rows with a stride, and each row's bytes past the patch meet
// the packed filter's zero padding, so a pointwise conv's evenly spaced
// input pixels are read where they lie (only the input's last pixels, whose
// over-read would leave the tensor, are copied). Other rows are written by
// im2col straight into the tile scratch (rows of AmxRowStride(patch size)
// bytes, whatever their tails hold).
void AmxConv2DInt8(const ConvGeometry& g, const ConvQuantization& quantization,
                   const ChannelRequantization& requantization, const int8_t* input,
                   const std::vector<int8_t>& packed, const int32_t* offsets, int8_t* patch,
                   int8_t* output, int64_t pixel_begin, int64_t pixel_end, int channel_begin,
                   int channel_end) {
  const int patch_size = g.filter_height * g.filter_width * g.input_depth;
  const int row_stride = AmxRowStride(patch_size);
  const int8_t* input_end = input + static_cast<int64_t>(g.batches) * g.input_height *
                                        g.input_width * g.input_depth;
  AmxTiles tiles;  // configured on first use, released on return
  ForEachIm2colBlock<kAmxMaxRows>(
      g, input, static_cast<int8_t>(quantization.input_zero_point), 0, patch, row_stride,
      pixel_begin, pixel_end,
      [&](const int8_t* const* rows, int count, int64_t first) {
        const int8_t* a = patch;
        int64_t a_stride = row_stride;
        if (rows[0] != patch) {  // rows in place in the input
          const int64_t spacing = count > 1 ? rows[1] - rows[0] : patch_size;
          bool even = true;
          for (int r = 2; r < count && even; ++r) even = rows[r] == rows[0] + r * spacing;
          if (even && rows[count - 1] + row_stride <= input_end) {
            a = rows[0];
            a_stride = spacing;
          } else {
            for (int r = 0; r < count; ++r) {
              std::memcpy(patch + static_cast<int64_t>(r) * row_stride, rows[r], patch_size);
            }
          }
        }
        AmxDotRowsToInt8(tiles, a, a_stride, count, packed, offsets, requantization,
                         g.output_depth, patch_size, output + first * g.output_depth,
                         g.output_depth, channel_begin, channel_end);
      });
}

}  // namespace

void Conv2DInt8Optimized(const ConvGeometry& g, const ConvQuantization& quantization,
                         const RowRequantizer& requantizer, const int8_t* input,
                         const int8_t* filter, const std::vector<int8_t>& packed,
                         const int32_t* offsets, int8_t* patch, int32_t* acc, int8_t* output,
                         int64_t pixel_begin, int64_t pixel_end,
                         const std::vector<int8_t>* amx_packed, int channel_begin,
                         int channel_end, const ChannelBlockConstants* blocks,
                         const PackedFiltersAvx2* avx2, int16_t* wide_rows) {
  const int patch_size = g.filter_height * g.filter_width * g.input_depth;
  if (amx_packed != nullptr && !amx_packed->empty()) {
    AmxConv2DInt8(g, quantization, requantizer.channels(), input, *amx_packed, offsets, patch,
                  output, pixel_begin, pixel_end, channel_begin, channel_end);
    return;
  }
  // Blocks of output pixels: with packed filters each weight load serves
  // kConvPixelBlock of them.
  // The packed kernel's rows carry its offset (x + 128 is x ^ 0x80):
  // im2col writes them so, pointwise rows are offset per block.
  const uint8_t flip = packed.empty() ? 0 : static_cast<uint8_t>(PackedDotRowOffset());
  ForEachIm2colBlock<kConvPixelBlock>(
      g, input, static_cast<int8_t>(quantization.input_zero_point), flip, patch, patch_size,
      pixel_begin, pixel_end,
      [&](const int8_t* const* rows, int count, int64_t first) {
        if (!packed.empty()) {  // offsets added and the sums rescaled inside
          const int8_t* offset_rows[kConvPixelBlock];
          std::copy(rows, rows + count, offset_rows);
          if (rows[0] != patch) OffsetRowsForPackedDot(offset_rows, count, patch_size, patch);
          PackedDotRowsToInt8(offset_rows, count, packed, offsets, requantizer.channels(),
                              g.output_depth, patch_size, output + first * g.output_depth,
                              g.output_depth, blocks);
          return;
        }
        if (avx2 != nullptr && !avx2->empty()) {  // 4 rows at a time, int16 pairs
          for (int r = 0; r < count; r += kPackedAvx2MaxRows) {
            PackedDotRowsAvx2ToInt8(rows + r, std::min(kPackedAvx2MaxRows, count - r), *avx2,
                                    offsets, requantizer, g.output_depth, patch_size, wide_rows,
                                    acc, output + (first + r) * g.output_depth, g.output_depth);
          }
          return;
        }
        for (int r = 0; r < count; ++r) {  // portable dot products
          int32_t* pixel_acc = acc + r * g.output_depth;
          int oc = 0;
          for (; oc + 4 <= g.output_depth; oc += 4) {  // the row read once per 4 filters
            const int8_t* filters[4];
            for (int k = 0; k < 4; ++k) {
              filters[k] = filter + static_cast<int64_t>(oc + k) * patch_size;
            }
            DotInt8x4(rows[r], filters, patch_size, pixel_acc + oc);
          }
          for (; oc < g.output_depth; ++oc) {
            pixel_acc[oc] =
                DotInt8(rows[r], filter + static_cast<int64_t>(oc) * patch_size, patch_size);
          }
          for (oc = 0; oc < g.output_depth; ++oc) pixel_acc[oc] += offsets[oc];
          requantizer.Run(pixel_acc, 0, g.output_depth, output + (first + r) * g.output_depth);
        }
      });
}

void DepthwiseConv2DInt8Optimized(const ConvGeometry& g, const ConvQuantization& quantization,
                                  const RowRequantizer& requantizer, const int8_t* input,
                                  const int8_t* filter, const int16_t* filter16,
                                  const int32_t* bias, int32_t* acc, int8_t* output,
                                  int64_t row_begin, int64_t row_end,
                                  const std::vector<ChannelBlockAvx2>* avx2_blocks,
                                  const ChannelBlockConstants* blocks,
                                  const PackedDepthwiseAvx2* avx2_pairs) {
  const int depth = g.input_depth;  // == output_depth (multiplier 1)
  if (avx2_pairs != nullptr && !avx2_pairs->empty()) {
    // Every tap has a row: the input's, or the zero points' outside it.
    const int8_t* inputs[kMaxDepthwiseTaps + 1];
    const int slots = 2 * avx2_pairs->pairs;
    const int8_t* zero_points = avx2_pairs->zero_point_row.data();
    const int64_t step = static_cast<int64_t>(g.stride_width) * depth;
    auto gather = [&](int b, int oy, int ox, int fy_begin, int fy_end) {
      std::fill(inputs, inputs + slots, zero_points);
      ForEachDepthwiseTap(g, b, oy, ox, fy_begin, fy_end,
                          [&](int64_t input_offset, int tap) { inputs[tap] = input + input_offset; });
    };
    auto pixel = [&](int b, int oy, int ox, int fy_begin, int fy_end) {
      gather(b, oy, ox, fy_begin, fy_end);
      DepthwisePixelPairsAvx2(inputs, *avx2_pairs, requantizer, acc,
                              output + OutputOffset(g, b, oy, ox));
    };
    ForEachDepthwiseRow(
        g, row_begin, row_end, pixel,
        [&](int b, int oy, int fy_begin, int fy_end, int ox_begin, int ox_end) {
          // Interior columns: the same taps inside the input at every pixel
          // (a zero-point row too short for the row: pixel by pixel).
          const int count = ox_end - ox_begin;
          if (static_cast<int64_t>(avx2_pairs->zero_point_row.size()) <
              avx2_pairs->RowBytes(count, step)) {
            for (int ox = ox_begin; ox < ox_end; ++ox) pixel(b, oy, ox, fy_begin, fy_end);
            return;
          }
          gather(b, oy, ox_begin, fy_begin, fy_end);
          DepthwiseRowPairsAvx2(inputs, step, count, *avx2_pairs, requantizer, acc,
                                output + OutputOffset(g, b, oy, ox_begin));
        });
    return;
  }
  // One kernel call per pixel, with its in-input taps' rows and weights.
  auto for_each_pixel_taps = [&](auto pixel) {
    const int8_t* inputs[kMaxDepthwiseTaps];
    const int16_t* filters[kMaxDepthwiseTaps];
    int taps = 0;
    ForEachDepthwisePixel(
        g, row_begin, row_end, [&] { taps = 0; },
        [&](int64_t input_offset, int64_t filter_offset) {
          inputs[taps] = input + input_offset;
          filters[taps++] = filter16 + filter_offset;
        },
        [&](int64_t output_offset) { pixel(inputs, filters, taps, output + output_offset); });
  };
  const bool pixel_taps =
      filter16 != nullptr && g.filter_height * g.filter_width <= kMaxDepthwiseTaps;
  if (pixel_taps && avx2_blocks != nullptr) {
    for_each_pixel_taps([&](const int8_t* const* inputs, const int16_t* const* filters, int taps,
                            int8_t* out) {
      DepthwisePixelAvx2(inputs, filters, taps, quantization.input_zero_point, bias,
                         *avx2_blocks, requantizer, depth, acc, out);
    });
    return;
  }
  if (pixel_taps && DepthwiseNeonAvailable()) {
    const ChannelRequantization channels = requantizer.channels();
    for_each_pixel_taps([&](const int8_t* const* inputs, const int16_t* const* filters, int taps,
                            int8_t* out) {
      DepthwisePixelNeon(inputs, filters, taps, quantization.input_zero_point, bias, channels,
                         depth, out);
    });
    return;
  }
  if (filter16 != nullptr && g.filter_height * g.filter_width <= kMaxDepthwiseTaps) {
    DepthwiseInt8Avx512(g, quantization, requantizer, input, filter, filter16, bias, acc, output,
                        row_begin, row_end, blocks);
    return;
  }
  ForEachDepthwisePixel(
      g, row_begin, row_end,
      [&] { for (int c = 0; c < depth; ++c) acc[c] = bias != nullptr ? bias[c] : 0; },
      [&](int64_t input_offset, int64_t filter_offset) {
        MultiplyAccumulateInt8(input + input_offset, quantization.input_zero_point,
                               filter + filter_offset, depth, acc);
      },
      [&](int64_t output_offset) { requantizer.Run(acc, 0, depth, output + output_offset); });
}

void Conv2DInt16Optimized(const ConvGeometry& g, const ConvQuantization& quantization,
                          const int16_t* input, const std::vector<int16_t>& packed,
                          const int64_t* bias, int16_t* patch, int64_t* acc, int16_t* output,
                          int64_t pixel_begin, int64_t pixel_end) {
  const int patch_size = g.filter_height * g.filter_width * g.input_depth;
  // Blocks of 4 output pixels: each packed weight load serves all 4. int16
  // zero points are 0: padding is 0.
  ForEachIm2colBlock<4>(
      g, input, int16_t{0}, 0, patch, patch_size, pixel_begin, pixel_end,
      [&](const int16_t* const* rows, int count, int64_t first) {
        PackedDotInt16Rows(rows, count, packed, g.output_depth, patch_size, acc, g.output_depth);
        for (int r = 0; r < count; ++r) {
          const int64_t* pixel_acc = acc + static_cast<int64_t>(r) * g.output_depth;
          int16_t* out = output + (first + r) * g.output_depth;
          for (int oc = 0; oc < g.output_depth; ++oc) {
            out[oc] = RequantizeInt16(pixel_acc[oc] + (bias != nullptr ? bias[oc] : 0), oc,
                                      quantization);
          }
        }
      });
}

void DepthwiseConv2DInt16Optimized(const ConvGeometry& g, const ConvQuantization& quantization,
                                   const int16_t* input, const int16_t* filter,
                                   const int64_t* bias, const Int64Rescale* rescale,
                                   int32_t* acc, int16_t* output, int64_t row_begin,
                                   int64_t row_end) {
  const int depth = g.input_depth;  // == output_depth (multiplier 1)
  auto requantize_pixel = [&](int64_t output_offset) {
    for (int c = 0; c < depth; ++c) {
      output[output_offset + c] =
          RequantizeInt16(acc[c] + (bias != nullptr ? bias[c] : 0), c, quantization);
    }
  };
  auto multiply_accumulate = [&](int64_t input_offset, int64_t filter_offset) {
    MultiplyAccumulateInt16(input + input_offset, filter + filter_offset, depth, acc);
  };
  if (rescale != nullptr) {  // AVX-512: interiors through the row kernel
    ForEachDepthwiseRow(
        g, row_begin, row_end,
        [&](int b, int oy, int ox, int fy_begin, int fy_end) {
          std::fill(acc, acc + depth, 0);
          ForEachDepthwiseTap(g, b, oy, ox, fy_begin, fy_end, [&](int64_t input_offset, int tap) {
            multiply_accumulate(input_offset, static_cast<int64_t>(tap) * depth);
          });
          requantize_pixel(OutputOffset(g, b, oy, ox));
        },
        [&](int b, int oy, int fy_begin, int fy_end, int ox_begin, int ox_end) {
          DepthwiseRowInt16Avx512(g, *rescale, quantization.output_min, quantization.output_max,
                                  input, filter, bias, b, oy, fy_begin, fy_end, ox_begin, ox_end,
                                  output);
        });
    return;
  }
  ForEachDepthwisePixel(
      g, row_begin, row_end, [&] { std::fill(acc, acc + depth, 0); }, multiply_accumulate,
      requantize_pixel);
}

void TransposeConv2DInt8Reference(const ConvGeometry& g, const ConvQuantization& quantization,
                                  const int8_t* input, const int8_t* filter, const int32_t* bias,
                                  int32_t* scratch, int8_t* output) {
  const int64_t outputs =
      static_cast<int64_t>(g.batches) * g.output_height * g.output_width * g.output_depth;
  std::fill(scratch, scratch + outputs, 0);
  for (int b = 0; b < g.batches; ++b) {
    for (int iy = 0; iy < g.input_height; ++iy) {
      for (int ix = 0; ix < g.input_width; ++ix) {
        const int8_t* pixel =
            input + ((static_cast<int64_t>(b) * g.input_height + iy) * g.input_width + ix) *
                        g.input_depth;
        for (int fy = 0; fy < g.filter_height; ++fy) {
          const int oy = iy * g.stride_height - g.pad_top + fy;
          if (oy < 0 || oy >= g.output_height) continue;
          for (int fx = 0; fx < g.filter_width; ++fx) {
            const int ox = ix * g.stride_width - g.pad_left + fx;
            if (ox < 0 || ox >= g.output_width) continue;
            int32_t* sums = scratch + ((static_cast<int64_t>(b) * g.output_height + oy) *
                                           g.output_width + ox) * g.output_depth;
            for (int oc = 0; oc < g.output_depth; ++oc) {
              const int8_t* taps =
                  filter + ((static_cast<int64_t>(oc) * g.filter_height + fy) * g.filter_width +
                            fx) * g.input_depth;
              int32_t acc = 0;
              for (int ic = 0; ic < g.input_depth; ++ic) {
                acc += (static_cast<int32_t>(pixel[ic]) - quantization.input_zero_point) *
                       taps[ic];
              }
              sums[oc] += acc;  // the op's check bounds the total below 2^31
            }
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < outputs; ++i) {
    const int oc = static_cast<int>(i % g.output_depth);
    output[i] = Requantize(scratch[i] + (bias != nullptr ? bias[oc] : 0), oc, quantization);
  }
}

}  // namespace kernels
}  // namespace tfq
