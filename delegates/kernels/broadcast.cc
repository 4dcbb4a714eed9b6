#include "delegates/kernels/broadcast.h"

#include <algorithm>

namespace tfq {
namespace kernels {

int64_t BroadcastShape::elements() const {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= dims[d];
  return total;
}

bool IsContiguous(const BroadcastShape& shape) {
  int64_t stride = 1;
  for (int d = shape.rank - 1; d >= 0; --d) {
    if (shape.dims[d] == 1) continue;  // any stride: never stepped along (Broadcast gives 0)
    if (shape.strides1[d] != stride || shape.strides2[d] != stride) return false;
    stride *= shape.dims[d];
  }
  return true;
}

bool Broadcast(const std::vector<int>& shape1, const std::vector<int>& shape2,
               BroadcastShape* shape) {
  const int rank = static_cast<int>(std::max(shape1.size(), shape2.size()));
  if (rank > kMaxBroadcastRank) return false;
  *shape = BroadcastShape();
  shape->rank = rank;
  int64_t stride1 = 1, stride2 = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int offset1 = d - (rank - static_cast<int>(shape1.size()));
    const int offset2 = d - (rank - static_cast<int>(shape2.size()));
    const int dim1 = offset1 >= 0 ? shape1[offset1] : 1;
    const int dim2 = offset2 >= 0 ? shape2[offset2] : 1;
    if (dim1 != dim2 && dim1 != 1 && dim2 != 1) return false;
    shape->dims[d] = dim1 == 1 ? dim2 : dim1;
    shape->strides1[d] = dim1 == 1 ? 0 : stride1;
    shape->strides2[d] = dim2 == 1 ? 0 : stride2;
    stride1 *= dim1;
    stride2 *= dim2;
  }
  return true;
}

}  // namespace kernels
}  // namespace tfq
