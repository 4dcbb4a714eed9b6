// The int32 shape arithmetic a Keras 3 model with a dynamic batch converts
// to: SHAPE, then STRIDED_SLICE (the batch size) and PACK (the new shape),
// feeding a RESHAPE. Their values follow from the tensor shapes, so each op
// computes them in Prepare (PartitionTensors::set_values, where RESHAPE reads
// them) and only copies them out in Invoke. Left on TFLite, these four nodes
// split a model's partition, or end it before its last RESHAPE.
#include <algorithm>
#include <cstring>

#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

// An op whose int32 output values are all known at Prepare.
class KnownValuesOp : public DelegatedOp {
 public:
  KnownValuesOp(std::vector<int> inputs, int output)
      : inputs_(std::move(inputs)), output_(output) {}

  void Invoke(PartitionTensors* tensors) override {
    const std::vector<int32_t>* values = tensors->values(output_);
    if (values != nullptr && !values->empty()) {
      std::memcpy(tensors->data(output_), values->data(), values->size() * sizeof(int32_t));
    }
  }
  std::vector<int> input_tensors() const override { return inputs_; }
  std::vector<int> output_tensors() const override { return {output_}; }

 protected:
  void SetOutput(PartitionTensors* tensors, Shape shape, std::vector<int32_t> values) {
    tensors->set_shape(output_, std::move(shape));
    tensors->set_values(output_, std::move(values));
  }

  std::vector<int> inputs_;
  int output_;
};

class ShapeOp : public KnownValuesOp {
 public:
  using KnownValuesOp::KnownValuesOp;
  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& input = tensors->shape(inputs_[0]);
    SetOutput(tensors, {static_cast<int>(input.size())},
              std::vector<int32_t>(input.begin(), input.end()));
    return true;
  }
};

// STRIDED_SLICE of a 1-D int32 tensor with constant begin / end / strides
// (positive strides; begin, end and shrink masks), as TFLite resolves them.
class SliceValuesOp : public KnownValuesOp {
 public:
  SliceValuesOp(std::vector<int> inputs, int output, int32_t begin, int32_t end, int32_t stride,
                const TfLiteStridedSliceParams& params)
      : KnownValuesOp(std::move(inputs), output), begin_(begin), end_(end), stride_(stride),
        params_(params) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const std::vector<int32_t>* input = tensors->values(inputs_[0]);
    if (input == nullptr) {
      *why = "STRIDED_SLICE input is neither a constant nor computed from shapes in the "
             "delegate";
      return false;
    }
    const int size = static_cast<int>(input->size());
    auto resolve = [size](int32_t index) {
      const int64_t resolved = index < 0 ? static_cast<int64_t>(index) + size : index;
      return static_cast<int>(std::min<int64_t>(std::max<int64_t>(resolved, 0), size));
    };
    if (params_.shrink_axis_mask & 1) {
      const int64_t index = begin_ < 0 ? static_cast<int64_t>(begin_) + size : begin_;
      if (index < 0 || index >= size) {
        *why = "STRIDED_SLICE index " + std::to_string(begin_) + " is outside a tensor of " +
               std::to_string(size) + " values";
        return false;
      }
      SetOutput(tensors, {}, {(*input)[static_cast<size_t>(index)]});
      return true;
    }
    const int start = (params_.begin_mask & 1) ? 0 : resolve(begin_);
    const int stop = (params_.end_mask & 1) ? size : resolve(end_);
    std::vector<int32_t> values;
    for (int i = start; i < stop; i += stride_) values.push_back((*input)[static_cast<size_t>(i)]);
    SetOutput(tensors, {static_cast<int>(values.size())}, std::move(values));
    return true;
  }

 private:
  int32_t begin_, end_, stride_;
  TfLiteStridedSliceParams params_;
};

