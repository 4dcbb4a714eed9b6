// PAD and PADV2, int8 or int16 (int16x8) input and output, constant paddings:
// TFLite glue.
#include "delegates/kernels/pad.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class PadOp : public DelegatedOp {
 public:
  // `fill` is an int8 or int16 value, as `int16` says.
  PadOp(int input, int output, std::vector<int> before, std::vector<int> after, bool int16,
        int32_t fill)
      : input_(input), output_(output), before_(std::move(before)), after_(std::move(after)),
        int16_(int16), fill_(fill) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    input_shape_ = tensors->shape(input_);
    if (input_shape_.size() != before_.size()) {
      *why = "PAD paddings are for rank " + std::to_string(before_.size()) +
             ", the input shape is " + ShapeToString(input_shape_);
      return false;
    }
    Shape output_shape(input_shape_.size());
    for (size_t d = 0; d < input_shape_.size(); ++d) {
      output_shape[d] = before_[d] + input_shape_[d] + after_[d];
    }
    tensors->set_shape(output_, output_shape);
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    if (int16_) {
      kernels::PadInt16(input_shape_, before_, after_, static_cast<int16_t>(fill_),
                        tensors->data_as<int16_t>(input_), tensors->data_as<int16_t>(output_));
      return;
    }
    kernels::PadInt8(input_shape_, before_, after_, static_cast<int8_t>(fill_),
                     tensors->data_as<int8_t>(input_), tensors->data_as<int8_t>(output_));
  }

  std::vector<int> input_tensors() const override { return {input_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  int input_, output_;
  std::vector<int> before_, after_;
  bool int16_;
  int32_t fill_;
  Shape input_shape_;
};

bool SameQuantization(const TensorQuantization& a, const TensorQuantization& b) {
  return a.scales[0] == b.scales[0] && a.zero_points[0] == b.zero_points[0];
}

std::unique_ptr<DelegatedOp> ParsePadOrPadV2(const NodeView& node, bool v2, std::string* why) {
  if (!node.CheckArity(2, v2 ? 3 : 2, 1, why)) return nullptr;
  const TfLiteTensor* input = node.input(0);
  const TfLiteTensor* paddings = node.input(1);
  const TfLiteTensor& output = *node.output(0);
  if (input == nullptr || paddings == nullptr) {
    *why = "has an omitted input";
    return nullptr;
  }
  TensorQuantization in_q, out_q;
  const bool int16 = input->type == kTfLiteInt16;
  const TfLiteType type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(*input, "input", type, why) || !CheckType(output, "output", type, why) ||
      !CheckConstant(*paddings, "paddings", why) || !CheckRank(*paddings, "paddings", 2, why) ||
      !ReadQuantization(*input, "input", false, 0, &in_q, why) ||
      !ReadQuantization(output, "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  if (!SameQuantization(in_q, out_q)) {
    *why = "input and output quantization differ (a pad copies values unchanged)";
    return nullptr;
  }
  const int rank = paddings->dims->data[0];
  if (paddings->dims->data[1] != 2 || rank < 1 || rank > 6) {
    *why = "paddings shape " + ShapeToString(ShapeOf(paddings->dims)) +
           " is not [rank <= 6, 2]";
    return nullptr;
  }
  std::vector<int64_t> values;
  if (paddings->type == kTfLiteInt32) {
    const std::vector<int32_t> narrow = ConstantValues<int32_t>(*paddings);
    values.assign(narrow.begin(), narrow.end());
  } else if (paddings->type == kTfLiteInt64) {
    values = ConstantValues<int64_t>(*paddings);
  } else {
    *why = std::string("paddings tensor is ") + TypeName(paddings->type) +
           ", expected int32 or int64";
    return nullptr;
  }
  std::vector<int> before(rank), after(rank);
  for (int d = 0; d < rank; ++d) {
    const int64_t low = values[2 * d], high = values[2 * d + 1];
    if (low < 0 || high < 0 || low > (1 << 24) || high > (1 << 24)) {
      *why = "padding [" + std::to_string(low) + ", " + std::to_string(high) +
             "] of dimension " + std::to_string(d) + " is negative or huge";
      return nullptr;
    }
    before[d] = static_cast<int>(low);
    after[d] = static_cast<int>(high);
  }
  int32_t fill = out_q.zero_points[0];  // PAD pads with real 0
  const TfLiteTensor* constant = v2 && node.num_inputs() == 3 ? node.input(2) : nullptr;
  if (constant != nullptr) {
    TensorQuantization constant_q;
    if (!CheckType(*constant, "constant_values", type, why) ||
        !CheckConstant(*constant, "constant_values", why) ||
        !ReadQuantization(*constant, "constant_values", false, 0, &constant_q, why)) {
      return nullptr;
    }
    if (NumElements(ShapeOf(constant->dims)) != 1 || !SameQuantization(constant_q, out_q)) {
      *why = "constant_values is not one value quantized as the output";
      return nullptr;
    }
    fill = int16 ? ConstantValues<int16_t>(*constant)[0] : ConstantValues<int8_t>(*constant)[0];
  }
  return std::make_unique<PadOp>(node.input_index(0), node.output_index(0), std::move(before),
                                 std::move(after), int16, fill);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParsePad(const NodeView& node, std::string* why) {
  return ParsePadOrPadV2(node, false, why);
}

std::unique_ptr<DelegatedOp> ParsePadV2(const NodeView& node, std::string* why) {
  return ParsePadOrPadV2(node, true, why);
}

}  // namespace tfq
