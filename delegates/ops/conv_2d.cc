// CONV_2D, int8 input/filter/output, int32 bias: TFLite glue.
#include "delegates/kernels/conv.h"
#include "delegates/ops/conv_common.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class Conv2DOp : public ConvOpBase {
 public:
  explicit Conv2DOp(ConvPlan plan) : ConvOpBase("CONV_2D", std::move(plan)) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    if (!PrepareGeometry(tensors, plan_.filter_input_depth, why)) return false;
    const int groups = geometry_.input_depth / plan_.filter_input_depth;
    if (plan_.output_depth % groups != 0) {
      *why = "CONV_2D has " + std::to_string(plan_.output_depth) +
             " output channels for " + std::to_string(groups) + " groups";
      return false;
    }
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    kernels::Conv2DInt8Reference(geometry_, plan_.filter_input_depth, quantization(),
                                 tensors->data_as<int8_t>(plan_.input), plan_.filter_data,
                                 plan_.bias_data, tensors->data_as<int8_t>(plan_.output));
  }
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseConv2D(const NodeView& node, std::string* why) {
  const TfLiteTensor* filter = CheckConvNode(node, why);
  if (filter == nullptr) return nullptr;
  if (node.num_inputs() < 3 || node.input(2) == nullptr) {
    *why = "has no bias; TFLite's int8 CONV_2D requires one";
    return nullptr;
  }
  const auto* params = static_cast<const TfLiteConvParams*>(node.node().builtin_data);
  ConvPlan plan;
  if (!ReadConvWindow(params->padding, params->stride_height, params->stride_width,
                      params->dilation_height_factor, params->dilation_width_factor,
                      &plan.window, why)) {
    return nullptr;
  }
  if (!ReadOhwiFilterShape(*filter, &plan, why)) return nullptr;
  if (!ParseConvTensors(node, "CONV_2D", 0, params->activation, &plan, why)) return nullptr;
  return std::make_unique<Conv2DOp>(std::move(plan));
}

}  // namespace tfq
