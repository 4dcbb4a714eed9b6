#include "delegates/ops/op_table.h"

namespace tfq {

const std::vector<OpSupport>& SupportedOps() {
  static const std::vector<OpSupport> kOps = {
      {"ADD", kBuiltinAdd, &ParseAdd},
      {"AVERAGE_POOL_2D", kBuiltinAveragePool2D, &ParseAveragePool2D},
      {"CONV_2D", kBuiltinConv2D, &ParseConv2D},
      {"DEPTHWISE_CONV_2D", kBuiltinDepthwiseConv2D, &ParseDepthwiseConv2D},
      {"FULLY_CONNECTED", kBuiltinFullyConnected, &ParseFullyConnected},
      {"MAX_POOL_2D", kBuiltinMaxPool2D, &ParseMaxPool2D},
      {"MEAN", kBuiltinMean, &ParseMean},
      {"PAD", kBuiltinPad, &ParsePad},
      {"PADV2", kBuiltinPadV2, &ParsePadV2},
      {"RESHAPE", kBuiltinReshape, &ParseReshape},
      {"SQUEEZE", kBuiltinSqueeze, &ParseSqueeze},
      {"SUB", kBuiltinSub, &ParseSub},
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