// PACK of int32 scalars or 1-D tensors along axis 0: their values in order.
class PackValuesOp : public KnownValuesOp {
 public:
  using KnownValuesOp::KnownValuesOp;
  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    std::vector<int32_t> values;
    const Shape first = tensors->shape(inputs_[0]);
    for (int input : inputs_) {
      const std::vector<int32_t>* part = tensors->values(input);
      if (part == nullptr || tensors->shape(input) != first) {
        *why = part == nullptr ? "PACK input is neither a constant nor computed from shapes "
                                 "in the delegate"
                               : "PACK inputs differ in shape";
        return false;
      }
      values.insert(values.end(), part->begin(), part->end());
    }
    Shape shape = first;
    shape.insert(shape.begin(), static_cast<int>(inputs_.size()));
    SetOutput(tensors, std::move(shape), std::move(values));
    return true;
  }
};

// One int32 value of a constant 1-D tensor of length 1.
bool SingleConstant(const TfLiteTensor& tensor, const char* role, int32_t* value,
                    std::string* why) {
  if (!CheckType(tensor, role, kTfLiteInt32, why) || !CheckConstant(tensor, role, why)) {
    return false;
  }
  if (tensor.bytes != sizeof(int32_t)) {
    *why = std::string(role) + " holds more than one value (only 1-D inputs are taken)";
    return false;
  }
  *value = ConstantValues<int32_t>(tensor)[0];
  return true;
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseShape(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why) || !CheckType(*node.output(0), "output", kTfLiteInt32, why)) {
    return nullptr;
  }
  return std::make_unique<ShapeOp>(std::vector<int>{node.input_index(0)}, node.output_index(0));
}

std::unique_ptr<DelegatedOp> ParseStridedSlice(const NodeView& node, std::string* why) {
  if (!node.CheckArity(4, 4, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteStridedSliceParams*>(node.node().builtin_data);
  if (params == nullptr) {
    *why = "has no options";
    return nullptr;
  }
  // int8 / int16 slices (a ViT's class token) are data, not shape arithmetic: not here.
  if (!CheckType(*node.input(0), "input", kTfLiteInt32, why) ||
      !CheckType(*node.output(0), "output", kTfLiteInt32, why) ||
      !CheckRank(*node.input(0), "input", 1, why)) {
    return nullptr;
  }
  if (params->ellipsis_mask != 0 || params->new_axis_mask != 0 || params->offset) {
    *why = "uses an ellipsis, new-axis or offset mask";
    return nullptr;
  }
  int32_t begin = 0, end = 0, stride = 0;
  if (!SingleConstant(*node.input(1), "begin", &begin, why) ||
      !SingleConstant(*node.input(2), "end", &end, why) ||
      !SingleConstant(*node.input(3), "strides", &stride, why)) {
    return nullptr;
  }
  if (stride <= 0) {
    *why = "stride " + std::to_string(stride) + " is not positive";
    return nullptr;
  }
  return std::make_unique<SliceValuesOp>(std::vector<int>{node.input_index(0)},
                                         node.output_index(0), begin, end, stride, *params);
}

std::unique_ptr<DelegatedOp> ParsePack(const NodeView& node, std::string* why) {
  const auto* params = static_cast<const TfLitePackParams*>(node.node().builtin_data);
  if (params == nullptr || params->values_count < 1 || params->values_count > 8) {
    *why = "has no valid values_count option (1..8 inputs are taken)";
    return nullptr;
  }
  if (!node.CheckArity(params->values_count, params->values_count, 1, why) ||
      !CheckType(*node.output(0), "output", kTfLiteInt32, why)) {
    return nullptr;
  }
  std::vector<int> inputs;
  for (int i = 0; i < node.num_inputs(); ++i) {
    const TfLiteTensor& input = *node.input(i);
    if (!CheckType(input, "input", kTfLiteInt32, why)) return nullptr;
    if (input.dims->size > 1) {
      *why = "input of rank " + std::to_string(input.dims->size) + " (scalars and 1-D only)";
      return nullptr;
    }
    inputs.push_back(node.input_index(i));
  }
  const int rank = node.input(0)->dims->size;
  if (params->axis != 0 && params->axis != -(rank + 1)) {
    *why = "axis " + std::to_string(params->axis) + " is not the first (only axis 0 is taken)";
    return nullptr;
  }
  return std::make_unique<PackValuesOp>(std::move(inputs), node.output_index(0));
}

}  // namespace tfq
