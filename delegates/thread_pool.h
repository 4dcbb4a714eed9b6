// A fixed set of worker threads that split one loop at a time: what honours
// the delegate's num_threads. Each partition owns one (partitions of one
// interpreter run one after another; two interpreters never share one).
//
// ParallelFor cuts a loop into a few contiguous chunks per thread, which the
// caller and the workers claim one at a time (an atomic counter): a thread
// that wakes late or is slowed by a neighbour on a shared machine takes fewer
// chunks instead of holding up the loop. The caller waits for the chunks,
// not for the workers: one still asleep when the caller has run every chunk
// is not waited for (in a VM, waking a blocked thread took up to 9 ms). The chunks are disjoint, so kernels
// that write disjoint outputs stay bit-exact at any thread count and under
// any claiming order. No allocation per call.
#ifndef TFQ_DELEGATES_THREAD_POOL_H_
#define TFQ_DELEGATES_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace tfq {

// Elements between the starts of two threads' scratch areas of `count`
// elements of `size` bytes: whole cache lines plus one spare, so no two
// threads ever write the same line (false sharing halved depthwise's speed).
inline size_t PerThreadStride(size_t count, size_t size) {
  constexpr size_t kCacheLine = 64;
  const size_t bytes = (count * size + kCacheLine - 1) / kCacheLine * kCacheLine + kCacheLine;
  return bytes / size;
}

class ThreadPool {
 public:
  static constexpr int kChunksPerThread = 4;

  explicit ThreadPool(int num_threads);  // starts num_threads - 1 workers
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(thread, begin, end) on [0, count) cut into at most
  // kChunksPerThread * num_threads() chunks whose bounds are multiples of
  // `grain` (the last may be short); a thread may run several chunks, one
  // after another, and `thread` < num_threads() indexes its scratch.
  // Returns when every chunk is done.
  template <typename Body>
  void ParallelFor(int64_t count, int64_t grain, const Body& body) {
    Run(count, grain, [](const void* context, int thread, int64_t begin, int64_t end) {
      (*static_cast<const Body*>(context))(thread, begin, end);
    }, &body);
  }

 private:
  using ChunkFunction = void (*)(const void* context, int thread, int64_t begin, int64_t end);

  void Run(int64_t count, int64_t grain, ChunkFunction function, const void* context);
  // The loop's state in one word, so a claim is one compare-and-swap that
  // also checks the loop is still `generation`: generation << 32 | chunks
  // << 16 | the next chunk to claim.
  static uint64_t Generation(uint64_t state) { return state >> 32; }
  // Claims and runs chunks of loop `generation` until none is left (or a
  // later loop has begun).
  void RunChunks(int thread, uint64_t generation);
  void WorkerLoop(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_, work_done_;
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> done_{0};  // chunks of the current loop finished
  std::atomic<bool> stopping_{false};
  uint64_t generation_ = 0;  // the caller's count of loops
  // The current loop: written before state_ publishes it, read only by a
  // thread holding a claim on one of its chunks (so it cannot change).
  int64_t count_ = 0, chunk_size_ = 0;
  ChunkFunction function_ = nullptr;
  const void* context_ = nullptr;
};

}  // namespace tfq

#endif  // TFQ_DELEGATES_THREAD_POOL_H_
