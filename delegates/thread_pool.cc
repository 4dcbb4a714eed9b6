#include "delegates/thread_pool.h"

#include <algorithm>

namespace tfq {
namespace {

// Waits for `done()`: spins a little first (the next loop of an invoke
// usually follows within microseconds, and a condition-variable wake-up costs
// tens of them), then blocks.
template <typename Done>
void SpinThenWait(std::mutex& mutex, std::condition_variable& condition, const Done& done) {
  for (int spin = 0; spin < 2000; ++spin) {
    if (done()) return;
    std::this_thread::yield();
  }
  std::unique_lock<std::mutex> lock(mutex);
  condition.wait(lock, done);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  for (int chunk = 0; chunk + 1 < num_threads; ++chunk) {
    workers_.emplace_back([this, chunk] { WorkerLoop(chunk); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1);
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::RunChunk(int chunk) const {
  const int64_t begin = std::min(count_, static_cast<int64_t>(chunk) * chunk_size_);
  const int64_t end = std::min(count_, begin + chunk_size_);
  if (begin < end) function_(context_, chunk, begin, end);
}

void ThreadPool::Run(int64_t count, int64_t grain, ChunkFunction function, const void* context) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t grains = (count + grain - 1) / grain;
  const int64_t chunks = std::min<int64_t>(num_threads(), grains);
  if (chunks <= 1) {
    function(context, 0, 0, count);
    return;
  }
  count_ = count;
  chunk_size_ = (grains + chunks - 1) / chunks * grain;
  function_ = function;
  context_ = context;
  pending_.store(static_cast<int>(workers_.size()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1);
  }
  work_ready_.notify_all();
  RunChunk(num_threads() - 1);  // the caller takes the last chunk
  SpinThenWait(mutex_, work_done_, [this] { return pending_.load() == 0; });
}

void ThreadPool::WorkerLoop(int chunk) {
  uint64_t seen = 0;
  for (;;) {
    SpinThenWait(mutex_, work_ready_, [&] { return generation_.load() != seen; });
    seen = generation_.load();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    RunChunk(chunk);
    if (pending_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's blocking wait
      work_done_.notify_one();
    }
  }
}

}  // namespace tfq
