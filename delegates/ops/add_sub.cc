// ADD and SUB with broadcasting, int8 or int16 (int16x8) inputs and output:
// TFLite glue.
#include <algorithm>
#include <cmath>

#include "delegates/cpu_features.h"
#include "delegates/kernels/add_sub.h"
#include "delegates/ops/activation_range.h"
#include "delegates/ops/broadcast_shapes.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class AddSubOp : public DelegatedOp {
 public:
  AddSubOp(const char* op_name, int input1, int input2, int output,
           kernels::AddSubQuantization quantization, bool int16)
      : op_name_(op_name), input1_(input1), input2_(input2), output_(output), int16_(int16),
        kernel_(quantization) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    return PrepareBroadcast(tensors, op_name_, input1_, input2_, output_, &shape_, why);
  }

  void Invoke(PartitionTensors* tensors) override {
    if (int16_) {
      InvokeInt16(tensors);
      return;
    }
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
  // Contiguous inputs take the vector kernels where the CPU has them (int8:
  // the pair table's gathers, AVX-512 or AVX2; int16: AVX-512); broadcasts
  // run plain C++.
  std::string kernel_path() const override {
    if (!kernels::IsContiguous(shape_)) return int16_ ? "reference" : "portable";
    if (GetCpuFeatures().avx512) return "avx512";
    return !int16_ && GetCpuFeatures().avx2 ? "avx2" : "portable";
  }

 private:
  void InvokeInt16(PartitionTensors* tensors) {
    const int16_t* input1 = tensors->data_as<int16_t>(input1_);
    const int16_t* input2 = tensors->data_as<int16_t>(input2_);
    int16_t* output = tensors->data_as<int16_t>(output_);
    if (!kernels::IsContiguous(shape_)) {
      kernels::AddSubInt16Reference(kernel_.quantization(), shape_, input1, input2, output);
      return;
    }
    // Elements split across threads in whole cache lines of output.
    tensors->pool().ParallelFor(shape_.elements(), 32, [&](int, int64_t begin, int64_t end) {
      kernels::AddSubInt16Contiguous(kernel_.quantization(), input1, input2, output, begin, end);
    });
  }

  const char* op_name_;
  int input1_, input2_, output_;
  bool int16_;
  // Holds the quantization; int8 runs it (its tables built once, at parse).
  kernels::AddSubInt8Optimized kernel_;
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
  const bool int16 = input1->type == kTfLiteInt16;
  const TfLiteType type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  TensorQuantization q1, q2, out_q;
  if (!CheckType(*input1, "input 1", type, why) || !CheckType(*input2, "input 2", type, why) ||
      !CheckType(output, "output", type, why) ||
      !ReadQuantization(*input1, "input 1", false, 0, &q1, why) ||
      !ReadQuantization(*input2, "input 2", false, 0, &q2, why) ||
      !ReadQuantization(output, "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  // int16 with power-of-two scales and pot_scale_int16 set takes TFLite's
  // separate fixed-point path (meant for LSTMs): left on TFLite. The test is
  // TFLite's CheckedLog2 with a wider tolerance, so no such node is claimed.
  auto near_power_of_two = [](float scale) {
    const double log2 = std::log2(static_cast<double>(scale));
    return std::fabs(log2 - std::round(log2)) < 2e-3;
  };
  if (int16 && params->pot_scale_int16 && near_power_of_two(q1.scales[0]) &&
      near_power_of_two(q2.scales[0]) && near_power_of_two(out_q.scales[0])) {
    *why = std::string(op_name) + " int16 with power-of-two scales takes TFLite's "
           "pot_scale_int16 path";
    return nullptr;
  }
  kernels::AddSubQuantization quantization{};
  quantization.subtract = subtract;
  quantization.left_shift = int16 ? kernels::kAddSubLeftShiftInt16 : kernels::kAddSubLeftShift;
  quantization.input1_zero_point = q1.zero_points[0];
  quantization.input2_zero_point = q2.zero_points[0];
  quantization.output_zero_point = out_q.zero_points[0];
  // TFLite's float/double mix, kept exactly: 2 * max is float, the ratios double.
  const float s1 = q1.scales[0], s2 = q2.scales[0], s_out = out_q.scales[0];
  const double twice_max = 2 * std::max(s1, s2);
  const double real_multipliers[3] = {
      s1 / twice_max, s2 / twice_max,
      twice_max / ((1 << quantization.left_shift) * s_out)};
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
  if (!QuantizedActivationRange(params->activation, s_out, out_q.zero_points[0],
                                int16 ? -32768 : -128, int16 ? 32767 : 127,
                                &quantization.output_min, &quantization.output_max, why)) {
    return nullptr;
  }
  return std::make_unique<AddSubOp>(op_name, node.input_index(0), node.input_index(1),
                                    node.output_index(0), quantization, int16);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseAdd(const NodeView& node, std::string* why) {
  return ParseAddSub(node, false, why);
}

std::unique_ptr<DelegatedOp> ParseSub(const NodeView& node, std::string* why) {
  return ParseAddSub(node, true, why);
}

}  // namespace tfq
