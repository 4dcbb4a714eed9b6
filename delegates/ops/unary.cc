// Elementwise int8 -> int8 ops of one input as a 256-entry table of their
// scalar reference: RELU, RELU_N1_TO_1, RELU6, LEAKY_RELU, LOGISTIC, TANH,
// HARD_SWISH; and int16 LOGISTIC and TANH (int16x8). TFLite glue.
// (QUANTIZE / DEQUANTIZE: ops/quantize.cc.)
#include <cmath>

#include "delegates/kernels/activations.h"
#include "delegates/kernels/sigmoid_int16.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class UnaryOp : public ElementwiseOp {
 public:
  UnaryOp(int input, int output, const kernels::Int8Table& table)
      : ElementwiseOp(input, output), table_(table) {}

  void Invoke(PartitionTensors* tensors) override {
    kernels::LookupInt8(table_, count_, tensors->data_as<int8_t>(input_),
                        tensors->data_as<int8_t>(output_));
  }

 private:
  kernels::Int8Table table_;
};

class SigmoidInt16Op : public ElementwiseOp {
 public:
  SigmoidInt16Op(int input, int output, bool tanh, kernels::SigmoidInputRescale rescale)
      : ElementwiseOp(input, output), tanh_(tanh), rescale_(rescale) {}

  void Invoke(PartitionTensors* tensors) override {
    const int16_t* input = tensors->data_as<int16_t>(input_);
    int16_t* output = tensors->data_as<int16_t>(output_);
    if (tanh_) {
      kernels::TanhInt16(rescale_, count_, input, output);
    } else {
      kernels::LogisticInt16(rescale_, count_, input, output);
    }
  }

 private:
  bool tanh_;
  kernels::SigmoidInputRescale rescale_;
};

