#include "delegates/ops/conv_common.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "delegates/ops/activation_range.h"

namespace tfq {

// In int64: a hostile model's strides, dilations and sizes overflow int.
// Callers check the results against kMaxConvExtent before using them as int.
int64_t EffectiveFilterSize(int filter_size, int dilation) {
  return (static_cast<int64_t>(filter_size) - 1) * dilation + 1;
}

int64_t OutputSize(int padding, int input_size, int filter_size, int stride, int dilation) {
  if (padding == kTfLitePaddingSame) return (static_cast<int64_t>(input_size) + stride - 1) / stride;
  return (static_cast<int64_t>(input_size) + stride - EffectiveFilterSize(filter_size, dilation)) /
         stride;
}

int64_t PaddingBefore(int input_size, int filter_size, int stride, int dilation,
                      int64_t output_size) {
  const int64_t total = (output_size - 1) * stride + EffectiveFilterSize(filter_size, dilation) -
                        input_size;
  return std::max<int64_t>(total, 0) / 2;
}

const TfLiteTensor* CheckConvNode(const NodeView& node, std::string* why) {
  if (!node.CheckArity(2, 3, 1, why)) return nullptr;
  if (node.node().builtin_data == nullptr) {
    *why = "has no builtin options";
    return nullptr;
  }
  const TfLiteTensor* filter = node.input(1);
  if (filter == nullptr) {
    *why = "has no filter tensor";
    return nullptr;
  }
  const TfLiteType activation_type =
      node.input(0)->type == kTfLiteInt16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(*node.input(0), "input", activation_type, why) ||
      !CheckType(*filter, "filter", kTfLiteInt8, why) ||
      !CheckType(*node.output(0), "output", activation_type, why) ||
      !CheckConstant(*filter, "filter", why) || !CheckRank(*filter, "filter", 4, why)) {
    return nullptr;
  }
  return filter;
}

bool ReadOhwiFilterShape(const TfLiteTensor& filter, ConvPlan* plan, std::string* why) {
  plan->output_depth = filter.dims->data[0];
  plan->filter_height = filter.dims->data[1];
  plan->filter_width = filter.dims->data[2];
  plan->filter_input_depth = filter.dims->data[3];
  if (plan->output_depth <= 0 || plan->filter_height <= 0 || plan->filter_width <= 0 ||
      plan->filter_input_depth <= 0) {
    *why = "filter shape " + ShapeToString(ShapeOf(filter.dims)) + " is empty";
    return false;
  }
  return true;
}

bool ReadConvWindow(int padding, int stride_height, int stride_width, int dilation_height,
                    int dilation_width, ConvWindow* window, std::string* why) {
  if (padding != kTfLitePaddingSame && padding != kTfLitePaddingValid) {
    *why = "padding " + std::to_string(padding) + " is neither SAME nor VALID";
    return false;
  }
  const int limit = kMaxConvExtent;
  if (stride_height < 1 || stride_width < 1 || dilation_height < 1 || dilation_width < 1 ||
      stride_height > limit || stride_width > limit || dilation_height > limit ||
      dilation_width > limit) {
    *why = "strides " + std::to_string(stride_height) + "x" + std::to_string(stride_width) +
           " and dilations " + std::to_string(dilation_height) + "x" +
           std::to_string(dilation_width) + " must all be in [1, " + std::to_string(limit) + "]";
    return false;
  }
  *window = {padding, stride_height, stride_width, dilation_height, dilation_width};
  return true;
}

