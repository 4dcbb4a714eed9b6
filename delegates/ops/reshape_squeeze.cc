// RESHAPE, SQUEEZE and EXPAND_DIMS of int8 and int16 tensors: the bytes are
// copied unchanged (as TFLite does); only the shape is computed.
#include <cstring>

#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

// How an op derives its output shape from its input shape.
using ShapeRule = bool (*)(const std::vector<int>& rule, const Shape& input, Shape* output,
                           std::string* why);

class CopyOp : public DelegatedOp {
 public:
  // `rule_tensor` >= 0: the rule is that tensor's values, known at Prepare
  // (RESHAPE's shape computed from shapes by SHAPE / STRIDED_SLICE / PACK).
  CopyOp(const char* op_name, int input, int output, std::vector<int> rule, ShapeRule shape_rule,
         int rule_tensor = -1)
      : op_name_(op_name), input_(input), output_(output), rule_(std::move(rule)),
        shape_rule_(shape_rule), rule_tensor_(rule_tensor) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    if (rule_tensor_ >= 0) {
      const std::vector<int32_t>* values = tensors->values(rule_tensor_);
      if (values == nullptr) {
        *why = std::string(op_name_) + " shape tensor is computed outside the delegate";
        return false;
      }
      rule_.assign(values->begin(), values->end());
    }
    const Shape& input = tensors->shape(input_);
    Shape output;
    if (!shape_rule_(rule_, input, &output, why)) {
      *why = std::string(op_name_) + " " + *why;
      return false;
    }
    bytes_ = NumElements(input) * static_cast<int64_t>(tensors->element_size(input_));
    tensors->set_shape(output_, output);
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    void* output = tensors->data(output_);
    const void* input = tensors->data(input_);
    if (output != input) std::memmove(output, input, static_cast<size_t>(bytes_));
  }

  std::vector<int> input_tensors() const override {
    return rule_tensor_ >= 0 ? std::vector<int>{input_, rule_tensor_} : std::vector<int>{input_};
  }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  const char* op_name_;
  int input_, output_;
  std::vector<int> rule_;
  ShapeRule shape_rule_;
  int rule_tensor_;
  int64_t bytes_ = 0;
};

// RESHAPE: the requested shape with at most one -1 stretched to fit.
bool ReshapedShape(const std::vector<int>& requested, const Shape& input, Shape* output,
                   std::string* why) {
  int stretch = -1;
  int64_t known = 1;
  for (size_t d = 0; d < requested.size(); ++d) {
    if (requested[d] == -1 && stretch < 0) {
      stretch = static_cast<int>(d);
    } else if (requested[d] < 0) {
      *why = "shape " + ShapeToString(requested) + " has a negative size other than one -1";
      return false;
    } else {
      known *= requested[d];
    }
  }
  *output = requested;
  const int64_t elements = NumElements(input);
  if (stretch >= 0) {
    if (known == 0 || elements % known != 0) {
      *why = "cannot stretch shape " + ShapeToString(requested) + " to " +
             std::to_string(elements) + " elements";
      return false;
    }
    (*output)[stretch] = static_cast<int>(elements / known);
  } else if (known != elements) {
    *why = "shape " + ShapeToString(requested) + " does not hold the input's " +
           std::to_string(elements) + " elements";
    return false;
  }
  return true;
}

// SQUEEZE: drops the listed size-1 dimensions (negative counts from the
// end), or every size-1 dimension when none is listed.
bool SqueezedShape(const std::vector<int>& dims, const Shape& input, Shape* output,
                   std::string* why) {
  const int rank = static_cast<int>(input.size());
  std::vector<bool> drop(rank, dims.empty());
  for (int dim : dims) {
    const int resolved = dim < 0 ? dim + rank : dim;
    if (resolved < 0 || resolved >= rank || input[resolved] != 1) {
      *why = "dimension " + std::to_string(dim) + " of input shape " + ShapeToString(input) +
             " is not of size 1";
      return false;
    }
    drop[resolved] = true;
  }
  output->clear();
  for (int d = 0; d < rank; ++d) {
    if (!(drop[d] && input[d] == 1)) output->push_back(input[d]);
  }
  return true;
}

// EXPAND_DIMS: a dimension of size 1 inserted before `axis` (negative
// counts from the end of the output), as TFLite's ExpandTensorDim.
bool ExpandedShape(const std::vector<int>& axis_rule, const Shape& input, Shape* output,
                   std::string* why) {
  const int rank = static_cast<int>(input.size());
  const int axis = axis_rule[0] < 0 ? axis_rule[0] + rank + 1 : axis_rule[0];
  if (axis < 0 || axis > rank) {
    *why = "axis " + std::to_string(axis_rule[0]) + " is outside [" + std::to_string(-rank - 1) +
           ", " + std::to_string(rank) + "] for input shape " + ShapeToString(input);
    return false;
  }
  *output = input;
  output->insert(output->begin() + axis, 1);
  return true;
}

