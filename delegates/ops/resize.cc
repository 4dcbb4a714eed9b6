// RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR of int8 NHWC tensors to a
// constant size: TFLite glue. Like TFLite, the values are not rescaled.
#include "delegates/kernels/resize.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class ResizeOp : public DelegatedOp {
 public:
  ResizeOp(bool bilinear, int input, int output, int height, int width, TfLiteResizeParams params)
      : bilinear_(bilinear), input_(input), output_(output), height_(height), width_(width),
        params_(params) {}

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    const Shape& shape = tensors->shape(input_);
    if (shape.size() != 4 || NumElements(shape) == 0) {
      *why = std::string(bilinear_ ? "RESIZE_BILINEAR" : "RESIZE_NEAREST_NEIGHBOR") +
             " input shape " + ShapeToString(shape) + " is not a non-empty NHWC shape";
      return false;
    }
    geometry_ = {shape[0], shape[1], shape[2], shape[3], height_, width_,
                 params_.align_corners, params_.half_pixel_centers};
    tensors->set_shape(output_, {shape[0], height_, width_, shape[3]});
    return true;
  }

  void Invoke(PartitionTensors* tensors) override {
    const int8_t* input = tensors->data_as<int8_t>(input_);
    int8_t* output = tensors->data_as<int8_t>(output_);
    if (bilinear_) {
      kernels::ResizeBilinearInt8Reference(geometry_, input, output);
    } else {
      kernels::ResizeNearestInt8Reference(geometry_, input, output);
    }
  }

  std::vector<int> input_tensors() const override { return {input_}; }
  std::vector<int> output_tensors() const override { return {output_}; }

 private:
  bool bilinear_;
  int input_, output_, height_, width_;
  TfLiteResizeParams params_;
  kernels::ResizeGeometry geometry_{};
};

std::unique_ptr<DelegatedOp> ParseResize(const NodeView& node, bool bilinear, std::string* why) {
  if (!node.CheckArity(2, 2, 1, why)) return nullptr;
  const auto* params = static_cast<const TfLiteResizeParams*>(node.node().builtin_data);
  const TfLiteTensor* size = node.input(1);
  if (params == nullptr || node.input(0) == nullptr || size == nullptr) {
    *why = "has no builtin options or an omitted input";
    return nullptr;
  }
  if (!CheckType(*node.input(0), "input", kTfLiteInt8, why) ||
      !CheckType(*node.output(0), "output", kTfLiteInt8, why) ||
      !CheckType(*size, "size", kTfLiteInt32, why) || !CheckConstant(*size, "size", why) ||
      !CheckRank(*size, "size", 1, why)) {
    return nullptr;
  }
  const std::vector<int32_t> size_values = ConstantValues<int32_t>(*size);
  if (size->dims->data[0] != 2 || size_values.size() != 2 || size_values[0] < 1 ||
      size_values[1] < 1 || size_values[0] > (1 << 16) || size_values[1] > (1 << 16)) {
    *why = "size must be 2 values in [1, 65536]";
    return nullptr;
  }
  if (bilinear && params->align_corners && params->half_pixel_centers) {
    *why = "sets both align_corners and half_pixel_centers (TFLite refuses it)";
    return nullptr;
  }
  return std::make_unique<ResizeOp>(bilinear, node.input_index(0), node.output_index(0),
                                    size_values[0], size_values[1], *params);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseResizeBilinear(const NodeView& node, std::string* why) {
  return ParseResize(node, true, why);
}

std::unique_ptr<DelegatedOp> ParseResizeNearestNeighbor(const NodeView& node, std::string* why) {
  return ParseResize(node, false, why);
}

}  // namespace tfq
