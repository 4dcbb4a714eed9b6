// Output shape of a two-input elementwise op (ADD, SUB, MUL) from its
// inputs' current shapes, numpy-style.
#ifndef TFQ_DELEGATES_OPS_BROADCAST_SHAPES_H_
#define TFQ_DELEGATES_OPS_BROADCAST_SHAPES_H_

#include <string>

#include "delegates/kernels/broadcast.h"
#include "delegates/ops/delegated_op.h"

namespace tfq {

// Sets `shape` and the output's shape, or returns false with `why` naming `op`.
inline bool PrepareBroadcast(PartitionTensors* tensors, const char* op, int input1, int input2,
                             int output, kernels::BroadcastShape* shape, std::string* why) {
  const Shape& shape1 = tensors->shape(input1);
  const Shape& shape2 = tensors->shape(input2);
  if (!kernels::Broadcast(shape1, shape2, shape)) {
    *why = std::string(op) + " input shapes " + ShapeToString(shape1) + " and " +
           ShapeToString(shape2) + " do not broadcast (rank <= 6)";
    return false;
  }
  tensors->set_shape(output, Shape(shape->dims, shape->dims + shape->rank));
  return true;
}

}  // namespace tfq

#endif  // TFQ_DELEGATES_OPS_BROADCAST_SHAPES_H_
