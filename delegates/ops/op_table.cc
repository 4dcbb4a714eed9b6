#include "delegates/ops/op_table.h"

namespace tfq {

const std::vector<OpSupport>& SupportedOps() {
  static const std::vector<OpSupport> kOps = {
      {"ADD", kBuiltinAdd, &ParseAdd},
      {"AVERAGE_POOL_2D", kBuiltinAveragePool2D, &ParseAveragePool2D},
      {"CONCATENATION", kBuiltinConcatenation, &ParseConcatenation},
      {"CONV_2D", kBuiltinConv2D, &ParseConv2D},
      {"DEPTHWISE_CONV_2D", kBuiltinDepthwiseConv2D, &ParseDepthwiseConv2D},
      {"DEQUANTIZE", kBuiltinDequantize, &ParseDequantize},
      {"EXPAND_DIMS", kBuiltinExpandDims, &ParseExpandDims},
      {"FULLY_CONNECTED", kBuiltinFullyConnected, &ParseFullyConnected},
      {"HARD_SWISH", kBuiltinHardSwish, &ParseHardSwish},
      {"LEAKY_RELU", kBuiltinLeakyRelu, &ParseLeakyRelu},
      {"LOGISTIC", kBuiltinLogistic, &ParseLogistic},
      {"MAX_POOL_2D", kBuiltinMaxPool2D, &ParseMaxPool2D},
      {"MEAN", kBuiltinMean, &ParseMean},
      {"MUL", kBuiltinMul, &ParseMul},
      {"PACK", kBuiltinPack, &ParsePack},
      {"PAD", kBuiltinPad, &ParsePad},
      {"PADV2", kBuiltinPadV2, &ParsePadV2},
      {"QUANTIZE", kBuiltinQuantize, &ParseQuantize},
      {"RELU", kBuiltinRelu, &ParseRelu},
      {"RELU6", kBuiltinRelu6, &ParseRelu6},
      {"RELU_N1_TO_1", kBuiltinReluN1To1, &ParseReluN1To1},
      {"RESHAPE", kBuiltinReshape, &ParseReshape},
      {"RESIZE_BILINEAR", kBuiltinResizeBilinear, &ParseResizeBilinear},
      {"RESIZE_NEAREST_NEIGHBOR", kBuiltinResizeNearestNeighbor, &ParseResizeNearestNeighbor},
      {"SHAPE", kBuiltinShape, &ParseShape},
      {"SOFTMAX", kBuiltinSoftmax, &ParseSoftmax},
      {"SQUEEZE", kBuiltinSqueeze, &ParseSqueeze},
      {"STRIDED_SLICE", kBuiltinStridedSlice, &ParseStridedSlice},
      {"SUB", kBuiltinSub, &ParseSub},
      {"TANH", kBuiltinTanh, &ParseTanh},
      {"TRANSPOSE_CONV", kBuiltinTransposeConv, &ParseTransposeConv},
  };
  return kOps;
}

const OpSupport* FindOp(int32_t builtin_code) {
  for (const OpSupport& op : SupportedOps()) {
    if (op.builtin_code == builtin_code) return &op;
  }
  return nullptr;
}

std::vector<std::string> SupportedOpNames() {
  std::vector<std::string> names;
  for (const OpSupport& op : SupportedOps()) names.push_back(op.name);
  return names;
}

}  // namespace tfq
