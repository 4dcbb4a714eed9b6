// Offsets of a partition's own tensors in one buffer, tensors whose
// lifetimes do not overlap sharing bytes (as TFLite's arena planner does for
// the tensors it allocates). One buffer, at least the largest set live at
// once and (greedy placement leaves gaps) at most all of them end to end,
// instead of one per tensor: MobileNetV2's intermediates take 6.7 MB apart
// and a few MB shared, so an invoke touches fewer cold cache lines.
#ifndef TFQ_DELEGATES_ARENA_PLAN_H_
#define TFQ_DELEGATES_ARENA_PLAN_H_

#include <cstddef>
#include <vector>

namespace tfq {

// A buffer of `bytes`, live from op `first` to op `last` (inclusive: an
// op's output never shares bytes with its inputs).
struct ArenaRequest {
  size_t bytes = 0;
  int first = 0, last = 0;
};

struct ArenaPlan {
  std::vector<size_t> offsets;  // one per request, multiples of the alignment
  size_t size = 0;              // bytes the buffer needs
};

// Places the largest request first, each at the lowest aligned offset that
// no lifetime-overlapping request already placed covers. Deterministic.
ArenaPlan PlanArena(const std::vector<ArenaRequest>& requests, size_t alignment);

}  // namespace tfq

#endif  // TFQ_DELEGATES_ARENA_PLAN_H_
