#include "delegates/arena_plan.h"

#include <algorithm>
#include <numeric>

namespace tfq {

ArenaPlan PlanArena(const std::vector<ArenaRequest>& requests, size_t alignment) {
  auto aligned = [alignment](size_t bytes) {
    return (bytes + alignment - 1) / alignment * alignment;
  };
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Largest first (ties in request order): big buffers placed early leave
  // the gaps small ones fill.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].bytes > requests[b].bytes;
  });
  ArenaPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<size_t> placed;  // requests placed so far
  for (size_t index : order) {
    const ArenaRequest& request = requests[index];
    // The byte ranges of placed requests live at the same time, by start.
    std::vector<std::pair<size_t, size_t>> taken;
    for (size_t other : placed) {
      const ArenaRequest& o = requests[other];
      if (o.last < request.first || request.last < o.first) continue;
      taken.emplace_back(plan.offsets[other], plan.offsets[other] + aligned(o.bytes));
    }
    std::sort(taken.begin(), taken.end());
    size_t offset = 0;
    const size_t bytes = aligned(request.bytes);
    for (const auto& [begin, end] : taken) {
      if (offset + bytes <= begin) break;  // fits in the gap before this range
      offset = std::max(offset, end);
    }
    plan.offsets[index] = offset;
    plan.size = std::max(plan.size, offset + bytes);
    placed.push_back(index);
  }
  return plan;
}

}  // namespace tfq
