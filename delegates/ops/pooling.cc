// MAX_POOL_2D and AVERAGE_POOL_2D, int8 or int16 (int16x8) input and output:
// TFLite glue.
#include <cmath>

#include "delegates/kernels/pooling.h"
#include "delegates/ops/activation_range.h"
#include "delegates/ops/conv_common.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class PoolOp : public DelegatedOp {
 public:
  PoolOp(bool average, bool int16, int input, int output, ConvPlan window, int32_t output_min,
         int32_t output_max)
      : average_(average), int16_(int16), input_(input), output_(output),
        window_(std::move(window)), output_min_(output_min), output_max_(output_max) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& shape = tensors->shape(input_);
    if (shape.size() == 4) window_.output_depth = shape[3];  // pooling keeps the depth
    if (!ConvGeometryFor(window_, shape, 1, &geometry_, why)) {
      *why = std::string(average_ ? "AVERAGE_POOL_2D " : "MAX_POOL_2D ") + *why;
      return false;
    }
    tensors->set_shape(output_, {geometry_.batches, geometry_.output_height,
                                 geometry_.output_width, geometry_.output_depth});
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    if (int16_) {
      Run(tensors->data_as<int16_t>(input_), tensors->data_as<int16_t>(output_),
          &kernels::AveragePoolInt16Reference, &kernels::MaxPoolInt16Optimized);
    } else {
      Run(tensors->data_as<int8_t>(input_), tensors->data_as<int8_t>(output_),
          &kernels::AveragePoolInt8Reference, &kernels::MaxPoolInt8Optimized);
    }
  }

  std::vector<int> input_tensors() const override { return {input_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  template <typename T, typename Kernel>
  void Run(const T* input, T* output, Kernel average, Kernel maximum) const {
    (average_ ? average : maximum)(geometry_, output_min_, output_max_, input, output);
  }

  bool average_, int16_;
  int input_, output_;
  ConvPlan window_;  // the pooling window as a filter of depth 1
  int32_t output_min_, output_max_;
  kernels::ConvGeometry geometry_{};
};

std::unique_ptr<DelegatedOp> ParsePool(const NodeView& node, bool average, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLitePoolParams*>(node.node().builtin_data);
  if (params == nullptr) {
    *why = "has no builtin options";
    return nullptr;
  }
  const TfLiteTensor& input = *node.input(0);
  const TfLiteTensor& output = *node.output(0);
  const bool int16 = input.type == kTfLiteInt16;
  const TfLiteType type = int16 ? kTfLiteInt16 : kTfLiteInt8;
  TensorQuantization in_q, out_q;
  if (!CheckType(input, "input", type, why) || !CheckType(output, "output", type, why) ||
      !ReadQuantization(input, "input", false, 0, &in_q, why) ||
      !ReadQuantization(output, "output", false, 0, &out_q, why)) {
    return nullptr;
  }
  // The reference kernels copy values without a rescale: TFLite requires
  // the same scale and zero point on both sides.
  if (in_q.scales[0] != out_q.scales[0] || in_q.zero_points[0] != out_q.zero_points[0]) {
    *why = "input and output quantization differ (TFLite requires them equal)";
    return nullptr;
  }
  ConvPlan window;
  if (!ReadConvWindow(params->padding, params->stride_height, params->stride_width, 1, 1,
                      &window.window, why)) {
    return nullptr;
  }
  window.filter_height = params->filter_height;
  window.filter_width = params->filter_width;
  window.filter_input_depth = 1;
  if (window.filter_height < 1 || window.filter_width < 1) {
    *why = "window " + std::to_string(window.filter_height) + "x" +
           std::to_string(window.filter_width) + " is empty";
    return nullptr;
  }
  // AVERAGE_POOL_2D sums in int32, as TFLite's reference does: 2^23 taps of
  // at most 128 in magnitude (2^16 of at most 32768 for int16) is the most
  // that cannot overflow.
  const int64_t taps = static_cast<int64_t>(window.filter_height) * window.filter_width;
  if (average && taps > (int64_t{1} << (int16 ? 16 : 23))) {
    *why = "window " + std::to_string(window.filter_height) + "x" +
           std::to_string(window.filter_width) + " has " + std::to_string(taps) +
           " taps: their sum could overflow int32";
    return nullptr;
  }
  int32_t output_min = 0, output_max = 0;
  if (!QuantizedActivationRange(params->activation, out_q.scales[0], out_q.zero_points[0],
                                int16 ? -32768 : -128, int16 ? 32767 : 127, &output_min,
                                &output_max, why)) {
    return nullptr;
  }
  return std::make_unique<PoolOp>(average, int16, node.input_index(0), node.output_index(0),
                                  std::move(window), output_min, output_max);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseAveragePool2D(const NodeView& node, std::string* why) {
  return ParsePool(node, true, why);
}

std::unique_ptr<DelegatedOp> ParseMaxPool2D(const NodeView& node, std::string* why) {
  return ParsePool(node, false, why);
}

}  // namespace tfq
