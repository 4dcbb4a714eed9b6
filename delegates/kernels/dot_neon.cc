// dot.h's packed int8 dot products on aarch64, one kernel per CPU chosen
// once per process from its features (GetCpuFeatures):
//   neon_i8mm     smmla: a 2 x 8 block of two rows times 8 taps of two
//                 channels, 2 x 2 int32 sums per instruction;
//   neon_dotprod  sdot: 4 taps of 4 channels per instruction, the row's
//                 quad taken from a lane (as VNNI's broadcast);
//   neon          every AArch64 CPU: widening multiplies (int8 x int8 fits
//                 int16) and pairwise accumulation into int32.
// The sums are exact int32 in any order; the epilogue adds the offsets and
// rescales (fixed_point_neon.h), bit for bit RowRequantizer::Run.
#include "delegates/kernels/dot.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "delegates/cpu_features.h"
#include "delegates/kernels/fixed_point_neon.h"

namespace tfq {
namespace kernels {
namespace {

enum class NeonKernel { kNeon, kDotprod, kI8mm };

NeonKernel ChosenKernel() {
  static const NeonKernel chosen = [] {
    const CpuFeatures& features = GetCpuFeatures();
    return features.neon_i8mm      ? NeonKernel::kI8mm
           : features.neon_dotprod ? NeonKernel::kDotprod
                                   : NeonKernel::kNeon;
  }();
  return chosen;
}

constexpr int kGroup = 16;  // output channels per packed group
constexpr int kRowBlock = 4;  // rows whose sums stay in registers (16 vectors)

// Row r's taps [start, start + count) into `padded` with zeros after n, so
// the last block reads no byte past the row (the packed weights there are 0).
const int8_t* PaddedTail(const int8_t* row, int start, int count, int n, int8_t* padded) {
  std::memset(padded, 0, count);
  if (n > start) std::memcpy(padded, row + start, std::min(count, n - start));
  return padded;
}

// out[r][c] for 16 channels from `first`: offsets, rescale, zero point,
// clamp; sums[r] holds 4 vectors of 4 channels.
void StoreGroup(const int32x4_t sums[][4], int rows, const int32_t* offsets,
                const ChannelRequantization& q, int first, int width, int8_t* out,
                int out_stride) {
  int32_t lanes_offset[kGroup] = {}, lanes_significand[kGroup] = {}, lanes_left[kGroup] = {},
          lanes_right[kGroup] = {};
  for (int c = 0; c < width; ++c) {
    lanes_offset[c] = offsets[first + c];
    lanes_significand[c] = q.significands[first + c];
    lanes_left[c] = q.left_shifts[first + c];
    lanes_right[c] = q.right_shifts[first + c];
  }
  const int32x4_t zero_point = vdupq_n_s32(q.zero_point);
  const int32x4_t low = vdupq_n_s32(q.min), high = vdupq_n_s32(q.max);
  for (int r = 0; r < rows; ++r) {
    int16x4_t narrowed[4];
    for (int k = 0; k < 4; ++k) {
      narrowed[k] = RescaleNarrowX4(vaddq_s32(sums[r][k], vld1q_s32(lanes_offset + 4 * k)),
                                    vld1q_s32(lanes_significand + 4 * k),
                                    vld1q_s32(lanes_left + 4 * k),
                                    vld1q_s32(lanes_right + 4 * k), zero_point, low, high);
    }
    const int8x16_t bytes = vcombine_s8(vmovn_s16(vcombine_s16(narrowed[0], narrowed[1])),
                                        vmovn_s16(vcombine_s16(narrowed[2], narrowed[3])));
    int8_t* row_out = out + static_cast<int64_t>(r) * out_stride + first;
    if (width == kGroup) {
      vst1q_s8(row_out, bytes);
    } else {
      int8_t staged[kGroup];
      vst1q_s8(staged, bytes);
      std::memcpy(row_out, staged, width);
    }
  }
}

// Quad layout (neon, dotprod): group g, quad q (taps 4q .. 4q+3), channel
// c of the group: 4 bytes at ((g * quads + q) * 16 + c) * 4.
std::vector<int8_t> PackQuads(const int8_t* filters, int output_depth, int n) {
  const int groups = (output_depth + kGroup - 1) / kGroup, quads = (n + 3) / 4;
  std::vector<int8_t> packed(static_cast<size_t>(groups) * quads * 64, 0);
  for (int c = 0; c < output_depth; ++c) {
    for (int i = 0; i < n; ++i) {
      packed[((static_cast<size_t>(c / kGroup) * quads + i / 4) * kGroup + c % kGroup) * 4 +
             i % 4] = filters[static_cast<int64_t>(c) * n + i];
    }
  }
  return packed;
}

// Octet layout (i8mm): group g, octet o (taps 8o .. 8o+7), channel pair p:
// 16 bytes at ((g * octets + o) * 8 + p) * 16, channel 2p's 8 taps then 2p+1's.
std::vector<int8_t> PackOctets(const int8_t* filters, int output_depth, int n) {
  const int groups = (output_depth + kGroup - 1) / kGroup, octets = (n + 7) / 8;
  std::vector<int8_t> packed(static_cast<size_t>(groups) * octets * 128, 0);
  for (int c = 0; c < output_depth; ++c) {
    const int g = c / kGroup, p = (c % kGroup) / 2, j = c % 2;
    for (int i = 0; i < n; ++i) {
      packed[((static_cast<size_t>(g) * octets + i / 8) * 8 + p) * 16 + j * 8 + i % 8] =
          filters[static_cast<int64_t>(c) * n + i];
    }
  }
  return packed;
}

// NEON: per quad, the row's 4 bytes twice in 8 lanes times 2 channels' 4
// taps (vmull_s8), pairs added into int32 (vpadal); a final pairwise add
// leaves one sum per channel.
template <int kRows>
void GroupNeon(const int8_t* const rows[], const int8_t* weights, int n, int32x4_t sums[][4]) {
  int32x4_t acc[kRows][4][2];
  for (int r = 0; r < kRows; ++r) {
    for (int k = 0; k < 4; ++k) acc[r][k][0] = acc[r][k][1] = vdupq_n_s32(0);
  }
  const int quads = (n + 3) / 4;
  for (int q = 0; q < quads; ++q) {
    int8x8_t x[kRows];
    for (int r = 0; r < kRows; ++r) {
      int32_t quad = 0;
      std::memcpy(&quad, rows[r] + 4 * q, std::min(4, n - 4 * q));  // zeros past n
      x[r] = vreinterpret_s8_s32(vdup_n_s32(quad));
    }
    for (int k = 0; k < 4; ++k) {
      const int8x16_t w = vld1q_s8(weights + q * 64 + k * 16);
      for (int r = 0; r < kRows; ++r) {
        acc[r][k][0] = vpadalq_s16(acc[r][k][0], vmull_s8(vget_low_s8(w), x[r]));
        acc[r][k][1] = vpadalq_s16(acc[r][k][1], vmull_s8(vget_high_s8(w), x[r]));
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int k = 0; k < 4; ++k) sums[r][k] = vpaddq_s32(acc[r][k][0], acc[r][k][1]);
  }
}

// dotprod: 16 taps of each row per step, quad j of them broadcast from
// lane j into sdot against 4 channels' quads.
template <int kLane, int kRows>
__attribute__((target("arch=armv8.2-a+dotprod"))) inline void DotQuad(int32x4_t acc[][4], const int8_t* w,
                                                        const int8x16_t x[]) {
  for (int k = 0; k < 4; ++k) {
    const int8x16_t weights = vld1q_s8(w + k * 16);
    for (int r = 0; r < kRows; ++r) {
      acc[r][k] = vdotq_laneq_s32(acc[r][k], weights, x[r], kLane);
    }
  }
}

template <int kRows>
__attribute__((target("arch=armv8.2-a+dotprod"))) void GroupDotprod(const int8_t* const rows[],
                                                      const int8_t* weights, int n,
                                                      int32x4_t sums[][4]) {
  int32x4_t acc[kRows][4];
  for (int r = 0; r < kRows; ++r) {
    for (int k = 0; k < 4; ++k) acc[r][k] = vdupq_n_s32(0);
  }
  const int quads = (n + 3) / 4;
  int8_t padded[kRows][16];
  for (int q = 0; q < quads; q += 4) {
    int8x16_t x[kRows];
    for (int r = 0; r < kRows; ++r) {
      x[r] = vld1q_s8(4 * q + 16 <= n ? rows[r] + 4 * q
                                      : PaddedTail(rows[r], 4 * q, 16, n, padded[r]));
    }
    // A last step of 1-3 quads: only those (the group's packed quads end there).
    const int8_t* w = weights + static_cast<size_t>(q) * 64;
    const int step = std::min(4, quads - q);
    DotQuad<0, kRows>(acc, w, x);
    if (step > 1) DotQuad<1, kRows>(acc, w + 64, x);
    if (step > 2) DotQuad<2, kRows>(acc, w + 128, x);
    if (step > 3) DotQuad<3, kRows>(acc, w + 192, x);
  }
  for (int r = 0; r < kRows; ++r) {
    for (int k = 0; k < 4; ++k) sums[r][k] = acc[r][k];
  }
}

// i8mm: rows in pairs (an odd last row pairs with itself), 8 taps per
// step; smmla's 2 x 2 sums (row 0: channels 2p, 2p+1; row 1: the same) are
// regrouped into 4-channel vectors per row at the end.
template <int kRows>
__attribute__((target("arch=armv8.2-a+i8mm"))) void GroupI8mm(const int8_t* const rows[],
                                                const int8_t* weights, int n,
                                                int32x4_t sums[][4]) {
  constexpr int kPairs = (kRows + 1) / 2;
  int32x4_t acc[kPairs][8];
  for (int rp = 0; rp < kPairs; ++rp) {
    for (int p = 0; p < 8; ++p) acc[rp][p] = vdupq_n_s32(0);
  }
  const int octets = (n + 7) / 8;
  int8_t padded[kRows][8];
  for (int o = 0; o < octets; ++o) {
    int8x8_t x[kRows];
    for (int r = 0; r < kRows; ++r) {
      x[r] = vld1_s8(8 * o + 8 <= n ? rows[r] + 8 * o
                                    : PaddedTail(rows[r], 8 * o, 8, n, padded[r]));
    }
    int8x16_t a[kPairs];
    for (int rp = 0; rp < kPairs; ++rp) {
      a[rp] = vcombine_s8(x[2 * rp], x[std::min(2 * rp + 1, kRows - 1)]);
    }
    const int8_t* w = weights + static_cast<size_t>(o) * 128;
    for (int p = 0; p < 8; ++p) {
      const int8x16_t b = vld1q_s8(w + p * 16);
      for (int rp = 0; rp < kPairs; ++rp) acc[rp][p] = vmmlaq_s32(acc[rp][p], a[rp], b);
    }
  }
  for (int rp = 0; rp < kPairs; ++rp) {
    for (int k = 0; k < 4; ++k) {  // channels 4k .. 4k+3: pairs 2k and 2k+1
      const int64x2_t first = vreinterpretq_s64_s32(acc[rp][2 * k]);
      const int64x2_t second = vreinterpretq_s64_s32(acc[rp][2 * k + 1]);
      sums[2 * rp][k] = vreinterpretq_s32_s64(vzip1q_s64(first, second));
      if (2 * rp + 1 < kRows) sums[2 * rp + 1][k] = vreinterpretq_s32_s64(vzip2q_s64(first, second));
    }
  }
}

template <int kRows>
void RowsToInt8(const int8_t* const rows[], const std::vector<int8_t>& packed,
                const int32_t* offsets, const ChannelRequantization& q, int output_depth, int n,
                int8_t* out, int out_stride) {
  const NeonKernel kernel = ChosenKernel();
  const size_t group_bytes =
      kernel == NeonKernel::kI8mm ? static_cast<size_t>((n + 7) / 8) * 128
                                  : static_cast<size_t>((n + 3) / 4) * 64;
  int32x4_t sums[kRows][4];
  for (int first = 0; first < output_depth; first += kGroup) {
    const int8_t* weights = packed.data() + static_cast<size_t>(first / kGroup) * group_bytes;
    switch (kernel) {
      case NeonKernel::kI8mm: GroupI8mm<kRows>(rows, weights, n, sums); break;
      case NeonKernel::kDotprod: GroupDotprod<kRows>(rows, weights, n, sums); break;
      case NeonKernel::kNeon: GroupNeon<kRows>(rows, weights, n, sums); break;
    }
    StoreGroup(sums, kRows, offsets, q, first, std::min(kGroup, output_depth - first), out,
               out_stride);
  }
}

using RowsFn = void (*)(const int8_t* const[], const std::vector<int8_t>&, const int32_t*,
                        const ChannelRequantization&, int, int, int8_t*, int);
constexpr RowsFn kRowsToInt8[kRowBlock] = {&RowsToInt8<1>, &RowsToInt8<2>, &RowsToInt8<3>,
                                           &RowsToInt8<4>};

}  // namespace

bool PackedDotAvailable() { return true; }  // NEON is part of AArch64

const char* PackedDotKernel() {
  switch (ChosenKernel()) {
    case NeonKernel::kI8mm: return "neon_i8mm";
    case NeonKernel::kDotprod: return "neon_dotprod";
    case NeonKernel::kNeon: return "neon";
  }
  return "neon";
}

std::vector<int8_t> PackFilters(const int8_t* filters, int output_depth, int n) {
  return ChosenKernel() == NeonKernel::kI8mm ? PackOctets(filters, output_depth, n)
                                             : PackQuads(filters, output_depth, n);
}

// Signed on both sides: the rows need no offset.
std::vector<int8_t> PackFiltersForOffsetRows(const int8_t* filters, int output_depth, int n) {
  return PackFilters(filters, output_depth, n);
}
int PackedDotRowOffset() { return 0; }
void OffsetRowsForPackedDot(const int8_t*[], int, int, int8_t*) {}

void PackedDotRowsToInt8(const int8_t* const rows[kPackedDotMaxRows], int num_rows,
                         const std::vector<int8_t>& packed, const int32_t* offsets,
                         const ChannelRequantization& requantization, int output_depth, int n,
                         int8_t* out, int out_stride, const ChannelBlockConstants*) {
  // Up to 4 rows at a time, so the sums of a group stay in registers.
  for (int first = 0; first < num_rows; first += kRowBlock) {
    const int count = std::min(kRowBlock, num_rows - first);
    kRowsToInt8[count - 1](rows + first, packed, offsets, requantization, output_depth, n,
                           out + static_cast<int64_t>(first) * out_stride, out_stride);
  }
}

// FULLY_CONNECTED's packed sums are x86-only for now: its NEON path is the
// dot products of kernels/dot.h.
bool PackedSumsAvailable() { return false; }
void PackedDotRowsToInt32(const int8_t* const[kPackedSumsMaxRows], int, const std::vector<int8_t>&,
                          int, int, int, int, int32_t*, int) {}

}  // namespace kernels
}  // namespace tfq
#endif  // __aarch64__
