// The ops the tfq delegate supports: one entry per builtin op.
//
// Each entry's `parse` is the op's single check (XNNPACK's VisitNode idea):
// the delegate calls it to decide whether to claim a node, and the partition
// kernel calls it again to build the op, so what is claimed can never drift
// from what is built.
#ifndef TFQ_DELEGATES_OPS_OP_TABLE_H_
#define TFQ_DELEGATES_OPS_OP_TABLE_H_

#include <memory>
#include <string>
#include <vector>

#include "delegates/ops/delegated_op.h"
#include "delegates/ops/node_view.h"

namespace tfq {

// Returns the op, or nullptr with `why` set when the node must stay on TFLite.
using ParseOpFn = std::unique_ptr<DelegatedOp> (*)(const NodeView& node,
                                                    std::string* why);

struct OpSupport {
  const char* name;      // schema BuiltinOperator name, used in options
  int32_t builtin_code;
  ParseOpFn parse;
};

const std::vector<OpSupport>& SupportedOps();
const OpSupport* FindOp(int32_t builtin_code);
std::vector<std::string> SupportedOpNames();

// Per-op parse functions (ops/<op>.cc).
std::unique_ptr<DelegatedOp> ParseAdd(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseSoftmax(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseTransposeConv(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseResizeBilinear(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseResizeNearestNeighbor(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseConcatenation(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseDequantize(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseHardSwish(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseLeakyRelu(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseLogistic(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseMul(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseQuantize(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseRelu(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseReluN1To1(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseRelu6(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseTanh(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseMaxPool2D(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseMean(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParsePad(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParsePadV2(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseReshape(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseSqueeze(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseExpandDims(const NodeView& node, std::string* why);
// Shape arithmetic (shape_arithmetic.cc).
std::unique_ptr<DelegatedOp> ParseShape(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseStridedSlice(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParsePack(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseSub(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseAveragePool2D(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseConv2D(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseDepthwiseConv2D(const NodeView& node, std::string* why);
std::unique_ptr<DelegatedOp> ParseFullyConnected(const NodeView& node, std::string* why);

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPS_OP_TABLE_H_
