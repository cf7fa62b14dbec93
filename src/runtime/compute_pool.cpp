#include "runtime/compute_pool.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#define RAGPERF_PAUSE() _mm_pause()
#else
#define RAGPERF_PAUSE() std::this_thread::yield()
#endif

namespace ragperf::runtime {

namespace {

thread_local const ComputePool* current_pool = nullptr;

}  // namespace

ComputePool::ComputePool(size_t n_threads) {
  openblas_set_num_threads(1);  // this pool is the only source of parallelism
  if (n_threads == 0) n_threads = 1;
  for (size_t i = 0; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ComputePool::~ComputePool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

bool ComputePool::in_worker() const {
  return current_pool == this;
}

void ComputePool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_one();
}

void ComputePool::work(const std::function<void(size_t)>& fn, size_t n_tasks) {
  for (;;) {
    size_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks) break;
    try {
      fn(task);
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ComputePool::worker_loop() {
  current_pool = this;
  uint64_t seen = 0;
  bool worked = true;  // did the last wake-up find work? (an idle worker must not spin)
  for (;;) {
    // Spin for a short while after work: the next loop of a forward pass usually follows within
    // microseconds. A worker that woke and found nothing to join sleeps at once, so that spinning
    // never takes a core from the threads running a loop.
    auto spin_until = std::chrono::steady_clock::now() +
                      (worked ? std::chrono::microseconds(300) : std::chrono::microseconds(0));
    int polls = 0;
    spinning_.fetch_add(1, std::memory_order_acq_rel);
    while (generation_.load(std::memory_order_acquire) == seen) {
      RAGPERF_PAUSE();
      if (++polls % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
        spinning_.fetch_sub(1, std::memory_order_acq_rel);
        {
          std::unique_lock lock(mutex_);
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        }
        spinning_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
    spinning_.fetch_sub(1, std::memory_order_acq_rel);
    const std::function<void(size_t)>* fn = nullptr;
    size_t n_tasks = 0;
    std::function<void()> task;
    {
      std::lock_guard lock(mutex_);
      // Loops first: a forward pass waits on them. The loop's caller takes part, so at most
      // n_threads() - 1 workers join it.
      if (fn_ && active_.load(std::memory_order_relaxed) + 1 < workers_.size() &&
          next_task_.load(std::memory_order_relaxed) < n_tasks_) {
        fn = fn_;
        n_tasks = n_tasks_;
        active_.fetch_add(1, std::memory_order_acq_rel);
      } else if (!tasks_.empty()) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
      } else if (stop_) {
        return;
      }
      // Seen only once no task is queued: queued tasks keep the worker awake.
      if (tasks_.empty()) seen = generation_.load(std::memory_order_acquire);
    }
    worked = fn != nullptr || static_cast<bool>(task);
    if (fn) {
      work(*fn, n_tasks);
      active_.fetch_sub(1, std::memory_order_acq_rel);
    } else if (task) {
      task();  // a task's exceptions are its own business: Runtime::on_compute catches them
    }
  }
}

void ComputePool::run(size_t n_tasks, const std::function<void(size_t)>& fn) {
  if (n_tasks == 0) return;
  if (n_tasks == 1 || workers_.size() <= 1) {
    for (size_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::lock_guard run_lock(run_mutex_);
  {
    std::lock_guard lock(mutex_);
    fn_ = &fn;
    n_tasks_ = n_tasks;
    error_ = nullptr;
    next_task_.store(0, std::memory_order_relaxed);
    pending_.store(n_tasks, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // Wake only the joiners that are not already spinning: a woken worker that finds the loop
  // full costs the running threads a context switch.
  const size_t want = std::min(n_tasks, workers_.size()) - 1;
  for (size_t i = spinning_.load(std::memory_order_acquire); i < want; ++i) wake_.notify_one();
  work(fn, n_tasks);
  while (pending_.load(std::memory_order_acquire) != 0) RAGPERF_PAUSE();
  {
    std::lock_guard lock(mutex_);
    fn_ = nullptr;  // no worker joins this loop from now on
  }
  while (active_.load(std::memory_order_acquire) != 0) RAGPERF_PAUSE();
  std::exception_ptr error;
  {
    std::lock_guard lock(error_mutex_);
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace ragperf::runtime
