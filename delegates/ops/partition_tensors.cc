#include "delegates/ops/delegated_op.h"

#include <algorithm>
#include <climits>

#include "delegates/arena_plan.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace tfq {

const Shape& PartitionTensors::shape(int tensor) const {
  static const Shape kUnknown;
  auto it = shapes_.find(tensor);
  return it == shapes_.end() ? kUnknown : it->second;
}

void PartitionTensors::AllocateOwned() {
  constexpr size_t kAlignment = sizeof(CacheLine);
  std::vector<size_t> sizes;
  std::vector<ArenaRequest> requests;
  for (const auto& [tensor, owned] : owned_) {
    const int64_t bytes = NumElements(shape(tensor)) *
                          static_cast<int64_t>(TypeSize(context_->tensors[tensor].type));
    sizes.push_back(static_cast<size_t>(std::max<int64_t>(bytes, 0)));
#if defined(__SANITIZE_ADDRESS__)
    // Under ASan no two tensors share bytes and each is followed by a
    // poisoned line, so a kernel's overrun is still reported.
    requests.push_back({sizes.back() + kAlignment, 0, INT_MAX});
#else
    requests.push_back({sizes.back(), owned.first, owned.last});
#endif
  }
  const ArenaPlan plan = PlanArena(requests, kAlignment);
  arena_.assign(plan.size / kAlignment + 1, CacheLine{});
  owned_offsets_.assign(context_->tensors_size, -1);
  size_t i = 0;
  for (const auto& [tensor, owned] : owned_) {
    owned_offsets_[static_cast<size_t>(tensor)] = static_cast<int64_t>(plan.offsets[i]);
#if defined(__SANITIZE_ADDRESS__)
    ASAN_POISON_MEMORY_REGION(arena_.data()->bytes + plan.offsets[i] + sizes[i],
                              requests[i].bytes - sizes[i]);
#endif
    ++i;
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
  if (static_cast<size_t>(tensor) < owned_offsets_.size() && owned_offsets_[tensor] >= 0) {
    return arena_.data()->bytes + owned_offsets_[tensor];
  }
  return context_->tensors[tensor].data.raw;
}

}  // namespace tfq
