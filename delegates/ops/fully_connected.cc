// FULLY_CONNECTED: TFLite glue. int8 (int8 input/weights/output, int32
// bias) and int16x8 (int16 input/output with zero point 0, int8 weights,
// int64 or int32 bias).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "delegates/cpu_features.h"
#include "delegates/kernels/dot.h"
#include "delegates/kernels/dot_int16.h"
#include "delegates/kernels/fully_connected.h"
#include "delegates/kernels/fully_connected_avx2.h"
#include "delegates/ops/activation_range.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

// Everything the check established, kept for building and running.
struct FullyConnectedPlan {
  int input = -1, weights = -1, bias = -1, output = -1;
  bool keep_num_dims = false;
  bool int16 = false;  // int16x8: int16 activations, bias in bias64
  int input_depth = 0, output_depth = 0;
  int32_t input_zero_point = 0, output_zero_point = 0;
  int32_t output_min = -128, output_max = 127;
  std::vector<double> multipliers;  // per output channel
  const int8_t* weight_data = nullptr;
  std::vector<int32_t> bias_values;  // copied from the model (ConstantValues)
  const int32_t* bias_data() const { return bias_values.empty() ? nullptr : bias_values.data(); }
  std::vector<int32_t> weight_sums;  // per output channel, for the zero-point fold
  std::vector<int64_t> bias64;  // int16x8: the bias widened to int64
};

