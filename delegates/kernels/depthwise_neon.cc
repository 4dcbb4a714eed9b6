#include "delegates/kernels/depthwise_neon.h"

#include <algorithm>

#if defined(__aarch64__)
#include <arm_neon.h>

#include "delegates/kernels/fixed_point_neon.h"
#endif

namespace tfq {
namespace kernels {

#if defined(__aarch64__)
bool DepthwiseNeonAvailable() { return true; }

namespace {

// Channels [first, first + 8)'s sums started at their bias (0 without).
inline void StartX8(const int32_t* bias, int first, int32x4_t sums[2]) {
  for (int k = 0; k < 2; ++k) {
    sums[k] = bias != nullptr ? vld1q_s32(bias + first + 4 * k) : vdupq_n_s32(0);
  }
}

// One tap's 8 inputs (the zero point taken off) times its weights, added.
inline void MultiplyAddX8(int16x8_t x, const int16_t* weights, int32x4_t sums[2]) {
  const int16x8_t w = vld1q_s16(weights);
  sums[0] = vmlal_s16(sums[0], vget_low_s16(x), vget_low_s16(w));
  sums[1] = vmlal_s16(sums[1], vget_high_s16(x), vget_high_s16(w));
}

// Channels [first, first + 8) of the pixel rescaled and stored.
inline int8x8_t RescaleX8(const int32x4_t sums[2], const ChannelRequantization& q, int first,
                          int32x4_t zero_point, int32x4_t low, int32x4_t high) {
  int16x4_t halves[2];
  for (int h = 0; h < 2; ++h) {
    const int c = first + 4 * h;
    halves[h] = RescaleNarrowX4(sums[h], vld1q_s32(q.significands + c),
                                vld1q_s32(q.left_shifts + c), vld1q_s32(q.right_shifts + c),
                                zero_point, low, high);
  }
  return vmovn_s16(vcombine_s16(halves[0], halves[1]));
}

}  // namespace

void DepthwisePixelNeon(const int8_t* const* inputs, const int16_t* const* filters, int taps,
                        int32_t input_zero_point, const int32_t* bias,
                        const ChannelRequantization& q, int depth, int8_t* out) {
  const int8x8_t zero_point8 = vdup_n_s8(static_cast<int8_t>(input_zero_point));
  const int32x4_t zero_point = vdupq_n_s32(q.zero_point);
  const int32x4_t low = vdupq_n_s32(q.min), high = vdupq_n_s32(q.max);
  int c = 0;
  for (; c + 16 <= depth; c += 16) {  // two 8-channel halves, their loads interleaved
    int32x4_t sums[2][2];
    for (int h = 0; h < 2; ++h) StartX8(bias, c + 8 * h, sums[h]);
    for (int t = 0; t < taps; ++t) {
      const int8x16_t x = vld1q_s8(inputs[t] + c);
      MultiplyAddX8(vsubl_s8(vget_low_s8(x), zero_point8), filters[t] + c, sums[0]);
      MultiplyAddX8(vsubl_s8(vget_high_s8(x), zero_point8), filters[t] + c + 8, sums[1]);
    }
    vst1q_s8(out + c, vcombine_s8(RescaleX8(sums[0], q, c, zero_point, low, high),
                                  RescaleX8(sums[1], q, c + 8, zero_point, low, high)));
  }
  for (; c + 8 <= depth; c += 8) {
    int32x4_t sums[2];
    StartX8(bias, c, sums);
    for (int t = 0; t < taps; ++t) {
      MultiplyAddX8(vsubl_s8(vld1_s8(inputs[t] + c), zero_point8), filters[t] + c, sums);
    }
    vst1_s8(out + c, RescaleX8(sums, q, c, zero_point, low, high));
  }
  for (; c < depth; ++c) {  // the last 0-7 channels
    int32_t sum = bias != nullptr ? bias[c] : 0;
    for (int t = 0; t < taps; ++t) {
      sum += (static_cast<int32_t>(inputs[t][c]) - input_zero_point) * filters[t][c];
    }
    const QuantizedMultiplier m{q.significands[c], q.left_shifts[c] - q.right_shifts[c]};
    const int32_t value = MultiplyByQuantizedMultiplier(sum, m) + q.zero_point;
    out[c] = static_cast<int8_t>(std::min(std::max(value, q.min), q.max));
  }
}
#else
bool DepthwiseNeonAvailable() { return false; }
void DepthwisePixelNeon(const int8_t* const*, const int16_t* const*, int, int32_t,
                        const int32_t*, const ChannelRequantization&, int, int8_t*) {}
#endif

}  // namespace kernels
}  // namespace tfq