// int16 LOGISTIC / TANH: TFLite's prepare checks (zero points 0, a Q15
// output scale) and the input rescale.
std::unique_ptr<DelegatedOp> ParseSigmoidInt16(const NodeView& node, bool tanh,
                                               std::string* why) {
  TensorQuantization in_q, out_q;
  if (!CheckType(*node.input(0), "input", kTfLiteInt16, why) ||
      !CheckType(*node.output(0), "output", kTfLiteInt16, why) ||
      !ReadQuantization(*node.input(0), "input", false, 0, &in_q, why) ||
      !ReadQuantization(*node.output(0), "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  int output_log2 = 0;
  const bool q15 = tanh ? kernels::CheckedLog2(out_q.scales[0], &output_log2) && output_log2 == -15
                        : out_q.scales[0] == 1.0f / 32768;
  if (!q15) {
    *why = "output scale is not 1/32768 (TFLite requires it for int16)";
    return nullptr;
  }
  kernels::SigmoidInputRescale rescale;
  if (!kernels::ComputeSigmoidInputRescale(in_q.scales[0], tanh, &rescale)) {
    *why = "input scale " + std::to_string(in_q.scales[0]) + " is too large";
    return nullptr;
  }
  return std::make_unique<SigmoidInt16Op>(node.input_index(0), node.output_index(0), tanh,
                                          rescale);
}

// int8 in and out, per-tensor quantization on both: the common check.
bool ReadInt8Unary(const NodeView& node, TensorQuantization* in_q, TensorQuantization* out_q,
                   std::string* why) {
  return node.CheckArity(1, 1, 1, why) &&
         CheckType(*node.input(0), "input", kTfLiteInt8, why) &&
         CheckType(*node.output(0), "output", kTfLiteInt8, why) &&
         ReadQuantization(*node.input(0), "input", false, 0, in_q, why) &&
         ReadQuantization(*node.output(0), "output", false, 0, out_q, why);
}

std::unique_ptr<DelegatedOp> TableOp(const NodeView& node, const kernels::Int8Table& table) {
  return std::make_unique<UnaryOp>(node.input_index(0), node.output_index(0), table);
}

// reference_ops::ReluX: the multiplier from s_in / s_out divided in float.
std::unique_ptr<DelegatedOp> ParseReluX(const NodeView& node, float low, float high,
                                        bool bounded_above, std::string* why) {
  TensorQuantization in_q, out_q;
  if (!ReadInt8Unary(node, &in_q, &out_q, why)) return nullptr;
  const float s_out = out_q.scales[0];
  const int32_t zp_out = out_q.zero_points[0];
  kernels::RescaleParams params{};
  params.input_zero_point = in_q.zero_points[0];
  params.output_zero_point = zp_out;
  params.multiplier = kernels::QuantizeMultiplier(static_cast<double>(in_q.scales[0] / s_out));
  if (params.multiplier.shift > 23) {  // |q - zp| <= 255 must shift within int32
    *why = "input / output scale ratio is too large";
    return nullptr;
  }
  const float low_q = std::round(low / s_out), high_q = std::round(high / s_out);
  if (!(std::fabs(low_q) < 1e9f) || (bounded_above && !(std::fabs(high_q) < 1e9f))) {
    *why = "output scale " + std::to_string(s_out) + " is too small for the clamp";
    return nullptr;
  }
  params.output_min = std::max(-128, zp_out + static_cast<int32_t>(low_q));
  params.output_max = bounded_above ? std::min(127, zp_out + static_cast<int32_t>(high_q)) : 127;
  return TableOp(node, kernels::TabulateInt8(
                           [&](int32_t q) { return kernels::RescaleValue(q, params); }));
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseRelu(const NodeView& node, std::string* why) {
  return ParseReluX(node, 0.0f, 0.0f, false, why);
}

std::unique_ptr<DelegatedOp> ParseReluN1To1(const NodeView& node, std::string* why) {
  return ParseReluX(node, -1.0f, 1.0f, true, why);
}

std::unique_ptr<DelegatedOp> ParseRelu6(const NodeView& node, std::string* why) {
  return ParseReluX(node, 0.0f, 6.0f, true, why);
}

std::unique_ptr<DelegatedOp> ParseLeakyRelu(const NodeView& node, std::string* why) {
  TensorQuantization in_q, out_q;
  if (!ReadInt8Unary(node, &in_q, &out_q, why)) return nullptr;
  const auto* options = static_cast<const TfLiteLeakyReluParams*>(node.node().builtin_data);
  if (options == nullptr || !std::isfinite(options->alpha) || options->alpha < 0.0f) {
    *why = "alpha is missing, not finite or negative";  // TFLite changed negative alpha in 2026
    return nullptr;
  }
  kernels::LeakyReluParams params{};
  params.input_zero_point = in_q.zero_points[0];
  params.output_zero_point = out_q.zero_points[0];
  // TFLite divides in float, then widens.
  params.identity = kernels::QuantizeMultiplier(
      static_cast<double>(in_q.scales[0] / out_q.scales[0]));
  params.alpha = kernels::QuantizeMultiplier(
      static_cast<double>((in_q.scales[0] * options->alpha) / out_q.scales[0]));
  if (params.identity.shift > 23 || params.alpha.shift > 23) {
    *why = "input / output scale ratio is too large";
    return nullptr;
  }
  return TableOp(node, kernels::TabulateInt8(
                           [&](int32_t q) { return kernels::LeakyReluValue(q, params); }));
}

std::unique_ptr<DelegatedOp> ParseLogistic(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why)) return nullptr;
  if (node.input(0)->type == kTfLiteInt16) return ParseSigmoidInt16(node, false, why);
  TensorQuantization in_q, out_q;
  if (!ReadInt8Unary(node, &in_q, &out_q, why)) return nullptr;
  if (out_q.scales[0] != 1.0f / 256) {
    *why = "output scale is not 1/256 (TFLite requires it)";
    return nullptr;
  }
  return TableOp(node, kernels::TabulateInt8([&](int32_t q) {
                   return kernels::LogisticValue(q, in_q.scales[0], in_q.zero_points[0],
                                                 out_q.scales[0], out_q.zero_points[0]);
                 }));
}

std::unique_ptr<DelegatedOp> ParseTanh(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why)) return nullptr;
  if (node.input(0)->type == kTfLiteInt16) return ParseSigmoidInt16(node, true, why);
  TensorQuantization in_q, out_q;
  if (!ReadInt8Unary(node, &in_q, &out_q, why)) return nullptr;
  return TableOp(node, kernels::TabulateInt8([&](int32_t q) {
                   return kernels::TanhValue(q, in_q.scales[0], in_q.zero_points[0],
                                             out_q.scales[0], out_q.zero_points[0]);
                 }));
}

std::unique_ptr<DelegatedOp> ParseHardSwish(const NodeView& node, std::string* why) {
  TensorQuantization in_q, out_q;
  if (!ReadInt8Unary(node, &in_q, &out_q, why)) return nullptr;
  // TFLite's HardSwishPrepare, in float then widened.
  const float hires_scale = (1.0f / 128.0f) * in_q.scales[0];
  const kernels::QuantizedMultiplier output =
      kernels::QuantizeMultiplier(static_cast<double>(hires_scale / out_q.scales[0]));
  const kernels::QuantizedMultiplier relu =
      kernels::QuantizeMultiplier(static_cast<double>(hires_scale / (3.0f / 32768.0f)));
  if (output.shift > 0) {
    *why = "output scale is too small for the input scale (TFLite refuses it)";
    return nullptr;
  }
  if (relu.shift > 16) {
    *why = "input scale is too large";
    return nullptr;
  }
  if (relu.shift < -31) {  // TFLite's shift by 32 or more is undefined behaviour
    *why = "input scale " + std::to_string(in_q.scales[0]) + " is too small";
    return nullptr;
  }
  kernels::HardSwishParams params{};
  params.input_zero_point = in_q.zero_points[0];
  params.output_zero_point = out_q.zero_points[0];
  params.output_multiplier = kernels::DownScaleToInt16(output.significand);
  params.output_shift = output.shift;
  params.relu_multiplier = kernels::DownScaleToInt16(relu.significand);
  params.relu_shift = relu.shift;
  return TableOp(node, kernels::TabulateInt8(
                           [&](int32_t q) { return kernels::HardSwishValue(q, params); }));
}

}  // namespace tfq
