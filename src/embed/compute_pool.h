// embed/compute_pool.h defines the process-wide compute pool the encoder runs its parallel loops
// on: one thread per core (the caller included), so BLAS-style work never oversubscribes.
//
//   ComputePool& pool = ComputePool::instance();
//   pool.run(n_tasks, [&](size_t task) { ... });   // returns when every task is done
//
// Workers spin briefly between loops (forward passes issue dozens of short loops) and then sleep.
// OpenBLAS is set to one thread: parallelism comes from this pool only. Thread-safety: run() may
// be called from any thread; concurrent calls are serialised.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragperf::embed {

class ComputePool {
 public:
  /// The shared pool sized to the cores (RAGPERF_THREADS overrides, for measurements).
  static ComputePool& instance();

  explicit ComputePool(size_t n_threads);
  ~ComputePool();
  ComputePool(const ComputePool&) = delete;
  ComputePool& operator=(const ComputePool&) = delete;

  /// Threads that execute tasks, the caller included.
  size_t n_threads() const { return workers_.size() + 1; }

  /// Runs fn(0) ... fn(n_tasks - 1) across the pool; rethrows the first exception.
  void run(size_t n_tasks, const std::function<void(size_t)>& fn);

 private:
  void worker_loop();
  void work(const std::function<void(size_t)>& fn, size_t n_tasks);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one loop at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> next_task_{0};
  std::atomic<size_t> pending_{0};
  std::atomic<size_t> active_{0};  // workers inside the current loop
  size_t n_tasks_ = 0;
  const std::function<void(size_t)>* fn_ = nullptr;
  std::exception_ptr error_;
  std::mutex error_mutex_;
  bool stop_ = false;
};

}  // namespace ragperf::embed