class FullyConnectedOp : public DelegatedOp {
 public:
  explicit FullyConnectedOp(FullyConnectedPlan plan) : plan_(std::move(plan)) {
    if (plan_.int16) {
      packed16_ = kernels::PackFiltersInt16(plan_.weight_data, plan_.output_depth,
                                            plan_.input_depth);
      acc64_.resize(4 * static_cast<size_t>(plan_.output_depth));
      return;
    }
    if (!kernels::PackedSumsAvailable() && !kernels::FullyConnectedAvx2Available()) return;
    offsets_.resize(plan_.output_depth);
    for (int o = 0; o < plan_.output_depth; ++o) {
      offsets_[o] = (plan_.bias_data() != nullptr ? plan_.bias_data()[o] : 0) -
                    plan_.input_zero_point * plan_.weight_sums[o];
    }
    if (kernels::PackedSumsAvailable()) {
      packed_ = kernels::PackFilters(plan_.weight_data, plan_.output_depth, plan_.input_depth);
    } else {
      packed_avx2_ = kernels::PackFullyConnectedAvx2(plan_.weight_data, plan_.output_depth,
                                                     plan_.input_depth, offsets_.data());
    }
  }

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& in = tensors->shape(plan_.input);
    const int64_t elements = NumElements(in);
    if (in.empty() || elements % plan_.input_depth != 0) {
      *why = "FULLY_CONNECTED input shape " + ShapeToString(in) +
             " is not a whole number of rows of depth " + std::to_string(plan_.input_depth);
      return false;
    }
    Shape out;
    if (plan_.keep_num_dims) {
      if (in.back() != plan_.input_depth) {
        *why = "FULLY_CONNECTED with keep_num_dims needs input last dimension " +
               std::to_string(plan_.input_depth) + ", got " + ShapeToString(in);
        return false;
      }
      out = in;
      out.back() = plan_.output_depth;
    } else {
      out = {static_cast<int>(elements / plan_.input_depth), plan_.output_depth};
    }
    batches_ = static_cast<int>(elements / plan_.input_depth);
    tensors->set_shape(plan_.output, out);
    if (!packed_.empty()) {
      sums_stride_ = static_cast<size_t>(kernels::kPackedSumsMaxRows) * plan_.output_depth;
      sums_.resize(static_cast<size_t>(tensors->pool().num_threads()) * sums_stride_);
    }
    if (!packed_avx2_.empty()) {
      rows16_.resize(static_cast<size_t>(tensors->pool().num_threads()) *
                     packed_avx2_.RowScratch());
    }
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    const kernels::FullyConnectedShape shape{batches_, plan_.input_depth, plan_.output_depth};
    const kernels::FullyConnectedQuantization quantization{
        plan_.input_zero_point, plan_.output_zero_point, plan_.output_min,
        plan_.output_max, plan_.multipliers.data()};
    if (plan_.int16) {
      kernels::FullyConnectedInt16Optimized(
          shape, quantization, tensors->data_as<int16_t>(plan_.input), packed16_,
          plan_.bias64.empty() ? nullptr : plan_.bias64.data(), acc64_.data(),
          tensors->data_as<int16_t>(plan_.output));
      return;
    }
    // Output channels split across threads (each reads its share of the weights).
    const int8_t* input = tensors->data_as<int8_t>(plan_.input);
    int8_t* output = tensors->data_as<int8_t>(plan_.output);
    if (!packed_.empty()) {
      tensors->pool().ParallelFor(plan_.output_depth, 16,
                                  [&](int thread, int64_t begin, int64_t end) {
        kernels::FullyConnectedInt8Packed(shape, quantization, input, packed_, offsets_.data(),
                                          sums_.data() + thread * sums_stride_, output,
                                          static_cast<int>(begin), static_cast<int>(end));
      });
      return;
    }
    if (!packed_avx2_.empty()) {  // threads split the blocks of 32 channels
      tensors->pool().ParallelFor(packed_avx2_.blocks, 1,
                                  [&](int thread, int64_t begin, int64_t end) {
        kernels::FullyConnectedInt8Avx2(
            shape, quantization, input, packed_avx2_,
            rows16_.data() + static_cast<size_t>(thread) * packed_avx2_.RowScratch(), output,
            static_cast<int>(begin), static_cast<int>(end));
      });
      return;
    }
    tensors->pool().ParallelFor(plan_.output_depth, 16, [&](int, int64_t begin, int64_t end) {
      kernels::FullyConnectedInt8Optimized(shape, quantization, input, plan_.weight_data,
                                           plan_.weight_sums.data(), plan_.bias_data(), output,
                                           static_cast<int>(begin), static_cast<int>(end));
    });
  }

  std::vector<int> input_tensors() const override { return {plan_.input}; }
  std::vector<int> output_tensors() const override { return {plan_.output}; }
  std::string kernel_path() const override {
    if (plan_.int16) return kernels::PackedDotInt16Path();
    if (!packed_.empty()) return "avx512_vnni";
    if (!packed_avx2_.empty()) return "avx2";
    return GetCpuFeatures().avx2 ? "avx2" : "portable";
  }
  int64_t macs() const override {
    return static_cast<int64_t>(batches_) * plan_.input_depth * plan_.output_depth;
  }

 private:
  FullyConnectedPlan plan_;
  int batches_ = 0;
  std::vector<int16_t> packed16_;  // int16x8: the weights widened and packed
  std::vector<int64_t> acc64_;     // int16x8: 4 rows of sums
  // int8 on AVX-512 VNNI: the packed weights, bias - zp * sum(w), and each
  // thread's kPackedSumsMaxRows rows of int32 sums.
  std::vector<int8_t> packed_;
  std::vector<int32_t> offsets_, sums_;
  size_t sums_stride_ = 0;
  // int8 on AVX2 without VNNI: the packed weights and each thread's
  // widened input rows.
  kernels::PackedFullyConnectedAvx2 packed_avx2_;
  std::vector<int16_t> rows16_;
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseFullyConnected(const NodeView& node, std::string* why) {
  if (!node.CheckArity(2, 3, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteFullyConnectedParams*>(node.node().builtin_data);
  if (params == nullptr) {
    *why = "has no builtin options";
    return nullptr;
  }
  if (params->weights_format != 0) {
    *why = "uses a packed weights format";
    return nullptr;
  }
  const TfLiteTensor& input = *node.input(0);
  const TfLiteTensor* weights = node.input(1);
  const TfLiteTensor* bias = node.num_inputs() == 3 ? node.input(2) : nullptr;
  const TfLiteTensor& output = *node.output(0);
  if (weights == nullptr) {
    *why = "has no weights tensor";
    return nullptr;
  }
  const bool int16 = input.type == kTfLiteInt16;
  const TfLiteType activation_type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(input, "input", activation_type, why) ||
      !CheckType(*weights, "weights", kTfLiteInt8, why) ||
      !CheckType(output, "output", activation_type, why) ||
      !CheckConstant(*weights, "weights", why) || !CheckRank(*weights, "weights", 2, why)) {
    return nullptr;
  }
  FullyConnectedPlan plan;
  plan.input = node.input_index(0);
  plan.weights = node.input_index(1);
  plan.output = node.output_index(0);
  plan.keep_num_dims = params->keep_num_dims;
  plan.int16 = int16;
  plan.output_depth = weights->dims->data[0];
  plan.input_depth = weights->dims->data[1];
  if (plan.output_depth <= 0 || plan.input_depth <= 0) {
    *why = "weights have an empty shape";
    return nullptr;
  }
  // int16x8: TFLite's kernel takes the bias (and accumulator) type from the
  // options' quantized_bias_type, int64 unless it says int32.
  const bool int32_bias_option = params->quantized_bias_type == kTfLiteInt32;
  if (int16 && bias != nullptr &&
      bias->type != (int32_bias_option ? kTfLiteInt32 : kTfLiteInt64)) {
    *why = std::string("int16x8 bias is ") + TypeName(bias->type) + " but the options' "
           "quantized_bias_type asks for " + (int32_bias_option ? "int32" : "int64");
    return nullptr;
  }
  if (bias != nullptr) {
    const bool int64_bias = int16 && bias->type == kTfLiteInt64;
    if (!CheckType(*bias, "bias", int64_bias ? kTfLiteInt64 : kTfLiteInt32, why) ||
        !CheckConstant(*bias, "bias", why) || !CheckRank(*bias, "bias", 1, why)) {
      return nullptr;
    }
    if (bias->dims->data[0] != plan.output_depth) {
      *why = "bias has " + std::to_string(bias->dims->data[0]) + " values for " +
             std::to_string(plan.output_depth) + " output channels";
      return nullptr;
    }
    plan.bias = node.input_index(2);
    if (int64_bias) {
      plan.bias64 = ConstantValues<int64_t>(*bias);
    } else {
      plan.bias_values = ConstantValues<int32_t>(*bias);
      plan.bias64.assign(plan.bias_values.begin(), plan.bias_values.end());
    }
  }
  plan.weight_data = weights->data.int8;

  TensorQuantization in_q, w_q, out_q;
  if (!ReadQuantization(input, "input", false, 0, &in_q, why) ||
      !ReadQuantization(*weights, "weights", true, 0, &w_q, why) ||
      !ReadQuantization(output, "output", false, 0, &out_q, why) ||
      !CheckSymmetric(w_q, "weights", why)) {
    return nullptr;
  }
  if (w_q.per_channel() && static_cast<int>(w_q.scales.size()) != plan.output_depth) {
    *why = "weights have " + std::to_string(w_q.scales.size()) + " scales for " +
           std::to_string(plan.output_depth) + " output channels";
    return nullptr;
  }
  // TFLite's Prepare refuses a per-tensor bias whose scale strays from
  // s_in * s_w (GetQuantizedConvolutionMultipler); decline what it refuses.
  if (bias != nullptr && !w_q.per_channel()) {
    const double product = static_cast<double>(in_q.scales[0]) * w_q.scales[0];
    if (std::fabs(product - bias->params.scale) / out_q.scales[0] > 0.02) {
      *why = "bias scale " + std::to_string(bias->params.scale) +
             " is not input scale x weight scale (" + std::to_string(product) + ")";
      return nullptr;
    }
  }
  plan.input_zero_point = in_q.zero_points[0];
  plan.output_zero_point = out_q.zero_points[0];
  if (!QuantizedActivationRange(params->activation, out_q.scales[0], out_q.zero_points[0],
                                int16 ? -32768 : -128, int16 ? 32767 : 127, &plan.output_min,
                                &plan.output_max, why)) {
    return nullptr;
  }

  // Bounds that keep the kernel's arithmetic defined (TFLite's is not beyond
  // them): |acc| <= depth * max|input| * 127 + max|bias| fits the accumulator
  // (int32; int64 for an int64 bias, where the bound is never reached), and
  // the rescaled value fits in int32 before the zero point is added.
  int64_t max_abs_bias = 0;
  for (int o = 0; bias != nullptr && o < plan.output_depth; ++o) {
    max_abs_bias = std::max<int64_t>(
        max_abs_bias, int16 ? std::llabs(plan.bias64[o]) : std::llabs(plan.bias_values[o]));
  }
  const double max_abs_input = int16 ? 32768.0 : 255.0;
  const double max_abs_acc = static_cast<double>(plan.input_depth) * max_abs_input * 127.0 +
                             static_cast<double>(max_abs_bias);
  const bool int64_accumulator = int16 && !int32_bias_option;
  if (max_abs_acc >= (int64_accumulator ? 9.0e18 : 2147483647.0)) {
    *why = "input depth " + std::to_string(plan.input_depth) + " and bias could overflow the " +
           (int64_accumulator ? "int64" : "int32") + " accumulator";
    return nullptr;
  }
  plan.multipliers.resize(plan.output_depth);
  for (int o = 0; o < plan.output_depth; ++o) {
    const float weight_scale = w_q.scales[w_q.per_channel() ? o : 0];
    const double multiplier = static_cast<double>(in_q.scales[0]) *
                              static_cast<double>(weight_scale) /
                              static_cast<double>(out_q.scales[0]);
    if (!(max_abs_acc * multiplier < 2147483647.0 - 255.0)) {
      *why = "rescale factor " + std::to_string(multiplier) + " of output channel " +
             std::to_string(o) + " could overflow int32";
      return nullptr;
    }
    plan.multipliers[o] = multiplier;
  }
  plan.weight_sums.resize(plan.output_depth);
  kernels::FilterSums(plan.weight_data, plan.output_depth, plan.input_depth,
                      plan.weight_sums.data());
  return std::make_unique<FullyConnectedOp>(std::move(plan));
}

}  // namespace tfq
