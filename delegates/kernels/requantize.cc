#include "delegates/kernels/requantize.h"

#include <algorithm>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "delegates/kernels/fixed_point_avx512.h"
#endif
#if defined(__aarch64__)
#include "delegates/kernels/fixed_point_neon.h"
#endif

namespace tfq {
namespace kernels {
namespace {

struct RowArgs {
  const int32_t* acc;
  const int32_t *significands, *left_shifts, *right_shifts;
  int32_t zero_point, low, high;
  int n;
  int8_t* out;
};

void RunPortable(const RowArgs& a) {
  for (int c = 0; c < a.n; ++c) {
    const QuantizedMultiplier m{a.significands[c], a.left_shifts[c] - a.right_shifts[c]};
    const int32_t value = MultiplyByQuantizedMultiplier(a.acc[c], m) + a.zero_point;
    a.out[c] = static_cast<int8_t>(std::min(std::max(value, a.low), a.high));
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw"))) void RunAvx512(const RowArgs& a) {
  const __m512i zero_point = _mm512_set1_epi32(a.zero_point);
  const __m512i low = _mm512_set1_epi32(a.low), high = _mm512_set1_epi32(a.high);
  for (int c = 0; c < a.n; c += 16) {
    const __mmask16 lanes = a.n - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (a.n - c)) - 1);
    __m512i value = MultiplyByQuantizedMultiplierX16(
        _mm512_maskz_loadu_epi32(lanes, a.acc + c),
        _mm512_maskz_loadu_epi32(lanes, a.significands + c),
        _mm512_maskz_loadu_epi32(lanes, a.left_shifts + c),
        _mm512_maskz_loadu_epi32(lanes, a.right_shifts + c));
    value = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(value, zero_point), low), high);
    _mm512_mask_cvtepi32_storeu_epi8(a.out + c, lanes, value);
  }
}
#endif

#if defined(__aarch64__)
void RunNeon(const RowArgs& a) {
  const int32x4_t zero_point = vdupq_n_s32(a.zero_point);
  const int32x4_t low = vdupq_n_s32(a.low), high = vdupq_n_s32(a.high);
  int c = 0;
  for (; c + 8 <= a.n; c += 8) {
    int16x4_t halves[2];
    for (int h = 0; h < 2; ++h) {
      const int first = c + 4 * h;
      halves[h] = RescaleNarrowX4(vld1q_s32(a.acc + first), vld1q_s32(a.significands + first),
                                  vld1q_s32(a.left_shifts + first),
                                  vld1q_s32(a.right_shifts + first), zero_point, low, high);
    }
    vst1_s8(a.out + c, vmovn_s16(vcombine_s16(halves[0], halves[1])));
  }
  RowArgs tail = a;  // the last 0-7 channels
  tail.acc += c, tail.significands += c, tail.left_shifts += c, tail.right_shifts += c;
  tail.out += c, tail.n -= c;
  RunPortable(tail);
}
#endif

using RunFn = void (*)(const RowArgs&);

RunFn Choose() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512) return &RunAvx512;
#elif defined(__aarch64__)
  return &RunNeon;
#endif
  return &RunPortable;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw"))) void MakeChannelBlocksAvx512(
    const ChannelRequantization& requantization, const int32_t* offsets, int output_depth,
    ChannelBlockConstants* blocks) {
  for (int first = 0, b = 0; first < output_depth; first += 16, ++b) {
    StoreChannelBlockX16(
        LoadChannelBlockX16(requantization, offsets, first, output_depth - first),
        requantization.zero_point, requantization.min, requantization.max, &blocks[b]);
  }
}
#endif

}  // namespace

std::vector<ChannelBlockConstants> MakeChannelBlocks(const ChannelRequantization& requantization,
                                                     const int32_t* offsets, int output_depth) {
  std::vector<ChannelBlockConstants> blocks;
#if defined(__x86_64__) && defined(__GNUC__)
  if (GetCpuFeatures().avx512) {
    blocks.resize((output_depth + 15) / 16);
    MakeChannelBlocksAvx512(requantization, offsets, output_depth, blocks.data());
  }
#endif
  return blocks;
}

RowRequantizer::RowRequantizer(const std::vector<QuantizedMultiplier>& multipliers,
                               int32_t output_zero_point, int32_t output_min, int32_t output_max)
    : output_zero_point_(output_zero_point), output_min_(output_min), output_max_(output_max) {
  for (const QuantizedMultiplier& m : multipliers) {
    significands_.push_back(m.significand);
    left_shifts_.push_back(m.shift > 0 ? m.shift : 0);
    right_shifts_.push_back(m.shift > 0 ? 0 : -m.shift);
  }
}

void RowRequantizer::Run(const int32_t* acc, int first, int n, int8_t* out) const {
  static const RunFn chosen = Choose();  // once per process, thread-safe
  chosen({acc, significands_.data() + first, left_shifts_.data() + first,
          right_shifts_.data() + first, output_zero_point_, output_min_, output_max_, n, out});
}

}  // namespace kernels
}  // namespace tfq
