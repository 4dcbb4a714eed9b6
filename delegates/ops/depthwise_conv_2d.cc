// DEPTHWISE_CONV_2D: TFLite glue. int8 input/filter/output with an int32
// bias, and int16x8 (int16 input/output, int8 filter, int64 or int32 bias).
#include "delegates/kernels/conv.h"
#include "delegates/kernels/depthwise_avx512.h"
#include "delegates/kernels/depthwise_neon.h"
#include "delegates/kernels/depthwise_vnni.h"
#include "delegates/kernels/dot.h"
#include "delegates/ops/conv_common.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class DepthwiseConv2DOp : public ConvOpBase {
 public:
  explicit DepthwiseConv2DOp(ConvPlan plan) : ConvOpBase("DEPTHWISE_CONV_2D", std::move(plan)) {
    if (plan_.int16) {
      WidenFilter();
      if (kernels::DepthwiseRowInt16Available()) {
        rescale16_ = kernels::MakeInt64Rescale(plan_.multipliers.data(), plan_.output_depth);
      }
    } else {  // empty without VNNI or for a filter beyond its limits
      vnni_ = kernels::PackDepthwiseVnni(plan_.filter_data, plan_.filter_height,
                                         plan_.filter_width, plan_.output_depth, plan_.bias_data(),
                                         plan_.input_zero_point, requantizer_.channels());
    }
  }

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    if (!PrepareGeometry(tensors, 1, why)) return false;
    // Like TFLite, the multiplier comes from the shapes, not the options.
    if (plan_.output_depth % geometry_.input_depth != 0) {
      *why = "DEPTHWISE_CONV_2D has " + std::to_string(plan_.output_depth) +
             " output channels for " + std::to_string(geometry_.input_depth) +
             " input channels";
      return false;
    }
    depth_multiplier_ = plan_.output_depth / geometry_.input_depth;
    use_vnni_ = depth_multiplier_ == 1 && kernels::DepthwiseVnniFits(geometry_, vnni_);
    if (!plan_.int16 && depth_multiplier_ == 1 && !use_vnni_) {
      PackInt8Fallback();
      if (!avx2_pairs_.empty()) {  // the row kernel's taps in padding read a whole row
        avx2_pairs_.FitZeroPointRow(avx2_pairs_.RowBytes(
            geometry_.output_width, static_cast<int64_t>(geometry_.stride_width) * plan_.output_depth));
      }
    }
    acc_stride_ = PerThreadStride(static_cast<size_t>(plan_.output_depth), sizeof(int32_t));
    acc_.resize(static_cast<size_t>(tensors->pool().num_threads()) * acc_stride_);
    return true;
  }

  std::string kernel_path() const override {
    if (plan_.int16) {
      if (depth_multiplier_ != 1 ||
          plan_.filter_height * plan_.filter_width > kernels::kMaxDepthwiseInt16Taps) {
        return "reference";
      }
      return rescale16_.reduced.empty() ? "portable" : "avx512";
    }
    if (depth_multiplier_ != 1) return "reference";
    if (use_vnni_) return "avx512_vnni";
    if (filter16_.empty()) return "portable";
    if (kernels::DepthwiseNeonAvailable()) return "neon";
    return use_avx2_ ? "avx2" : "avx512";
  }
  int64_t macs() const override {
    return static_cast<int64_t>(geometry_.batches) * geometry_.output_height *
           geometry_.output_width * plan_.output_depth * plan_.filter_height *
           plan_.filter_width;
  }

  void Invoke(PartitionTensors* tensors) override {
    if (plan_.int16) {  // output rows split across threads
      const int64_t rows = static_cast<int64_t>(geometry_.batches) * geometry_.output_height;
      const bool optimized = depth_multiplier_ == 1 &&
                             plan_.filter_height * plan_.filter_width <=
                                 kernels::kMaxDepthwiseInt16Taps;
      tensors->pool().ParallelFor(rows, 1, [&](int thread, int64_t begin, int64_t end) {
        if (optimized) {
          kernels::DepthwiseConv2DInt16Optimized(
              geometry_, quantization(), tensors->data_as<int16_t>(plan_.input),
              filter16_.data(), plan_.bias64_data(),
              rescale16_.reduced.empty() ? nullptr : &rescale16_,
              acc_.data() + thread * acc_stride_, tensors->data_as<int16_t>(plan_.output), begin,
              end);
          return;
        }
        kernels::DepthwiseConv2DInt16Reference(
            geometry_, depth_multiplier_, quantization(), tensors->data_as<int16_t>(plan_.input),
            plan_.filter_data, plan_.bias64_data(), tensors->data_as<int16_t>(plan_.output), begin,
            end);
      });
      return;
    }
    const int8_t* input = tensors->data_as<int8_t>(plan_.input);
    int8_t* output = tensors->data_as<int8_t>(plan_.output);
    // Output rows (over batch and height) split across threads.
    const int64_t rows = static_cast<int64_t>(geometry_.batches) * geometry_.output_height;
    if (use_vnni_) {
      // A small image (MobileNetV2's 7 x 7 rows) splits its channel blocks,
      // so two threads do not share 7 rows 4 : 3.
      const int blocks = static_cast<int>(vnni_.blocks.size());
      if (rows < 4 * tensors->pool().num_threads() && blocks > rows) {
        tensors->pool().ParallelFor(blocks, 1, [&](int, int64_t begin, int64_t end) {
          kernels::DepthwiseRowsVnni(geometry_, vnni_, input, output, 0, rows,
                                     static_cast<int>(begin), static_cast<int>(end));
        });
        return;
      }
      tensors->pool().ParallelFor(rows, 1, [&](int, int64_t begin, int64_t end) {
        kernels::DepthwiseRowsVnni(geometry_, vnni_, input, output, begin, end);
      });
    } else if (depth_multiplier_ == 1) {
      tensors->pool().ParallelFor(rows, 1, [&](int thread, int64_t begin, int64_t end) {
        kernels::DepthwiseConv2DInt8Optimized(
            geometry_, quantization(), requantizer_, input, plan_.filter_data,
            filter16_.empty() ? nullptr : filter16_.data(), plan_.bias_data(),
            acc_.data() + thread * acc_stride_, output, begin, end,
            use_avx2_ ? &avx2_blocks_ : nullptr, blocks_.empty() ? nullptr : blocks_.data(),
            &avx2_pairs_);
      });
    } else {
      kernels::DepthwiseConv2DInt8Reference(geometry_, depth_multiplier_, quantization(), input,
                                            plan_.filter_data, plan_.bias_data(), output);
    }
  }

 private:
  // The filter widened once to int16, for the kernels that multiply-add
  // int16 (and the int8 AVX-512 one).
  void WidenFilter() {
    const size_t taps =
        static_cast<size_t>(plan_.filter_height) * plan_.filter_width * plan_.output_depth;
    filter16_.assign(plan_.filter_data, plan_.filter_data + taps);
  }

  // The int8 kernels' constants other than VNNI's: packed only once Prepare
  // finds the VNNI kernel does not serve the geometry (or the CPU lacks it).
  void PackInt8Fallback() {
    if (packed_fallback_) return;
    packed_fallback_ = true;
    const bool avx2 = !kernels::DepthwiseTapsAvailable() && kernels::PackedDotAvx2Available();
    if (avx2) {
      const int taps = plan_.filter_height * plan_.filter_width;
      if (taps <= kernels::kMaxDepthwiseTaps) {  // the zero point folded out, taps in pairs
        avx2_pairs_ = kernels::PackDepthwiseAvx2(plan_.filter_data, taps, plan_.output_depth,
                                                 plan_.bias_data(), plan_.input_zero_point,
                                                 requantizer_.channels());
      }
      if (avx2_pairs_.empty()) {  // a rescale outside its epilogue's range
        avx2_blocks_ = kernels::MakeChannelBlocksAvx2(requantizer_.channels(),
                                                      plan_.bias_data(), plan_.output_depth);
      }
      use_avx2_ = true;
    }
    if (kernels::DepthwiseTapsAvailable() || avx2 || kernels::DepthwiseNeonAvailable()) {
      WidenFilter();
    }
    if (kernels::DepthwiseTapsAvailable()) {
      blocks_ = kernels::MakeChannelBlocks(requantizer_.channels(), plan_.bias_data(),
                                           plan_.output_depth);
    }
  }

  int depth_multiplier_ = 1;
  size_t acc_stride_ = 0;
  std::vector<int32_t> acc_;  // one output pixel's channels, per thread
  std::vector<int16_t> filter16_;  // the filter widened to int16 (WidenFilter)
  kernels::PackedDepthwiseVnni vnni_;  // int8 on AVX-512 VNNI: whole rows
  bool use_vnni_ = false;  // and it fits the geometry
  bool packed_fallback_ = false;  // PackInt8Fallback ran
  kernels::Int64Rescale rescale16_;  // int16x8 on AVX-512: the row kernel's rescale
  bool use_avx2_ = false;  // int8 on AVX2 without AVX-512: DepthwisePixelAvx2
  kernels::PackedDepthwiseAvx2 avx2_pairs_;  // its tap-pair kernel, when the rescale allows
  std::vector<kernels::ChannelBlockAvx2> avx2_blocks_;  // else its epilogue's constants
  std::vector<kernels::ChannelBlockConstants> blocks_;  // AVX-512: the epilogue's constants
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseDepthwiseConv2D(const NodeView& node, std::string* why) {
  const TfLiteTensor* filter = CheckConvNode(node, why);
  if (filter == nullptr) return nullptr;
  const auto* params = static_cast<const TfLiteDepthwiseConvParams*>(node.node().builtin_data);
  ConvPlan plan;
  if (!ReadConvWindow(params->padding, params->stride_height, params->stride_width,
                      params->dilation_height_factor, params->dilation_width_factor,
                      &plan.window, why)) {
    return nullptr;
  }
  if (filter->dims->data[0] != 1) {
    *why = "filter shape " + ShapeToString(ShapeOf(filter->dims)) + " is not [1, h, w, c]";
    return nullptr;
  }
  plan.filter_height = filter->dims->data[1];
  plan.filter_width = filter->dims->data[2];
  plan.output_depth = filter->dims->data[3];
  plan.filter_input_depth = 1;  // each output channel reads one input channel
  if (plan.output_depth <= 0 || plan.filter_height <= 0 || plan.filter_width <= 0) {
    *why = "filter has an empty shape";
    return nullptr;
  }
  if (!ParseConvTensors(node, "DEPTHWISE_CONV_2D", 3, params->activation, &plan, why)) {
    return nullptr;
  }
  return std::make_unique<DepthwiseConv2DOp>(std::move(plan));
}

}  // namespace tfq
