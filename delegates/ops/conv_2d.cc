// CONV_2D: TFLite glue. int8 input/filter/output with an int32 bias, and
// int16x8 (int16 input/output, int8 filter, int64 or int32 bias).
#include "delegates/cpu_features.h"
#include "delegates/kernels/conv.h"
#include "delegates/kernels/dot.h"
#include "delegates/kernels/dot_amx.h"
#include "delegates/kernels/dot_int16.h"
#include "delegates/ops/conv_common.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

class Conv2DOp : public ConvOpBase {
 public:
  explicit Conv2DOp(ConvPlan plan) : ConvOpBase("CONV_2D", std::move(plan)) {
    const int filter_size = plan_.filter_height * plan_.filter_width * plan_.filter_input_depth;
    const bool vnni_packed =
        !plan_.int16 && !kernels::AmxAvailable() && kernels::PackedDotAvailable();
    // The packed kernel's rows carry an offset its offsets take back.
    offsets_ = kernels::ConvOffsets(
        plan_.filter_data, plan_.output_depth, filter_size,
        plan_.input_zero_point + (vnni_packed ? kernels::PackedDotRowOffset() : 0),
        plan_.bias_data());
    if (plan_.int16) {
      packed16_ = kernels::PackFiltersInt16(plan_.filter_data, plan_.output_depth, filter_size);
    } else if (kernels::AmxAvailable()) {
      packed_amx_ = kernels::PackFiltersAmx(plan_.filter_data, plan_.output_depth, filter_size);
    } else if (vnni_packed) {
      packed_ = kernels::PackFiltersForOffsetRows(plan_.filter_data, plan_.output_depth,
                                                  filter_size);
      blocks_ = kernels::MakeChannelBlocks(requantizer_.channels(), offsets_.data(),
                                           plan_.output_depth);
    } else if (kernels::PackedDotAvx2Available()) {
      packed_avx2_ = kernels::PackFiltersAvx2(plan_.filter_data, plan_.output_depth,
                                              filter_size, requantizer_.channels(),
                                              offsets_.data());
    }
  }

  bool Prepare(PartitionTensors* tensors, std::string* why) override {
    if (!PrepareGeometry(tensors, plan_.filter_input_depth, why)) return false;
    const int groups = geometry_.input_depth / plan_.filter_input_depth;
    if (plan_.output_depth % groups != 0) {
      *why = "CONV_2D has " + std::to_string(plan_.output_depth) +
             " output channels for " + std::to_string(groups) + " groups";
      return false;
    }
    grouped_ = groups > 1;
    const size_t activation_size = plan_.int16 ? sizeof(int16_t) : sizeof(int8_t);
    const size_t acc_element_size = plan_.int16 ? sizeof(int64_t) : sizeof(int32_t);
    // Rows of one block of output pixels (int16x8 blocks are 4, int8 ones
    // kConvPixelBlock, or kAmxMaxRows on AMX).
    const size_t block = plan_.int16                ? 4
                         : !packed_amx_.empty() ? kernels::kAmxMaxRows
                                                : kernels::kConvPixelBlock;
    const int filter_size =
        plan_.filter_height * plan_.filter_width * plan_.filter_input_depth;
    // AMX rows are padded to whole 64-byte tile rows.
    patch_size_ = PerThreadStride(
        block * (packed_amx_.empty() ? filter_size : kernels::AmxRowStride(filter_size)),
        activation_size);
    // int32 sums leave the packed int8 kernels already rescaled: only the
    // AVX2 / portable path needs a block of them.
    const bool int8_packed = !packed_.empty() || !packed_amx_.empty();
    acc_size_ = plan_.int16 || !int8_packed
                    ? PerThreadStride(block * plan_.output_depth, acc_element_size)
                    : 0;
    const size_t threads = static_cast<size_t>(tensors->pool().num_threads());
    if (plan_.int16) {
      patch16_.resize(threads * patch_size_);
      acc64_.resize(threads * acc_size_);
    } else {
      patch_.resize(threads * patch_size_);
      acc_.resize(threads * acc_size_);
      wide_size_ = packed_avx2_.empty()
                       ? 0
                       : PerThreadStride(static_cast<size_t>(kernels::kPackedAvx2MaxRows) *
                                             kernels::Avx2RowStride(filter_size),
                                         sizeof(int16_t));
      wide_rows_.resize(threads * wide_size_);
    }
    return true;
  }

  std::string kernel_path() const override {
    if (grouped_) return "reference";
    if (plan_.int16) return kernels::PackedDotInt16Path();
    if (!packed_amx_.empty()) return "amx";
    if (!packed_.empty()) return kernels::PackedDotKernel();
    if (!packed_avx2_.empty()) return "avx2";
    return "portable";
  }
  int64_t macs() const override {
    return static_cast<int64_t>(geometry_.batches) * geometry_.output_height *
           geometry_.output_width * geometry_.output_depth * plan_.filter_height *
           plan_.filter_width * plan_.filter_input_depth;
  }

