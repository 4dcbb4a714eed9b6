// Numpy-style broadcasting of two operands, as TFLite's slow broadcast
// kernels do it (shapes right-aligned, a dimension of 1 stretches), up to
// rank 6. Arrays only.
#ifndef TFQ_DELEGATES_KERNELS_BROADCAST_H_
#define TFQ_DELEGATES_KERNELS_BROADCAST_H_

#include <cstdint>
#include <vector>

namespace tfq {
namespace kernels {

constexpr int kMaxBroadcastRank = 6;

struct BroadcastShape {
  int rank = 0;
  int dims[kMaxBroadcastRank] = {};          // the output's shape
  int64_t strides1[kMaxBroadcastRank] = {};  // 0 along stretched dimensions
  int64_t strides2[kMaxBroadcastRank] = {};
  int64_t elements() const;
};

// True when neither operand broadcasts: both are laid out as the output.
bool IsContiguous(const BroadcastShape& shape);

// False when a dimension pair is neither equal nor has a 1, or rank > 6.
bool Broadcast(const std::vector<int>& shape1, const std::vector<int>& shape2,
               BroadcastShape* shape);

// Calls `visit(output_index, index1, index2)` for every output element, in order.
template <typename Visit>
void ForEachBroadcastElement(const BroadcastShape& shape, Visit visit) {
  int counter[kMaxBroadcastRank] = {};
  int64_t index1 = 0, index2 = 0;
  const int64_t total = shape.elements();
  for (int64_t out = 0; out < total; ++out) {
    visit(out, index1, index2);
    for (int d = shape.rank - 1; d >= 0; --d) {  // odometer over the output shape
      index1 += shape.strides1[d];
      index2 += shape.strides2[d];
      if (++counter[d] < shape.dims[d]) break;
      index1 -= shape.strides1[d] * shape.dims[d];
      index2 -= shape.strides2[d] * shape.dims[d];
      counter[d] = 0;
    }
  }
}

}  // namespace kernels
}  // namespace tfq

#endif  // TFQ_DELEGATES_KERNELS_BROADCAST_H_
