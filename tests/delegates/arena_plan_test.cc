// PlanArena: on many seeded sets of lifetimes and sizes, no two requests
// live at the same time share a byte, offsets are aligned, the buffer
// holds every request and is no larger than all of them end to end.
#include "delegates/arena_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace tfq {
namespace {

size_t Aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

TEST(ArenaPlan, LiveRequestsNeverShareBytes) {
  for (unsigned seed = 0; seed < 200; ++seed) {
    std::mt19937 random(seed);
    const int ops = 1 + static_cast<int>(random() % 60);
    const int count = static_cast<int>(random() % 80);
    std::vector<ArenaRequest> requests;
    for (int i = 0; i < count; ++i) {
      ArenaRequest request;
      // Sizes from 0 bytes to 1 MB, many of them equal (a chain of blocks).
      request.bytes = random() % 4 == 0 ? 1 << (random() % 21) : random() % 5000;
      request.first = static_cast<int>(random() % ops);
      request.last = request.first + static_cast<int>(random() % 4 == 0 ? random() % ops : 1);
      requests.push_back(request);
    }
    const ArenaPlan plan = PlanArena(requests, 64);
    ASSERT_EQ(plan.offsets.size(), requests.size());
    size_t worst_live = 0;  // bytes of the largest set live at once
    for (int op = 0; op < 2 * ops; ++op) {
      size_t live = 0;
      for (const auto& r : requests) {
        if (r.first <= op && op <= r.last) live += r.bytes;
      }
      worst_live = std::max(worst_live, live);
    }
    for (size_t a = 0; a < requests.size(); ++a) {
      EXPECT_EQ(plan.offsets[a] % 64, 0u) << "seed " << seed;
      EXPECT_LE(plan.offsets[a] + requests[a].bytes, plan.size) << "seed " << seed;
      for (size_t b = a + 1; b < requests.size(); ++b) {
        const ArenaRequest &x = requests[a], &y = requests[b];
        if (x.last < y.first || y.last < x.first || x.bytes == 0 || y.bytes == 0) continue;
        const bool apart = plan.offsets[a] + x.bytes <= plan.offsets[b] ||
                           plan.offsets[b] + y.bytes <= plan.offsets[a];
        ASSERT_TRUE(apart) << "seed " << seed << ": requests " << a << " and " << b
                           << " are live at once and overlap";
      }
    }
    // Greedy placement can leave gaps, but a chain of non-overlapping
    // lifetimes must reuse memory: never more than the sum of all.
    size_t total = 0;
    for (const auto& r : requests) total += Aligned(r.bytes);
    EXPECT_LE(plan.size, total) << "seed " << seed;
    EXPECT_GE(plan.size, worst_live) << "seed " << seed;  // else live ones overlap
  }
}

// A chain (each buffer read only by the next op) of equal buffers needs
// two buffers' room, not one per op; of three sizes in turn, at most three.
TEST(ArenaPlan, ChainReusesSlots) {
  std::vector<ArenaRequest> equal, varied;
  for (int op = 0; op < 50; ++op) {
    equal.push_back({1000, op, op + 1});
    varied.push_back({1000 + 64 * static_cast<size_t>(op % 3), op, op + 1});
  }
  EXPECT_EQ(PlanArena(equal, 64).size, 2 * Aligned(1000));
  EXPECT_LE(PlanArena(varied, 64).size, 3 * Aligned(1128));
}

TEST(ArenaPlan, EmptyPlan) {
  const ArenaPlan plan = PlanArena({}, 64);
  EXPECT_TRUE(plan.offsets.empty());
  EXPECT_EQ(plan.size, 0u);
}

}  // namespace
}  // namespace tfq
