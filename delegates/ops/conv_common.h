// What CONV_2D and DEPTHWISE_CONV_2D share in TFLite: geometry (SAME/VALID
// padding as TFLite computes it), weight and bias checks, per-channel
// multipliers and the bounds that keep the int32 arithmetic defined.
#ifndef TFQ_DELEGATES_OPS_CONV_COMMON_H_
#define TFQ_DELEGATES_OPS_CONV_COMMON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "delegates/kernels/conv.h"
#include "delegates/ops/delegated_op.h"
#include "delegates/ops/node_view.h"

namespace tfq {

struct ConvWindow {
  int padding = 0;  // TfLitePadding
  int stride_height = 1, stride_width = 1;
  int dilation_height = 1, dilation_width = 1;
};

// Everything the check of a convolution node established.
struct ConvPlan {
  int input = -1, filter = -1, bias = -1, output = -1;
  ConvWindow window;
  int filter_height = 0, filter_width = 0;
  int filter_input_depth = 0;  // input channels each output channel reads
  int output_depth = 0;
  int32_t input_zero_point = 0, output_zero_point = 0;
  int32_t output_min = -128, output_max = 127;
  std::vector<kernels::QuantizedMultiplier> multipliers;  // per output channel
  const int8_t* filter_data = nullptr;
  std::vector<int32_t> bias_values;  // copied from the model (ConstantValues)
  const int32_t* bias_data() const { return bias_values.empty() ? nullptr : bias_values.data(); }
  bool int16 = false;             // int16x8: int16 activations (zero point 0)
  std::vector<int64_t> bias64;    // int16x8: the bias as int64
  const int64_t* bias64_data() const { return bias64.empty() ? nullptr : bias64.data(); }
};

// TFLite's ComputeOutSize and ComputePaddingWithOffset (padding is a
// TfLitePadding): SAME pads the odd pixel at the end; VALID never pads.
// The largest input side, stride, dilation or dilated window the convolution
// and pooling ops take: larger ones (only hostile models) are declined.
constexpr int kMaxConvExtent = 1 << 24;

int64_t EffectiveFilterSize(int filter_size, int dilation);
int64_t OutputSize(int padding, int input_size, int filter_size, int stride, int dilation);
int64_t PaddingBefore(int input_size, int filter_size, int stride, int dilation,
                      int64_t output_size);

// The checks both convolutions start with: 2 or 3 inputs and 1 output,
// builtin options present, int8 (or int16x8: int16) input/output, an int8
// constant rank-4 filter. Returns the filter, or nullptr with `why`.
const TfLiteTensor* CheckConvNode(const NodeView& node, std::string* why);

// Reads an [output_depth, height, width, input_depth] filter's shape into
// `plan` (CONV_2D and TRANSPOSE_CONV); false if any dimension is empty.
bool ReadOhwiFilterShape(const TfLiteTensor& filter, ConvPlan* plan, std::string* why);

// Checks the window (strides and dilations >= 1, SAME or VALID) and reads it.
bool ReadConvWindow(int padding, int stride_height, int stride_width, int dilation_height,
                    int dilation_width, ConvWindow* window, std::string* why);

// Checks a convolution node's tensors (int8 input/filter/output, constant
// rank-4 filter quantized per channel along `channel_dimension` or per
// tensor, optional constant int32 bias) and fills `plan`; the caller has set
// plan->filter_height/width, filter_input_depth and output_depth from the
// filter's shape.
// `slots`: the node's input positions of input, filter and bias
// (TRANSPOSE_CONV orders them differently).
struct ConvSlots {
  int input = 0, filter = 1, bias = 2;
};
bool ParseConvTensors(const NodeView& node, const char* op, int channel_dimension,
                      int activation, ConvPlan* plan, std::string* why,
                      ConvSlots slots = ConvSlots());

// The geometry for an NHWC input shape, or false (with `why`) when the input
// is not rank 4, has the wrong depth for the filter, or gives an empty output.
bool ConvGeometryFor(const ConvPlan& plan, const Shape& input, int input_depth_divisor,
                     kernels::ConvGeometry* geometry, std::string* why);

// The part of a convolution op that does not depend on its kind: tensors,
// quantization, and the geometry + output shape for the current input.
class ConvOpBase : public DelegatedOp {
 public:
  ConvOpBase(const char* op_name, ConvPlan plan)
      : op_name_(op_name), plan_(std::move(plan)),
        requantizer_(plan_.multipliers, plan_.output_zero_point, plan_.output_min,
                     plan_.output_max) {}
  std::vector<int> input_tensors() const override { return {plan_.input}; }
  std::vector<int> output_tensors() const override { return {plan_.output}; }

 protected:
  // Sets geometry_ and the output shape; `why` names the op on failure.
  bool PrepareGeometry(PartitionTensors* tensors, int input_depth_divisor, std::string* why);
  kernels::ConvQuantization quantization() const {
    return {plan_.input_zero_point, plan_.output_zero_point, plan_.output_min,
            plan_.output_max, plan_.multipliers.data()};
  }

  const char* op_name_;
  ConvPlan plan_;
  kernels::RowRequantizer requantizer_;  // plan_'s rescale, vectorized
  kernels::ConvGeometry geometry_{};
};

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPS_CONV_COMMON_H_
