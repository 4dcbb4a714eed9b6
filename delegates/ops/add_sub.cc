// ADD and SUB, int8 inputs and output, with broadcasting: TFLite glue.
#include <algorithm>

#include "delegates/kernels/add_sub.h"
#include "delegates/ops/activation_range.h"
#include "delegates/ops/broadcast_shapes.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class AddSubOp : public DelegatedOp {
 public:
  AddSubOp(const char* op_name, int input1, int input2, int output,
           kernels::AddSubQuantization quantization)
      : op_name_(op_name), input1_(input1), input2_(input2), output_(output),
        kernel_(quantization) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    return PrepareBroadcast(tensors, op_name_, input1_, input2_, output_, &shape_, why);
  }

  void Invoke(PartitionTensors* tensors) override {
    const int8_t* input1 = tensors->data_as<int8_t>(input1_);
    const int8_t* input2 = tensors->data_as<int8_t>(input2_);
    int8_t* output = tensors->data_as<int8_t>(output_);
    if (!kernels::IsContiguous(shape_)) {
      kernel_.Run(shape_, input1, input2, output);
      return;
    }
    // Elements split across threads in whole cache lines of output.
    tensors->pool().ParallelFor(shape_.elements(), 64, [&](int, int64_t begin, int64_t end) {
      kernel_.RunContiguous(input1, input2, output, begin, end);
    });
  }

  std::vector<int> input_tensors() const override { return {input1_, input2_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  const char* op_name_;
  int input1_, input2_, output_;
  kernels::AddSubInt8Optimized kernel_;  // its tables built once, at parse
  kernels::BroadcastShape shape_;
};

std::unique_ptr<DelegatedOp> ParseAddSub(const NodeView& node, bool subtract, std::string* why) {
  const char* op_name = subtract ? "SUB" : "ADD";
  if (!node.CheckArity(2, 2, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteAddSubParams*>(node.node().builtin_data);
  if (params == nullptr) {
    *why = "has no builtin options";
    return nullptr;
  }
  const TfLiteTensor* input1 = node.input(0);
  const TfLiteTensor* input2 = node.input(1);
  const TfLiteTensor& output = *node.output(0);
  if (input1 == nullptr || input2 == nullptr) {
    *why = "has an omitted input";
    return nullptr;
  }
  TensorQuantization q1, q2, out_q;
  if (!CheckType(*input1, "input 1", kTfLiteInt8, why) ||
      !CheckType(*input2, "input 2", kTfLiteInt8, why) ||
      !CheckType(output, "output", kTfLiteInt8, why) ||
      !ReadQuantization(*input1, "input 1", false, 0, &q1, why) ||
      !ReadQuantization(*input2, "input 2", false, 0, &q2, why) ||
      !ReadQuantization(output, "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  kernels::AddSubQuantization quantization{};
  quantization.subtract = subtract;
  quantization.input1_zero_point = q1.zero_points[0];
  quantization.input2_zero_point = q2.zero_points[0];
  quantization.output_zero_point = out_q.zero_points[0];
  // TFLite's float/double mix, kept exactly: 2 * max is float, the ratios double.
  const float s1 = q1.scales[0], s2 = q2.scales[0], s_out = out_q.scales[0];
  const double twice_max = 2 * std::max(s1, s2);
  const double real_multipliers[3] = {
      s1 / twice_max, s2 / twice_max,
      twice_max / ((1 << kernels::kAddSubLeftShift) * s_out)};
  kernels::QuantizedMultiplier* targets[3] = {&quantization.input1_multiplier,
                                              &quantization.input2_multiplier,
                                              &quantization.output_multiplier};
  for (int i = 0; i < 3; ++i) {
    *targets[i] = kernels::QuantizeMultiplier(real_multipliers[i]);
    // TFLite CHECK-fails (aborts) on a multiplier >= 1 here.
    if (targets[i]->shift > 0) {
      *why = std::string(op_name) + " output scale " + std::to_string(s_out) +
             " is too small for input scales " + std::to_string(s1) + " and " +
             std::to_string(s2);
      return nullptr;
    }
  }
  if (!QuantizedActivationRange(params->activation, s_out, out_q.zero_points[0], -128, 127,
                                &quantization.output_min, &quantization.output_max, why)) {
    return nullptr;
  }
  return std::make_unique<AddSubOp>(op_name, node.input_index(0), node.input_index(1),
                                    node.output_index(0), quantization);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseAdd(const NodeView& node, std::string* why) {
  return ParseAddSub(node, false, why);
}

std::unique_ptr<DelegatedOp> ParseSub(const NodeView& node, std::string* why) {
  return ParseAddSub(node, true, why);
}

}  // namespace tfq
