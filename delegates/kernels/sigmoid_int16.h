// int16 LOGISTIC and TANH (int16x8 models) as TFLite's reference computes
// them (reference_integer_ops::Logistic / Tanh): the input is rescaled so
// that 2^17 stands for 10.7 (x * 3 * 4096), then sigmoid is interpolated
// linearly in a 256-entry table of sigmoid(i / 24) in 0.16 fixed point;
// tanh(x) = 2 sigmoid(2x) - 1 reads the same table. Outputs are Q15 (scale
// 2^-15, zero point 0), as TFLite requires.
#ifndef TFQ_DELEGATES_KERNELS_SIGMOID_INT16_H_
#define TFQ_DELEGATES_KERNELS_SIGMOID_INT16_H_

#include <cstdint>

namespace tfq {
namespace kernels {

// The input rescale: v = (q * multiplier + round) >> left_shift.
struct SigmoidInputRescale {
  int32_t multiplier = 0;
  int left_shift = 0;
};

// TFLite's prepare: a power-of-two input scale whose shift lands on the
// table's (2^-12 for LOGISTIC; 2^-12 or 2^-11 for TANH) multiplies by 3 <<
// shift; any other is scaled by 3 * 4096 and doubled up to Q15. False when
// the input scale is too large for the int32 rescale (a hostile model).
bool ComputeSigmoidInputRescale(float input_scale, bool tanh, SigmoidInputRescale* rescale);

// TFLite's CheckedLog2: true when x is within 1e-3 (in log2) of a power of 2.
bool CheckedLog2(float x, int* log2_rounded);

void LogisticInt16(const SigmoidInputRescale& rescale, int64_t count, const int16_t* input,
                   int16_t* output);
void TanhInt16(const SigmoidInputRescale& rescale, int64_t count, const int16_t* input,
               int16_t* output);

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_SIGMOID_INT16_H_
