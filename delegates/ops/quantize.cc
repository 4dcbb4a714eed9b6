// QUANTIZE and DEQUANTIZE, per-tensor quantization: float32 <-> int8 / int16,
// and requantization int8 -> int8 (a 256-entry table), int16 -> int16,
// int16 -> int8 and int8 -> int16 (where int16x8 parts of a model meet int8
// ones). TFLite glue.
#include "delegates/kernels/activations.h"
#include "delegates/kernels/quantize.h"
#include "delegates/ops/op_table.h"

namespace tfq {
namespace {

enum class Conversion {
  kFloatToInt8, kFloatToInt16, kInt8ToFloat, kInt16ToFloat,
  kInt8ToInt8, kInt16ToInt16, kInt16ToInt8, kInt8ToInt16,
};

class QuantizeOp : public ElementwiseOp {
 public:
  QuantizeOp(Conversion conversion, int input, int output, float scale, int32_t zero_point,
             kernels::Requantization requantization = {}, kernels::Int8Table table = {})
      : ElementwiseOp(input, output), conversion_(conversion), scale_(scale),
        zero_point_(zero_point), requantization_(requantization), table_(table) {}

  void Invoke(PartitionTensors* tensors) override {
    const void* in = tensors->data(input_);
    void* out = tensors->data(output_);
    const auto& r = requantization_;
    switch (conversion_) {
      case Conversion::kFloatToInt8:
        return kernels::QuantizeFloatToInt8(scale_, zero_point_, count_,
                                            static_cast<const float*>(in),
                                            static_cast<int8_t*>(out));
      case Conversion::kFloatToInt16:
        return kernels::QuantizeFloatToInt16(scale_, zero_point_, count_,
                                             static_cast<const float*>(in),
                                             static_cast<int16_t*>(out));
      case Conversion::kInt8ToFloat:
        return kernels::DequantizeInt8ToFloat(scale_, zero_point_, count_,
                                              static_cast<const int8_t*>(in),
                                              static_cast<float*>(out));
      case Conversion::kInt16ToFloat:
        return kernels::DequantizeInt16ToFloat(scale_, zero_point_, count_,
                                               static_cast<const int16_t*>(in),
                                               static_cast<float*>(out));
      case Conversion::kInt8ToInt8:
        return kernels::LookupInt8(table_, count_, static_cast<const int8_t*>(in),
                                   static_cast<int8_t*>(out));
      case Conversion::kInt16ToInt16:
        return kernels::RequantizeInt16ToInt16(r, count_, static_cast<const int16_t*>(in),
                                               static_cast<int16_t*>(out));
      case Conversion::kInt16ToInt8:
        return kernels::RequantizeInt16ToInt8(r, count_, static_cast<const int16_t*>(in),
                                              static_cast<int8_t*>(out));
      case Conversion::kInt8ToInt16:
        return kernels::RequantizeInt8ToInt16(r, count_, static_cast<const int8_t*>(in),
                                              static_cast<int16_t*>(out));
    }
  }

 private:
  Conversion conversion_;
  float scale_;          // float conversions: the quantized side's scale
  int32_t zero_point_;   // and zero point
  kernels::Requantization requantization_;  // int16 requantizations
  kernels::Int8Table table_;                // int8 -> int8
};

bool IsQuantizedType(TfLiteType type) { return type == kTfLiteInt8 || type == kTfLiteInt16; }

// Integer -> integer: TFLite's Requantize with QuantizeMultiplier(s_in / s_out).
std::unique_ptr<DelegatedOp> ParseRequantize(const NodeView& node,
                                             const TensorQuantization& in_q,
                                             const TensorQuantization& out_q, std::string* why) {
  const TfLiteType in_type = node.input(0)->type, out_type = node.output(0)->type;
  kernels::Requantization r{in_q.zero_points[0], out_q.zero_points[0],
                            kernels::QuantizeMultiplier(static_cast<double>(in_q.scales[0]) /
                                                        static_cast<double>(out_q.scales[0]))};
  // |q - zp| < 2^16 (int16) or 2^8 (int8) must shift left within int32.
  if (r.multiplier.shift > (in_type == kTfLiteInt16 ? 15 : 23)) {
    *why = "input / output scale ratio is too large";
    return nullptr;
  }
  const int input = node.input_index(0), output = node.output_index(0);
  if (in_type == kTfLiteInt8 && out_type == kTfLiteInt8) {
    kernels::RescaleParams params{r.input_zero_point, r.output_zero_point, r.multiplier, -128,
                                  127};
    return std::make_unique<QuantizeOp>(
        Conversion::kInt8ToInt8, input, output, 0.0f, 0, r,
        kernels::TabulateInt8([&](int32_t q) { return kernels::RescaleValue(q, params); }));
  }
  const Conversion conversion = in_type == kTfLiteInt8    ? Conversion::kInt8ToInt16
                                : out_type == kTfLiteInt8 ? Conversion::kInt16ToInt8
                                                          : Conversion::kInt16ToInt16;
  return std::make_unique<QuantizeOp>(conversion, input, output, 0.0f, 0, r);
}

}  // namespace

std::unique_ptr<DelegatedOp> ParseQuantize(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why)) return nullptr;
  const TfLiteTensor& input = *node.input(0);
  const TfLiteTensor& output = *node.output(0);
  TensorQuantization out_q;
  if (!IsQuantizedType(output.type)) {
    *why = std::string("output is ") + TypeName(output.type) + ", expected int8 or int16";
    return nullptr;
  }
  if (!ReadQuantization(output, "output", false, 0, &out_q, why)) return nullptr;
  if (input.type == kTfLiteFloat32) {
    return std::make_unique<QuantizeOp>(
        output.type == kTfLiteInt8 ? Conversion::kFloatToInt8 : Conversion::kFloatToInt16,
        node.input_index(0), node.output_index(0), out_q.scales[0], out_q.zero_points[0]);
  }
  TensorQuantization in_q;
  if (!IsQuantizedType(input.type)) {
    *why = std::string("input is ") + TypeName(input.type) +
           " (QUANTIZE takes float32, int8 or int16 input here)";
    return nullptr;
  }
  if (!ReadQuantization(input, "input", false, 0, &in_q, why)) return nullptr;
  return ParseRequantize(node, in_q, out_q, why);
}

std::unique_ptr<DelegatedOp> ParseDequantize(const NodeView& node, std::string* why) {
  if (!node.CheckArity(1, 1, 1, why)) return nullptr;
  const TfLiteTensor& input = *node.input(0);
  TensorQuantization in_q;
  if (!IsQuantizedType(input.type)) {
    *why = std::string("input is ") + TypeName(input.type) + ", expected int8 or int16";
    return nullptr;
  }
  if (!CheckType(*node.output(0), "output", kTfLiteFloat32, why) ||
      !ReadQuantization(input, "input", false, 0, &in_q, why)) {
    return nullptr;
  }
  return std::make_unique<QuantizeOp>(
      input.type == kTfLiteInt8 ? Conversion::kInt8ToFloat : Conversion::kInt16ToFloat,
      node.input_index(0), node.output_index(0), in_q.scales[0], in_q.zero_points[0]);
}

}  // namespace tfq
