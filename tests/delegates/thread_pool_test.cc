// ThreadPool::ParallelFor: every index exactly once, chunks on grain
// boundaries, per-thread indices in range, a slow thread's chunks taken by
// the others, and a pool reused many times.
#include "delegates/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace tfq {
namespace {

TEST(ThreadPool, CoversEveryIndexOnceOnGrainBoundaries) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t count : {0, 1, 2, 5, 8, 13, 100, 1001}) {
      for (int64_t grain : {1, 4, 7}) {
        std::vector<std::atomic<int>> visits(static_cast<size_t>(count));
        std::atomic<int> bad_chunks{0};
        pool.ParallelFor(count, grain, [&](int thread, int64_t begin, int64_t end) {
          if (thread < 0 || thread >= threads || begin % grain != 0 || begin >= end) ++bad_chunks;
          for (int64_t i = begin; i < end; ++i) ++visits[static_cast<size_t>(i)];
        });
        EXPECT_EQ(bad_chunks.load(), 0) << threads << " threads, count " << count;
        for (int64_t i = 0; i < count; ++i) {
          ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1)
              << threads << " threads, count " << count << ", grain " << grain << ", index " << i;
        }
      }
    }
  }
}

// The thread that claims the first chunk is held up (as by a late wake-up
// or a busy neighbour core); the other claims every remaining chunk.
TEST(ThreadPool, TheOthersTakeASlowThreadsChunks) {
  ThreadPool pool(2);
  for (int loop = 0; loop < 3; ++loop) {
    std::atomic<int> chunks_run[2] = {{0}, {0}};
    std::atomic<int> slow_thread{-1};
    pool.ParallelFor(800, 1, [&](int thread, int64_t begin, int64_t) {
      ++chunks_run[thread];
      if (begin == 0) {
        slow_thread = thread;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
    ASSERT_GE(slow_thread.load(), 0);
    const int slow = slow_thread.load();
    EXPECT_EQ(chunks_run[slow].load(), 1) << "loop " << loop;
    EXPECT_EQ(chunks_run[1 - slow].load(), 2 * ThreadPool::kChunksPerThread - 1) << "loop " << loop;
  }
}

TEST(ThreadPool, RunsChunksOnItsThreadsAndSurvivesManyLoops) {
  ThreadPool pool(4);
  std::vector<int64_t> sums(4, 0);  // one slot per thread index: no races
  std::vector<std::thread::id> ids(4);
  for (int loop = 0; loop < 2000; ++loop) {
    pool.ParallelFor(400, 1, [&](int thread, int64_t begin, int64_t end) {
      ids[static_cast<size_t>(thread)] = std::this_thread::get_id();
      // Long enough that every thread claims a chunk of some loop.
      if (loop % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      for (int64_t i = begin; i < end; ++i) sums[static_cast<size_t>(thread)] += i;
    });
  }
  int64_t total = 0;
  for (int64_t sum : sums) {
    EXPECT_GT(sum, 0);  // every chunk ran
    total += sum;
  }
  EXPECT_EQ(total, 2000 * (399 * 400 / 2));
  // Three workers and the caller.
  EXPECT_EQ(std::set<std::thread::id>(ids.begin(), ids.end()).size(), 4u);
}

// Workers that fall asleep between loops (the pauses) and wake late, in
// the middle of a later loop or after it: every index of every loop runs
// exactly once, and no loop waits on a worker that has nothing left to do
// (a loop returns once its chunks are done, which the counts check first).
TEST(ThreadPool, LateWorkersNeverRunAChunkTwiceOrMissOne) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> runs(97);
  for (int loop = 0; loop < 3000; ++loop) {
    for (auto& r : runs) r.store(0);
    pool.ParallelFor(static_cast<int64_t>(runs.size()), 1 + loop % 3,
                     [&](int, int64_t begin, int64_t end) {
                       for (int64_t i = begin; i < end; ++i) runs[static_cast<size_t>(i)]++;
                     });
    for (size_t i = 0; i < runs.size(); ++i) {
      ASSERT_EQ(runs[i].load(), 1) << "loop " << loop << ", index " << i;
    }
    // Now and then long enough for the workers to stop spinning and block.
    if (loop % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (loop % 7 == 3) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace
}  // namespace tfq
