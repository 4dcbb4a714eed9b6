// TRANSPOSE_CONV, int8 input/filter/output, optional int32 bias, constant
// output shape: TFLite glue. Inputs: output_shape, filter, input, bias.
#include "delegates/kernels/conv.h"
#include "delegates/ops/conv_common.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class TransposeConv2DOp : public ConvOpBase {
 public:
  TransposeConv2DOp(ConvPlan plan, Shape output_shape)
      : ConvOpBase("TRANSPOSE_CONV", std::move(plan)), output_shape_(std::move(output_shape)) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& in = tensors->shape(plan_.input);
    if (in.size() != 4 || in[3] != plan_.filter_input_depth || in[0] != output_shape_[0]) {
      *why = "TRANSPOSE_CONV input shape " + ShapeToString(in) + " does not fit the filter (" +
             std::to_string(plan_.filter_input_depth) + " channels) and the output shape " +
             ShapeToString(output_shape_);
      return false;
    }
    const ConvWindow& w = plan_.window;
    if (output_shape_[1] > kMaxConvExtent || output_shape_[2] > kMaxConvExtent ||
        plan_.filter_height > kMaxConvExtent || plan_.filter_width > kMaxConvExtent) {
      *why = "TRANSPOSE_CONV output shape " + ShapeToString(output_shape_) +
             " or its filter exceeds " + std::to_string(kMaxConvExtent) + " pixels";
      return false;
    }
    geometry_ = {in[0], in[1], in[2], in[3], plan_.filter_height, plan_.filter_width,
                 output_shape_[1], output_shape_[2], output_shape_[3], w.stride_height,
                 w.stride_width, 1, 1, 0, 0};
    // TFLite checks that a convolution of the output gives back the input,
    // and pads as that convolution would.
    if (OutputSize(w.padding, geometry_.output_height, plan_.filter_height, w.stride_height,
                   1) != in[1] ||
        OutputSize(w.padding, geometry_.output_width, plan_.filter_width, w.stride_width,
                   1) != in[2]) {
      *why = "TRANSPOSE_CONV output shape " + ShapeToString(output_shape_) +
             " does not match input shape " + ShapeToString(in) + " with this window";
      return false;
    }
    geometry_.pad_top = static_cast<int>(PaddingBefore(geometry_.output_height,
                                                       plan_.filter_height, w.stride_height, 1,
                                                       in[1]));
    geometry_.pad_left = static_cast<int>(PaddingBefore(geometry_.output_width,
                                                        plan_.filter_width, w.stride_width, 1,
                                                        in[2]));
    scratch_.resize(static_cast<size_t>(NumElements(output_shape_)));
    tensors->set_shape(plan_.output, output_shape_);
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    kernels::TransposeConv2DInt8Reference(geometry_, quantization(),
                                          tensors->data_as<int8_t>(plan_.input),
                                          plan_.filter_data, plan_.bias_data(), scratch_.data(),
                                          tensors->data_as<int8_t>(plan_.output));
  }

 private:
  Shape output_shape_;
  std::vector<int32_t> scratch_;
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseTransposeConv(const NodeView& node, std::string* why) {
  if (!node.CheckArity(3, 4, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteTransposeConvParams*>(node.node().builtin_data);
  const TfLiteTensor* output_shape = node.input(0);
  const TfLiteTensor* filter = node.input(1);
  const TfLiteTensor* input = node.input(2);
  if (params == nullptr || output_shape == nullptr || filter == nullptr || input == nullptr) {
    *why = "has no builtin options or an omitted input";
    return nullptr;
  }
  if (!CheckType(*output_shape, "output_shape", kTfLiteInt32, why) ||
      !CheckConstant(*output_shape, "output_shape", why) ||
      !CheckType(*input, "input", kTfLiteInt8, why) ||
      !CheckType(*filter, "filter", kTfLiteInt8, why) ||
      !CheckType(*node.output(0), "output", kTfLiteInt8, why) ||
      !CheckConstant(*filter, "filter", why) || !CheckRank(*filter, "filter", 4, why)) {
    return nullptr;
  }
  if (NumElements(ShapeOf(output_shape->dims)) != 4) {
    *why = "output_shape does not hold 4 values";
    return nullptr;
  }
  const std::vector<int32_t> shape_values = ConstantValues<int32_t>(*output_shape);
  const Shape shape(shape_values.begin(), shape_values.end());
  ConvPlan plan;
  if (!ReadConvWindow(params->padding, params->stride_height, params->stride_width, 1, 1,
                      &plan.window, why)) {
    return nullptr;
  }
  if (!ReadOhwiFilterShape(*filter, &plan, why)) return nullptr;
  if (shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 || shape[3] != plan.output_depth) {
    *why = "filter shape " + ShapeToString(ShapeOf(filter->dims)) + " and output_shape " +
           ShapeToString(shape) + " do not fit";
    return nullptr;
  }
  if (!ParseConvTensors(node, "TRANSPOSE_CONV", 0, params->activation, &plan, why,
                        ConvSlots{2, 1, 3})) {
    return nullptr;
  }
  if (plan.int16) {
    *why = "int16x8 TRANSPOSE_CONV is not supported yet";
    return nullptr;
  }
  return std::make_unique<TransposeConv2DOp>(std::move(plan), shape);
}

}  // namespace tfq