  void Invoke(PartitionTensors* tensors) override {
    if (plan_.int16) {
      InvokeInt16(tensors);
      return;
    }
    const int8_t* input = tensors->data_as<int8_t>(plan_.input);
    int8_t* output = tensors->data_as<int8_t>(plan_.output);
    if (grouped_) {
      kernels::Conv2DInt8Reference(geometry_, plan_.filter_input_depth, quantization(), input,
                                   plan_.filter_data, plan_.bias_data(), output);
    } else {
      // One thread's share: output pixels and (on AMX) channels.
      auto run = [&](int thread, int64_t pixel_begin, int64_t pixel_end, int channel_begin,
                     int channel_end) {
        kernels::Conv2DInt8Optimized(geometry_, quantization(), requantizer_, input,
                                     plan_.filter_data, packed_, offsets_.data(),
                                     patch_.data() + thread * patch_size_,
                                     acc_.data() + thread * acc_size_, output, pixel_begin,
                                     pixel_end, &packed_amx_, channel_begin, channel_end,
                                     blocks_.empty() ? nullptr : blocks_.data(), &packed_avx2_,
                                     wide_rows_.data() + thread * wide_size_);
      };
      const int64_t pixels =
          static_cast<int64_t>(geometry_.batches) * geometry_.output_height * geometry_.output_width;
      const int threads = tensors->pool().num_threads();
      const int64_t amx_blocks = (pixels + kernels::kAmxMaxRows - 1) / kernels::kAmxMaxRows;
      const int channel_pairs = (plan_.output_depth + 31) / 32;
      if (!packed_amx_.empty() && threads > 1 && amx_blocks < 4 * threads &&
          channel_pairs >= 2 * threads) {
        // A small image (ResNet50's last stages): split the channels, so each
        // thread streams its part of the weights instead of all of them.
        tensors->pool().ParallelFor(channel_pairs, 1, [&](int thread, int64_t begin, int64_t end) {
          run(thread, 0, -1, static_cast<int>(begin * 32), static_cast<int>(end * 32));
        });
        return;
      }
      // Output pixels split across threads in whole blocks.
      tensors->pool().ParallelFor(pixels, kernels::kConvPixelBlock,
                                  [&](int thread, int64_t begin, int64_t end) {
        run(thread, begin, end, 0, -1);
      });
    }
  }

 private:
  void InvokeInt16(PartitionTensors* tensors) {
    const int16_t* input = tensors->data_as<int16_t>(plan_.input);
    int16_t* output = tensors->data_as<int16_t>(plan_.output);
    if (grouped_) {  // output rows split across threads
      const int64_t rows = static_cast<int64_t>(geometry_.batches) * geometry_.output_height;
      tensors->pool().ParallelFor(rows, 1, [&](int, int64_t begin, int64_t end) {
        kernels::Conv2DInt16Reference(geometry_, plan_.filter_input_depth, quantization(), input,
                                      plan_.filter_data, plan_.bias64_data(), output, begin, end);
      });
      return;
    }
    // Output pixels split across threads in whole blocks of 4.
    const int64_t pixels =
        static_cast<int64_t>(geometry_.batches) * geometry_.output_height * geometry_.output_width;
    tensors->pool().ParallelFor(pixels, 4, [&](int thread, int64_t begin, int64_t end) {
      kernels::Conv2DInt16Optimized(geometry_, quantization(), input, packed16_,
                                    plan_.bias64_data(), patch16_.data() + thread * patch_size_,
                                    acc64_.data() + thread * acc_size_, output, begin, end);
    });
  }

  bool grouped_ = false;
  // bias - (input zero point + the packed rows' offset) * sum(filter), per channel
  std::vector<int32_t> offsets_;
  std::vector<int8_t> packed_;  // for the VNNI kernel, when the CPU has it
  std::vector<kernels::ChannelBlockConstants> blocks_;  // its epilogue's constants (x86)
  kernels::PackedFiltersAvx2 packed_avx2_;  // for the AVX2 kernel, on CPUs without VNNI
  size_t wide_size_ = 0;  // per-thread stride of:
  std::vector<int16_t> wide_rows_;  // the AVX2 kernel's rows widened to int16
  std::vector<int8_t> packed_amx_;  // for the AMX kernel, when the CPU has it (first choice)
  size_t patch_size_ = 0, acc_size_ = 0;  // per-thread strides of:
  std::vector<int8_t> patch_;  // im2col rows of a block of output pixels
  std::vector<int32_t> acc_;   // their channels (the AVX2 / portable path only)
  // int16x8: the filter widened and packed, int16 im2col rows, int64 sums.
  std::vector<int16_t> packed16_, patch16_;
  std::vector<int64_t> acc64_;
};

}  // namespace

std::unique_ptr<DelegatedOp> ParseConv2D(const NodeView& node, std::string* why) {
  const TfLiteTensor* filter = CheckConvNode(node, why);
  if (filter == nullptr) return nullptr;
  if (node.num_inputs() < 3 || node.input(2) == nullptr) {
    *why = "has no bias; TFLite's quantized CONV_2D requires one";
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
