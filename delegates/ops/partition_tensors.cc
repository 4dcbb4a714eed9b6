#include "delegates/ops/delegated_op.h"

namespace tfq {

const Shape& PartitionTensors::shape(int tensor) const {
  static const Shape kUnknown;
  auto it = shapes_.find(tensor);
  return it == shapes_.end() ? kUnknown : it->second;
}

void PartitionTensors::AllocateOwned() {
  for (auto& [tensor, storage] : owned_) {
    const int64_t bytes = NumElements(shape(tensor)) *
                          static_cast<int64_t>(TypeSize(context_->tensors[tensor].type));
    storage.resize(static_cast<size_t>((bytes + 7) / 8));
  }
}

const std::vector<int32_t>* PartitionTensors::values(int tensor) {
  auto it = values_.find(tensor);
  if (it != values_.end()) return &it->second;
  const TfLiteTensor& constant = context_->tensors[tensor];
  std::string why;
  if (constant.type != kTfLiteInt32 || !CheckConstant(constant, "values", &why)) return nullptr;
  return &(values_[tensor] = ConstantValues<int32_t>(constant));
}

void* PartitionTensors::data(int tensor) {
  auto it = owned_.find(tensor);
  if (it != owned_.end()) return it->second.data();
  return context_->tensors[tensor].data.raw;
}

}  // namespace tfq