bool ParseConvTensors(const NodeView& node, const char* op, int channel_dimension,
                      int activation, ConvPlan* plan, std::string* why, ConvSlots slots) {
  const TfLiteTensor& input = *node.input(slots.input);
  const TfLiteTensor& filter = *node.input(slots.filter);
  const TfLiteTensor* bias = node.num_inputs() > slots.bias ? node.input(slots.bias) : nullptr;
  const TfLiteTensor& output = *node.output(0);
  plan->input = node.input_index(slots.input);
  plan->filter = node.input_index(slots.filter);
  plan->output = node.output_index(0);
  plan->int16 = input.type == kTfLiteInt16;
  // int16x8 biases are int64: TFLite's DEPTHWISE_CONV_2D refuses int32 ones
  // and its CONV_2D takes another path for them (not the reference's).
  const bool int64_bias = plan->int16;
  if (bias != nullptr) {
    if (!CheckType(*bias, "bias", int64_bias ? kTfLiteInt64 : kTfLiteInt32, why) ||
        !CheckConstant(*bias, "bias", why) ||
        !CheckRank(*bias, "bias", 1, why)) {
      return false;
    }
    if (bias->dims->data[0] != plan->output_depth) {
      *why = std::string(op) + " bias has " + std::to_string(bias->dims->data[0]) +
             " values for " + std::to_string(plan->output_depth) + " output channels";
      return false;
    }
    plan->bias = node.input_index(slots.bias);
    if (int64_bias) {
      plan->bias64 = ConstantValues<int64_t>(*bias);
    } else {
      plan->bias_values = ConstantValues<int32_t>(*bias);
    }
  }
  plan->filter_data = filter.data.int8;

  TensorQuantization in_q, w_q, out_q;
  if (!ReadQuantization(input, "input", false, 0, &in_q, why) ||
      !ReadQuantization(filter, "filter", true, channel_dimension, &w_q, why) ||
      !ReadQuantization(output, "output", false, 0, &out_q, why) ||
      !CheckSymmetric(w_q, "filter", why)) {
    return false;
  }
  if (w_q.per_channel() && static_cast<int>(w_q.scales.size()) != plan->output_depth) {
    *why = std::string(op) + " filter has " + std::to_string(w_q.scales.size()) +
           " scales for " + std::to_string(plan->output_depth) + " output channels";
    return false;
  }
  plan->input_zero_point = in_q.zero_points[0];
  plan->output_zero_point = out_q.zero_points[0];
  if (!QuantizedActivationRange(activation, out_q.scales[0], out_q.zero_points[0],
                                plan->int16 ? -32768 : -128, plan->int16 ? 32767 : 127,
                                &plan->output_min, &plan->output_max, why)) {
    return false;
  }

  // Bounds that keep the kernels' arithmetic defined (TFLite's is not beyond
  // them). int8: |acc| <= taps * 255 * 127 + max|bias| < 2^31, the left shift
  // of a multiplier >= 1 keeps it in int32, and so does the result. int16x8:
  // the int64 rescale (MultiplyByQuantizedMultiplierInt64) takes |acc| < 2^47
  // and a shift < 8, and its result must fit in int32.
  int64_t max_abs_bias = 0;
  for (int64_t value : plan->bias64) max_abs_bias = std::max<int64_t>(max_abs_bias, std::llabs(value));
  for (int32_t value : plan->bias_values) {
    max_abs_bias = std::max<int64_t>(max_abs_bias, std::llabs(static_cast<int64_t>(value)));
  }
  const double taps = static_cast<double>(plan->filter_height) * plan->filter_width *
                      plan->filter_input_depth;
  const double max_abs_acc = taps * (plan->int16 ? 32768.0 * 128.0 : 255.0 * 127.0) +
                             static_cast<double>(max_abs_bias);
  if (max_abs_acc >= (plan->int16 ? std::ldexp(1.0, 47) : 2147483647.0)) {
    *why = std::string(op) + " filter of " + std::to_string(static_cast<int64_t>(taps)) +
           " taps and its bias could overflow the " +
           (plan->int16 ? "int64 rescale's range (2^47)" : "int32 accumulator");
    return false;
  }
  plan->multipliers.resize(plan->output_depth);
  for (int c = 0; c < plan->output_depth; ++c) {
    const double multiplier = static_cast<double>(in_q.scales[0]) *
                              static_cast<double>(w_q.scales[w_q.per_channel() ? c : 0]) /
                              static_cast<double>(out_q.scales[0]);
    const kernels::QuantizedMultiplier quantized = kernels::QuantizeMultiplier(multiplier);
    const bool fits =
        plan->int16
            ? quantized.shift < 8 && max_abs_acc * multiplier < 2147483647.0 - 65536.0
            : max_abs_acc * std::ldexp(1.0, std::max(quantized.shift, 0)) < 2147483647.0 &&
                  max_abs_acc * multiplier < 2147483647.0 - 256.0;
    if (!fits) {
      *why = std::string(op) + " rescale factor " + std::to_string(multiplier) +
             " of output channel " + std::to_string(c) + " could overflow int32";
      return false;
    }
    plan->multipliers[c] = quantized;
  }
  return true;
}

