// ADD and SUB with broadcasting, on plain arrays (no TFLite types): int8,
// and int16 (int16x8 models: zero points 0, left shift 15).
//
// TFLite's reference arithmetic (reference_integer_ops Add and
// BroadcastAdd6DSlow; SUB alike): each input, offset by its zero point, is
// shifted left by 20 bits and rescaled to twice the larger input scale; the
// two are added (subtracted) in int32 and rescaled to the output:
//   v_i = MBQM((q_i - zp_i) << 20, m_i)
//   out = clamp(MBQM(v_1 +- v_2, m_out) + zp_out)
// with m_i = s_i / (2 max(s_1, s_2)), m_out = 2 max(s_1, s_2) / (2^20 s_out).
// int16 is the same with a left shift of 15 (65535 << 15 still fits int32).
#ifndef TFQ_DELEGATES_KERNELS_ADD_SUB_H_
#define TFQ_DELEGATES_KERNELS_ADD_SUB_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "delegates/kernels/broadcast.h"
#include "delegates/kernels/fixed_point.h"

namespace tfq {
namespace kernels {

constexpr int kAddSubLeftShift = 20;       // int8
constexpr int kAddSubLeftShiftInt16 = 15;  // int16

struct AddSubQuantization {
  int32_t input1_zero_point, input2_zero_point, output_zero_point;
  QuantizedMultiplier input1_multiplier, input2_multiplier, output_multiplier;  // shifts <= 0
  int32_t output_min, output_max;  // fused activation clamp, within the output type
  bool subtract;
  int left_shift = kAddSubLeftShift;
};

void AddSubInt8Reference(const AddSubQuantization& quantization, const BroadcastShape& shape,
                         const int8_t* input1, const int8_t* input2, int8_t* output);
void AddSubInt16Reference(const AddSubQuantization& quantization, const BroadcastShape& shape,
                          const int16_t* input1, const int16_t* input2, int16_t* output);

// int16 operands of one shape (no broadcasting), elements [begin, end) (so
// threads can share one output): the reference's three rescales on 16
// lanes at a time where the CPU has AVX-512, per element otherwise.
void AddSubInt16Contiguous(const AddSubQuantization& quantization, const int16_t* input1,
                           const int16_t* input2, int16_t* output, int64_t begin, int64_t end);

// The same results, faster: an output depends on its two input bytes
// alone, so all 65536 outputs are computed once, by the reference's own
// arithmetic, into a 64 KiB table, and each element is one lookup (16 per
// gather with AVX-512).
//
// With AVX-512, or AVX2 and FMA3, contiguous operands take a float path
// that needs no gather (the gathers were the limit: about 0.4 ns an
// element on Zen 4, from L1 or L2 alike): the reference is
// floor(y + 1/2 +- lean) + zp_out clamped, y the two rescaled inputs' sum
// times the output multiplier, which is q1 a1 + q2 a2 + d up to the
// inputs' integer rescales (1/2^20 of an output step, or so). Computed in
// float with two FMAs, it is exact wherever y + c lies further than a
// window from an integer; an element within it (about 1 in 10^3) takes its
// table entry. Whether that holds for every one of the 65536 pairs is
// checked when the kernel is built; if any pair outside the window
// differed, the kernel keeps the table alone.
class AddSubInt8Optimized {
 public:
  // The float path's constants: y = q1 * a1 + q2 * a2 + d (two FMAs, in
  // that order), Y = y + (y >= 0 ? c_nonnegative : c_negative), the output
  // floor(Y) clamped; elements with |Y - nearest integer| < window take
  // the table. `exact`: the CPU has the path and every pair outside the
  // window matches the table.
  struct FloatPath {
    float a1 = 0, a2 = 0, d = 0, c_nonnegative = 0, c_negative = 0, window = 0;
    bool exact = false;
    int pairs_in_window = 0;
  };

  explicit AddSubInt8Optimized(const AddSubQuantization& quantization);
  const AddSubQuantization& quantization() const { return quantization_; }
  // Whether contiguous operands take the float path (AVX-512 or AVX2, and
  // every pair checked exact), and how many of the 65536 pairs lie within its
  // window (they take the table).
  bool UsesFloatPath() const { return float_path_.exact; }
  int PairsInFloatPathWindow() const { return float_path_.pairs_in_window; }
  void Run(const BroadcastShape& shape, const int8_t* input1, const int8_t* input2,
           int8_t* output) const;
  // Operands of one shape (no broadcasting): elements [begin, end) only, so
  // threads can share one output.
  void RunContiguous(const int8_t* input1, const int8_t* input2, int8_t* output, int64_t begin,
                     int64_t end) const;

 private:
  AddSubQuantization quantization_;
  // [(uint8_t) q1 * 256 + (uint8_t) q2] -> output, and 3 spare bytes: the
  // gathers read 4 bytes at each index.
  static constexpr size_t kPairTableBytes = 65536 + 3;
  std::vector<int8_t> pairs_;
  FloatPath float_path_;
};

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_ADD_SUB_H_
