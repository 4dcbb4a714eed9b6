// MEAN, int8 or int16 (int16x8) input and output, constant axes: TFLite glue.
#include <algorithm>
#include <cmath>

#include "delegates/kernels/mean.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class MeanOp : public DelegatedOp {
 public:
  MeanOp(int input, int output, std::vector<int> axes, bool keep_dims, bool int16,
         int32_t input_zero_point, int32_t output_zero_point,
         kernels::QuantizedMultiplier scale_ratio)
      : input_(input), output_(output), axes_(std::move(axes)), keep_dims_(keep_dims),
        int16_(int16),
        input_zero_point_(input_zero_point), output_zero_point_(output_zero_point),
        scale_ratio_(scale_ratio) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    input_shape_ = tensors->shape(input_);
    const int rank = static_cast<int>(input_shape_.size());
    reduced_.assign(rank, false);
    for (int axis : axes_) {  // TFLite's ResolveAxis: negative counts from the end
      const int resolved = axis < 0 ? axis + rank : axis;
      if (resolved < 0 || resolved >= rank) {
        *why = "MEAN axis " + std::to_string(axis) + " is out of range for input shape " +
               ShapeToString(input_shape_);
        return false;
      }
      reduced_[resolved] = true;
    }
    Shape output_shape;
    int64_t reduced_elements = 1;
    for (int d = 0; d < rank; ++d) {
      if (input_shape_[d] <= 0) {
        *why = "MEAN input shape " + ShapeToString(input_shape_) + " is empty";
        return false;
      }
      if (reduced_[d]) reduced_elements *= input_shape_[d];
      if (!reduced_[d]) output_shape.push_back(input_shape_[d]);
      else if (keep_dims_) output_shape.push_back(1);
    }
    // int32 bounds of the reference arithmetic: the sum, the centered sum,
    // and its left shift when the rescale is > 1.
    multiplier_ = kernels::MeanMultiplier(scale_ratio_, reduced_elements);
    const double max_centered = (int16_ ? 32768.0 : 255.0) * static_cast<double>(reduced_elements);
    if (max_centered * std::ldexp(1.0, std::max(multiplier_.shift, 0)) >= 2147483647.0) {
      *why = "MEAN over " + std::to_string(reduced_elements) +
             " elements with this rescale could overflow int32";
      return false;
    }
    int64_t outputs = 1;
    for (int size : output_shape) outputs *= size;
    scratch_.Reserve(rank, outputs);
    tensors->set_shape(output_, output_shape);
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    if (int16_) {
      kernels::MeanInt16Reference(input_shape_, reduced_, multiplier_,
                                  tensors->data_as<int16_t>(input_),
                                  tensors->data_as<int16_t>(output_), &scratch_);
      return;
    }
    kernels::MeanInt8Optimized(input_shape_, reduced_, input_zero_point_, output_zero_point_,
                               multiplier_, tensors->data_as<int8_t>(input_),
                               tensors->data_as<int8_t>(output_), &scratch_);
  }

  std::string kernel_path() const override {
    return !int16_ && kernels::MeanInt8Vectorized(input_shape_, reduced_) ? "avx512" : "portable";
  }

  std::vector<int> input_tensors() const override { return {input_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  int input_, output_;
  std::vector<int> axes_;
  bool keep_dims_;
  bool int16_;  // int16x8: int16 input and output, zero points 0
  int32_t input_zero_point_, output_zero_point_;
  kernels::QuantizedMultiplier scale_ratio_, multiplier_;
  Shape input_shape_;
  std::vector<bool> reduced_;
  kernels::MeanScratch scratch_;  // sized at prepare: invoke allocates nothing
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseMean(const NodeView& node, std::string* why) {
  if (!node.CheckArity(2, 2, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteReducerParams*>(node.node().builtin_data);
  if (params == nullptr) {
    *why = "has no builtin options";
    return nullptr;
  }
  const TfLiteTensor* input = node.input(0);
  const TfLiteTensor* axis = node.input(1);
  if (input == nullptr || axis == nullptr) {
    *why = "has an omitted input";
    return nullptr;
  }
  TensorQuantization in_q, out_q;
  const bool int16 = input->type == kTfLiteInt16;
  const TfLiteType type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  if (!CheckType(*input, "input", type, why) || !CheckType(*node.output(0), "output", type, why) ||
      !CheckType(*axis, "axis", kTfLiteInt32, why) || !CheckConstant(*axis, "axis", why) ||
      !ReadQuantization(*input, "input", false, 0, &in_q, why) ||
      !ReadQuantization(*node.output(0), "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  if (axis->dims->size > 1) {
    *why = "axis tensor has rank " + std::to_string(axis->dims->size) + ", expected 0 or 1";
    return nullptr;
  }
  const std::vector<int32_t> axis_values = ConstantValues<int32_t>(*axis);
  std::vector<int> axes(axis_values.begin(), axis_values.end());
  const kernels::QuantizedMultiplier scale_ratio = kernels::QuantizeMultiplier(
      static_cast<double>(in_q.scales[0]) / static_cast<double>(out_q.scales[0]));
  return std::make_unique<MeanOp>(node.input_index(0), node.output_index(0), std::move(axes),
                                  params->keep_dims, int16, in_q.zero_points[0], out_q.zero_points[0],
                                  scale_ratio);
}

}  // namespace tfq