bool ConvGeometryFor(const ConvPlan& plan, const Shape& input, int input_depth_divisor,
                     kernels::ConvGeometry* g, std::string* why) {
  if (input.size() != 4) {
    *why = "input shape " + ShapeToString(input) + " is not NHWC (rank 4)";
    return false;
  }
  const ConvWindow& w = plan.window;
  g->batches = input[0];
  g->input_height = input[1];
  g->input_width = input[2];
  g->input_depth = input[3];
  if (g->input_depth <= 0 || g->input_depth % input_depth_divisor != 0) {
    *why = "input depth " + std::to_string(g->input_depth) + " does not fit the filter (" +
           std::to_string(input_depth_divisor) + " channels per group)";
    return false;
  }
  g->filter_height = plan.filter_height;
  g->filter_width = plan.filter_width;
  g->output_depth = plan.output_depth;
  g->stride_height = w.stride_height;
  g->stride_width = w.stride_width;
  g->dilation_height = w.dilation_height;
  g->dilation_width = w.dilation_width;
  // Every index the kernels form (oy * stride - pad + ky * dilation) stays far
  // inside int when the input and the dilated window are at most kMaxConvExtent.
  if (g->input_height > kMaxConvExtent || g->input_width > kMaxConvExtent ||
      EffectiveFilterSize(g->filter_height, w.dilation_height) > kMaxConvExtent ||
      EffectiveFilterSize(g->filter_width, w.dilation_width) > kMaxConvExtent) {
    *why = "input " + ShapeToString(input) + " or its dilated window exceeds " +
           std::to_string(kMaxConvExtent) + " pixels";
    return false;
  }
  const int64_t output_height = OutputSize(w.padding, g->input_height, g->filter_height,
                                           w.stride_height, w.dilation_height);
  const int64_t output_width = OutputSize(w.padding, g->input_width, g->filter_width,
                                          w.stride_width, w.dilation_width);
  if (g->batches <= 0 || output_height <= 0 || output_width <= 0) {
    *why = "input shape " + ShapeToString(input) + " gives an empty output";
    return false;
  }
  g->output_height = static_cast<int>(output_height);
  g->output_width = static_cast<int>(output_width);
  g->pad_top = static_cast<int>(PaddingBefore(g->input_height, g->filter_height,
                                              w.stride_height, w.dilation_height, output_height));
  g->pad_left = static_cast<int>(PaddingBefore(g->input_width, g->filter_width,
                                               w.stride_width, w.dilation_width, output_width));
  return true;
}

bool ConvOpBase::PrepareGeometry(PartitionTensors* tensors, int input_depth_divisor,
                                 std::string* why) {
  if (!ConvGeometryFor(plan_, tensors->shape(plan_.input), input_depth_divisor, &geometry_,
                       why)) {
    *why = std::string(op_name_) + " " + *why;
    return false;
  }
  tensors->set_shape(plan_.output, {geometry_.batches, geometry_.output_height,
                                    geometry_.output_width, geometry_.output_depth});
  return true;
}

}  // namespace tfq
