// CONCATENATION of int8 or int16 (int16x8) tensors with the output's
// quantization: TFLite glue.
#include "delegates/kernels/concatenation.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class ConcatenationOp : public DelegatedOp {
 public:
  ConcatenationOp(std::vector<int> inputs, int output, int axis)
      : inputs_(std::move(inputs)), output_(output), axis_(axis) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    Shape output_shape = tensors->shape(inputs_[0]);
    const int rank = static_cast<int>(output_shape.size());
    const int axis = axis_ < 0 ? axis_ + rank : axis_;
    if (axis < 0 || axis >= rank) {
      *why = "CONCATENATION axis " + std::to_string(axis_) + " is out of range for rank " +
             std::to_string(rank);
      return false;
    }
    output_shape[axis] = 0;
    inner_sizes_.clear();
    for (int input : inputs_) {
      const Shape& shape = tensors->shape(input);
      bool fits = static_cast<int>(shape.size()) == rank;
      for (int d = 0; fits && d < rank; ++d) {
        fits = d == axis || shape[d] == output_shape[d];
      }
      if (!fits) {
        *why = "CONCATENATION input shape " + ShapeToString(shape) +
               " does not fit the others along axis " + std::to_string(axis);
        return false;
      }
      output_shape[axis] += shape[axis];
      int64_t inner = static_cast<int64_t>(tensors->element_size(input));  // in bytes
      for (int d = axis; d < rank; ++d) inner *= shape[d];
      inner_sizes_.push_back(inner);
    }
    outer_ = 1;
    for (int d = 0; d < axis; ++d) outer_ *= output_shape[d];
    tensors->set_shape(output_, output_shape);
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    std::vector<const int8_t*> inputs;
    for (int input : inputs_) inputs.push_back(tensors->data_as<int8_t>(input));
    kernels::ConcatenateBytes(outer_, inner_sizes_, inputs, tensors->data_as<int8_t>(output_));
  }

  std::vector<int> input_tensors() const override { return inputs_; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  std::vector<int> inputs_;
  int output_, axis_;
  int64_t outer_ = 1;
  std::vector<int64_t> inner_sizes_;
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseConcatenation(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1 << 16, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteConcatenationParams*>(node.node().builtin_data);
  if (params == nullptr || params->activation != kTfLiteActNone) {
    *why = "has a fused activation or no options (TFLite refuses activations here)";
    return nullptr;
  }
  TensorQuantization out_q;
  const TfLiteType type = node.output(0)->type == kTfLiteInt16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(*node.output(0), "output", type, why) ||
      !ReadQuantization(*node.output(0), "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  std::vector<int> inputs;
  for (int i = 0; i < node.num_inputs(); ++i) {
    const TfLiteTensor* input = node.input(i);
    TensorQuantization in_q;
    if (input == nullptr) {
      *why = "has an omitted input";
      return nullptr;
    }
    if (!CheckType(*input, "input", type, why) ||
        !ReadQuantization(*input, "input", false, 0, &in_q, why)) {
      return nullptr;
    }
    // Concatenation copies values: TFLite requires equal quantization.
    if (in_q.scales[0] != out_q.scales[0] || in_q.zero_points[0] != out_q.zero_points[0]) {
      *why = "input " + std::to_string(i) + " is quantized differently from the output";
      return nullptr;
    }
    inputs.push_back(node.input_index(i));
  }
  return std::make_unique<ConcatenationOp>(std::move(inputs), node.output_index(0),
                                           params->axis);
}

}  // namespace tfq
