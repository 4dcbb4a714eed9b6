#include "delegates/kernels/rescale_avx2.h"

namespace tfq {
namespace kernels {

std::vector<RescaleBlockAvx2> MakeRescaleBlocksAvx2(const ChannelRequantization& q, int depth) {
  const int blocks = (depth + 15) / 16;
  std::vector<RescaleBlockAvx2> out(blocks);
  for (int c = 0; c < blocks * 16; ++c) {
    // Channels past depth: significand 0, so the value is the zero point.
    int64_t significand = 0;
    int right_shift = 1;
    if (c < depth) {
      significand = q.significands[c];
      right_shift = q.right_shifts[c];
      if (q.left_shifts[c] > 0 || right_shift < 1 || right_shift > 31 ||
          significand < (int64_t{1} << 30)) {
        return {};
      }
    }
    const int shift = right_shift + 31;
    RescaleBlockAvx2& b = out[c / 16];
    const int h = (c % 16) / 8, lane = (c % 8) / 2;
    const bool odd = c % 2;
    (odd ? b.significand_odd : b.significand_even)[h][lane] = significand;
    (odd ? b.round_odd : b.round_even)[h][lane] =
        (int64_t{1} << 30) + (int64_t{1} << (right_shift + 30)) + (int64_t{1} << 62);
    (odd ? b.shift_odd : b.shift_even)[h][lane] = odd ? shift - 32 : shift;
    b.excess[h][c % 8] = static_cast<int32_t>((int64_t{1} << (62 - shift)) - q.zero_point);
  }
  for (RescaleBlockAvx2& b : out) b.negatives_clamp_to_min = q.min >= q.zero_point;
  return out;
}

}  // namespace kernels
}  // namespace tfq
