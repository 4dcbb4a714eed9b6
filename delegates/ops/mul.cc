// MUL, int8 or int16 (int16x8) inputs and output, with broadcasting: TFLite glue.
#include "delegates/kernels/mul.h"
#include "delegates/ops/activation_range.h"
#include "delegates/ops/broadcast_shapes.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class MulOp : public DelegatedOp {
 public:
  MulOp(int input1, int input2, int output, kernels::MulQuantization quantization, bool int16)
      : input1_(input1), input2_(input2), output_(output), quantization_(quantization),
        int16_(int16) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    return PrepareBroadcast(tensors, "MUL", input1_, input2_, output_, &shape_, why);
  }

  void Invoke(PartitionTensors* tensors) override {
    if (int16_) {
      kernels::MulInt16Reference(quantization_, shape_, tensors->data_as<int16_t>(input1_),
                                 tensors->data_as<int16_t>(input2_),
                                 tensors->data_as<int16_t>(output_));
      return;
    }
    kernels::MulInt8Reference(quantization_, shape_, tensors->data_as<int8_t>(input1_),
                              tensors->data_as<int8_t>(input2_),
                              tensors->data_as<int8_t>(output_));
  }

  std::vector<int> input_tensors() const override { return {input1_, input2_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  int input1_, input2_, output_;
  kernels::MulQuantization quantization_;
  bool int16_;
  kernels::BroadcastShape shape_;
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseMul(const NodeView& node, std::string* why) {
  if (!node.CheckArity(2, 2, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteMulParams*>(node.node().builtin_data);
  const TfLiteTensor* input1 = node.input(0);
  const TfLiteTensor* input2 = node.input(1);
  if (params == nullptr || input1 == nullptr || input2 == nullptr) {
    *why = "has no builtin options or an omitted input";
    return nullptr;
  }
  TensorQuantization q1, q2, out_q;
  const bool int16 = input1->type == kTfLiteInt16;
  const TfLiteType type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(*input1, "input 1", type, why) || !CheckType(*input2, "input 2", type, why) ||
      !CheckType(*node.output(0), "output", type, why) ||
      !ReadQuantization(*input1, "input 1", false, 0, &q1, why) ||
      !ReadQuantization(*input2, "input 2", false, 0, &q2, why) ||
      !ReadQuantization(*node.output(0), "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  kernels::MulQuantization quantization{};
  quantization.input1_zero_point = q1.zero_points[0];
  quantization.input2_zero_point = q2.zero_points[0];
  quantization.output_zero_point = out_q.zero_points[0];
  // TFLite computes s1 * s2 / s_out in float, then widens it.
  const float real = q1.scales[0] * q2.scales[0] / out_q.scales[0];
  quantization.multiplier = kernels::QuantizeMultiplier(static_cast<double>(real));
  // |product| <= 255^2 < 2^16 (int8) or 2^30 (int16) must shift within int32.
  if (quantization.multiplier.shift > (int16 ? 0 : 15)) {
    *why = "output scale " + std::to_string(out_q.scales[0]) + " is too small for the product";
    return nullptr;
  }
  if (!QuantizedActivationRange(params->activation, out_q.scales[0], out_q.zero_points[0],
                                int16 ? -32768 : -128, int16 ? 32767 : 127,
                                &quantization.output_min, &quantization.output_max, why)) {
    return nullptr;
  }
  return std::make_unique<MulOp>(node.input_index(0), node.input_index(1), node.output_index(0),
                                 quantization, int16);
}

}  // namespace tfq
