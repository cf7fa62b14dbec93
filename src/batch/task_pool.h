// batch/task_pool.h defines TaskPool: a fixed set of threads running submitted tasks in FIFO
// order. BatchProcessor spreads the searches of a batch over it.
//
//   TaskPool pool(4);
//   pool.submit([] { ... });
//   pool.stop();   // runs what was submitted, then joins (also done by the destructor)
//
// Thread-safety: submit() from any thread; stop() once, not from a task.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragperf::batch {

class TaskPool {
 public:
  /// Starts `threads` (>= 1) worker threads.
  explicit TaskPool(size_t threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  /// Queues `task`; it must not throw (an escaping exception is swallowed).
  void submit(std::function<void()> task);
  /// Runs every queued task, then joins the threads. Idempotent.
  void stop();
  size_t size() const { return threads_.size(); }

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ragperf::batch