// int8, or int16 (int16x8 models): the bytes are copied as they are.
bool CheckQuantizedCopy(const NodeView& node, std::string* why) {
  const TfLiteType type = node.input(0)->type == kTfLiteInt16 ? kTfLiteInt16 : kTfLiteInt8;
  return CheckType(*node.input(0), "input", type, why) &&
         CheckType(*node.output(0), "output", type, why);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseReshape(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 2, 1, why) || node.input(0) == nullptr || !CheckQuantizedCopy(node, why)) {
    if (why->empty()) *why = "has an omitted input";
    return nullptr;
  }
  std::vector<int> requested;
  const TfLiteTensor* shape = node.num_inputs() == 2 ? node.input(1) : nullptr;
  if (shape != nullptr) {
    if (!CheckType(*shape, "shape", kTfLiteInt32, why) || !CheckRank(*shape, "shape", 1, why)) {
      return nullptr;
    }
    std::string not_constant;
    if (!CheckConstant(*shape, "shape", &not_constant)) {
      // Computed in the graph (Keras 3's dynamic batch): its values must be
      // known at Prepare, from shape arithmetic the delegate also runs.
      return std::make_unique<CopyOp>("RESHAPE", node.input_index(0), node.output_index(0),
                                      std::vector<int>{}, &ReshapedShape, node.input_index(1));
    }
    const std::vector<int32_t> values = ConstantValues<int32_t>(*shape);
    requested.assign(values.begin(), values.end());
  } else {
    const auto* params = static_cast<const TfLiteReshapeParams*>(node.node().builtin_data);
    if (params == nullptr || params->num_dimensions < 0 || params->num_dimensions > 8) {
      *why = "has neither a shape tensor nor a valid shape option";
      return nullptr;
    }
    requested.assign(params->shape, params->shape + params->num_dimensions);
  }
  return std::make_unique<CopyOp>("RESHAPE", node.input_index(0), node.output_index(0),
                                  std::move(requested), &ReshapedShape);
}

std::unique_ptr<DelegatedOp> ParseSqueeze(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why) || !CheckQuantizedCopy(node, why)) return nullptr;
  const auto* params = static_cast<const TfLiteSqueezeParams*>(node.node().builtin_data);
  if (params == nullptr || params->num_squeeze_dims < 0 || params->num_squeeze_dims > 8) {
    *why = "has no valid squeeze_dims option";
    return nullptr;
  }
  std::vector<int> dims(params->squeeze_dims, params->squeeze_dims + params->num_squeeze_dims);
  return std::make_unique<CopyOp>("SQUEEZE", node.input_index(0), node.output_index(0),
                                  std::move(dims), &SqueezedShape);
}

}  // namespace tfq

namespace tfq {

std::unique_ptr<DelegatedOp> ParseExpandDims(const NodeView& node, std::string* why) {
  if (!node.CheckArity(2, 2, 1, why) || !CheckQuantizedCopy(node, why)) return nullptr;
  const TfLiteTensor& input = *node.input(0);
  const TfLiteTensor& output = *node.output(0);
  // TFLite's prepare insists on one quantization for both: so do we.
  if (input.params.scale != output.params.scale ||
      input.params.zero_point != output.params.zero_point) {
    *why = "output quantization (scale " + std::to_string(output.params.scale) +
           ", zero point " + std::to_string(output.params.zero_point) +
           ") differs from the input's (scale " + std::to_string(input.params.scale) +
           ", zero point " + std::to_string(input.params.zero_point) + ")";
    return nullptr;
  }
  const TfLiteTensor& axis = *node.input(1);
  if (!CheckConstant(axis, "axis", why)) return nullptr;  // a run-time axis stays on TFLite
  int64_t axis_value = 0;
  if (axis.type == kTfLiteInt32 && axis.bytes == sizeof(int32_t)) {
    axis_value = ConstantValues<int32_t>(axis)[0];
  } else if (axis.type == kTfLiteInt64 && axis.bytes == sizeof(int64_t)) {
    axis_value = ConstantValues<int64_t>(axis)[0];
  } else {
    *why = "axis tensor is not one int32 or int64 value";
    return nullptr;
  }
  if (axis_value < -9 || axis_value > 8) {  // past any rank the delegate takes
    *why = "axis " + std::to_string(axis_value) + " is out of range";
    return nullptr;
  }
  return std::make_unique<CopyOp>("EXPAND_DIMS", node.input_index(0), node.output_index(0),
                                  std::vector<int>{static_cast<int>(axis_value)},
                                  &ExpandedShape);
}

}  // namespace tfq
