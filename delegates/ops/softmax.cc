// SOFTMAX over the last dimension, int8 input and output (scale 1/256, zero
// point -128, as TFLite requires) or int16 (int16x8: scale 1/32768, zero
// point 0): TFLite glue.
#include <cmath>

#include "delegates/kernels/softmax.h"
#include "delegates/kernels/softmax_int16.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

// The Q12.19 sum of a row's exps stays in int32 below this depth.
constexpr int kMaxDepth = 4095;

class SoftmaxOp : public DelegatedOp {
 public:
  SoftmaxOp(int input, int output, kernels::SoftmaxParams params)
      : input_(input), output_(output), params_(params) {}
  SoftmaxOp(int input, int output, const kernels::SoftmaxInt16Params& params)
      : input_(input), output_(output), int16_(true), params16_(params) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& shape = tensors->shape(input_);
    const int max_depth = int16_ ? kernels::kMaxSoftmaxInt16Depth : kMaxDepth;
    if (shape.empty() || shape.back() < 1 || shape.back() > max_depth) {
      *why = "SOFTMAX input shape " + ShapeToString(shape) + " needs a last dimension in [1, " +
             std::to_string(max_depth) + "]";
      return false;
    }
    depth_ = shape.back();
    rows_ = NumElements(shape) / depth_;
    tensors->set_shape(output_, shape);
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    if (int16_) {
      kernels::SoftmaxInt16Reference(params16_, rows_, depth_, tensors->data_as<int16_t>(input_),
                                     tensors->data_as<int16_t>(output_));
      return;
    }
    kernels::SoftmaxInt8Reference(params_, rows_, depth_, tensors->data_as<int8_t>(input_),
                                  tensors->data_as<int8_t>(output_));
  }

  std::vector<int> input_tensors() const override { return {input_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  int input_, output_;
  kernels::SoftmaxParams params_{};
  bool int16_ = false;
  kernels::SoftmaxInt16Params params16_{};  // int16x8: its tables
  int64_t rows_ = 0;
  int depth_ = 1;
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseSoftmax(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why)) return nullptr;
  const auto* options = static_cast<const TfLiteSoftmaxParams*>(node.node().builtin_data);
  TensorQuantization in_q, out_q;
  if (options == nullptr || !std::isfinite(options->beta) || options->beta <= 0.0f) {
    *why = "beta is missing, not finite or not > 0";
    return nullptr;
  }
  const bool int16 = node.input(0)->type == kTfLiteInt16;
  const TfLiteType type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(*node.input(0), "input", type, why) ||
      !CheckType(*node.output(0), "output", type, why) ||
      !ReadQuantization(*node.input(0), "input", false, 0, &in_q, why) ||
      !ReadQuantization(*node.output(0), "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  if (int16) {  // zero points are 0 (ReadQuantization); the scale as TFLite checks it
    if (!(std::fabs(out_q.scales[0] - 1.0f / 32768) <= 0.001f * 1.0f / 32768)) {
      *why = "output is not quantized with scale 1/32768";
      return nullptr;
    }
    kernels::SoftmaxInt16Params params16;
    if (!kernels::MakeSoftmaxInt16Params(in_q.scales[0] * options->beta, &params16)) {
      *why = "beta x input scale " + std::to_string(options->beta * in_q.scales[0]) +
             " is too large for the int16 softmax";
      return nullptr;
    }
    return std::make_unique<SoftmaxOp>(node.input_index(0), node.output_index(0), params16);
  }
  // TFLite's own Prepare checks, mirrored: the output grid is fixed.
  if (out_q.zero_points[0] != -128 ||
      !(std::fabs(out_q.scales[0] - 1.0f / 256) <= 0.001f * 1.0f / 256)) {
    *why = "output is not quantized with scale 1/256 and zero point -128";
    return nullptr;
  }
  kernels::SoftmaxParams params{};
  if (!kernels::MakeSoftmaxParams(options->beta, in_q.scales[0], &params)) {
    // TFLite aborts the process on such a node (QuantizeMultiplierGreaterThanOne).
    *why = "beta x input scale " + std::to_string(options->beta * in_q.scales[0]) +
           " is too small for the fixed-point softmax";
    return nullptr;
  }
  return std::make_unique<SoftmaxOp>(node.input_index(0), node.output_index(0), params);
}

}  // namespace tfq
