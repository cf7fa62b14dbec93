// runtime/compute_pool.h defines the compute pool of the process's Runtime (ragperf/runtime.h):
// one thread per core, running two kinds of work.
//
//   pool.post([&] { search(...); });                 // a task: runs on one worker, FIFO
//   pool.run(n_tasks, [&](size_t task) { ... });     // a parallel loop: returns when every task
//                                                    // is done (the caller takes part)
//
// A parallel loop (the encoder issues dozens per forward pass) takes the caller plus at most
// n_threads() - 1 workers, so the busy threads of one loop never exceed the cores; idle workers
// join it before they take the next posted task. Workers spin briefly between loops and then
// sleep. OpenBLAS is set to one thread: parallelism comes from this pool only.
// Thread-safety: every method may be called from any thread; concurrent run() calls are
// serialised (a worker whose task calls run() while another loop runs waits for it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragperf::runtime {

class ComputePool {
 public:
  /// `n_threads` workers (at least 1).
  explicit ComputePool(size_t n_threads);
  /// Runs the tasks already posted, then joins the workers.
  ~ComputePool();
  ComputePool(const ComputePool&) = delete;
  ComputePool& operator=(const ComputePool&) = delete;

  /// Threads that execute work (the workers; a parallel loop uses at most this many, the caller
  /// included).
  size_t n_threads() const { return workers_.size(); }

  /// Queues `task` for one worker. A task must not block on I/O or wait for another task.
  void post(std::function<void()> task);

  /// Runs fn(0) ... fn(n_tasks - 1) across the pool; rethrows the first exception.
  void run(size_t n_tasks, const std::function<void(size_t)>& fn);

  /// True on one of this pool's workers.
  bool in_worker() const;

 private:
  void worker_loop();
  void work(const std::function<void(size_t)>& fn, size_t n_tasks);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one loop at a time
  std::mutex mutex_;      // guards fn_, n_tasks_, tasks_, stop_
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};  // bumped for every loop, task and stop
  std::atomic<size_t> next_task_{0};
  std::atomic<size_t> pending_{0};
  std::atomic<size_t> active_{0};    // workers inside the current loop
  std::atomic<size_t> spinning_{0};  // workers polling for the next loop or task
  size_t n_tasks_ = 0;
  const std::function<void(size_t)>* fn_ = nullptr;
  std::deque<std::function<void()>> tasks_;
  std::exception_ptr error_;
  std::mutex error_mutex_;
  bool stop_ = false;
};

}  // namespace ragperf::runtime
