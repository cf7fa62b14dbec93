// ragperf/runtime.h defines Runtime, the threads of a ragperf process: one I/O executor (sockets,
// timers, coroutines) and one compute pool sized to the cores (the encoder's parallel loops, the
// embedded store's searches, embedding passes). Every component runs on the Runtime it is given
// (by default Runtime::shared()) and none starts threads of its own, so the busy threads never
// exceed the cores plus the I/O threads.
//
//   std::shared_ptr<ragperf::Runtime> rt = ragperf::Runtime::shared();
//   // In a coroutine: run CPU work on the compute pool, resume where we were.
//   std::vector<Hit> hits = co_await rt->on_compute([&] { return exact_search(q); });
//   // Many awaitables at once; each outcome holds its value or its error:
//   auto outcomes = co_await ragperf::when_all(std::move(searches));
//   // Without a coroutine (never from an I/O thread):
//   auto hits = rt->run_blocking(store.async_search("docs", q, {}));
//
// Sizes: RuntimeOptions, from the settings (RAGPERF_THREADS: compute threads, default the cores;
// RAGPERF_IO_THREADS: I/O threads, default 1). The shared runtime is created on first use with
// the options given to configure_shared() (the CLI passes its settings) or the defaults.
// OpenBLAS runs single-threaded inside the compute pool; oneDNN's OpenMP threads are limited to
// one per caller (the encoder calls it from the pool's threads).
//
// Thread-safety: every method may be called from any thread. The destructor finishes the tasks
// already posted and stops the I/O threads; work still suspended on the I/O executor then is
// destroyed, not resumed.
#pragma once

// GCC reports -Wnull-dereference inside Asio's scheduler when it is inlined at -O3 (a false
// positive in a system header): silence it for Asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#pragma GCC diagnostic pop

#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "ragperf/error.h"

namespace ragperf {

struct Settings;

namespace runtime {
class ComputePool;
}

struct RuntimeOptions {
  /// Compute threads (RAGPERF_THREADS); 0: one per core (std::thread::hardware_concurrency()).
  size_t compute_threads = 0;
  /// Threads running the I/O executor (RAGPERF_IO_THREADS), >= 1. They only wait on sockets and
  /// timers and resume coroutines; CPU work goes to the compute pool.
  size_t io_threads = 1;

  static RuntimeOptions from_settings(const Settings& settings);
  /// ConfigError naming the field when a value is out of range (io_threads 0, more than 1024).
  void validate() const;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// The process's runtime, created on first use (with configure_shared()'s options, else the
  /// defaults) and kept until exit.
  static std::shared_ptr<Runtime> shared();
  /// Sets the options of the shared runtime. Before its first use; afterwards ConfigError unless
  /// the options equal those it was created with.
  static void configure_shared(RuntimeOptions options);

  using IoExecutor = boost::asio::io_context::executor_type;
  IoExecutor io_executor();
  /// True on one of the I/O threads (where blocking is forbidden).
  bool in_io_thread() const;
  /// True on one of the compute threads.
  bool in_compute_thread() const;
  const RuntimeOptions& options() const { return options_; }
  size_t compute_threads() const;

  /// Queues `task` on the compute pool (FIFO). It must not block on I/O or on other tasks.
  void post_compute(std::function<void()> task);
  /// Runs fn(0) ... fn(n - 1) across the compute pool, the caller included; returns when all are
  /// done and rethrows the first exception. At most compute_threads() threads take part.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

  /// Runs `fn()` on the compute pool; the awaiting coroutine resumes on its own executor with the
  /// result (or the exception). `fn` is moved to the compute thread; its result must be
  /// default-constructible.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F&>> on_compute(F fn);

  /// Starts `aw` on the I/O executor; the future holds its result or exception.
  template <typename T>
  std::future<T> spawn(boost::asio::awaitable<T> aw) {
    return boost::asio::co_spawn(io_executor(), std::move(aw), boost::asio::use_future);
  }
  /// spawn(aw).get(). Throws UnavailableError when called from an I/O thread (it would wait for
  /// itself): co_await there instead.
  template <typename T>
  T run_blocking(boost::asio::awaitable<T> aw) {
    if (in_io_thread()) {
      throw UnavailableError(
          "a blocking ragperf call was made on a Runtime I/O thread (it would wait for itself); "
          "co_await the async_ form there instead");
    }
    return spawn(std::move(aw)).get();
  }

 private:
  struct Io;
  RuntimeOptions options_;
  std::unique_ptr<runtime::ComputePool> compute_;
  std::unique_ptr<Io> io_;
};

/// The one bridge from a callback to a coroutine: `start(done)` starts an operation that calls
/// `done(error, value)` once, from any thread; the awaiting coroutine resumes on its own executor
/// with the value (or rethrows the error). The coroutine's handler and work guard are handed to
/// that executor and released there, never on the thread that called `done` (a compute thread
/// may outlive the caller's io_context); copies of `done` hold nothing once it has been called.
/// T must be default-constructible (the value given with an error is ignored).
template <typename T, typename Start>
boost::asio::awaitable<T> await_callback(Start start);

/// What one awaitable of when_all() produced.
template <typename T>
struct Outcome {
  T value{};                 // meaningful when !error
  std::exception_ptr error;  // set when it threw
  bool ok() const { return !error; }
};

/// Runs every awaitable concurrently on the awaiting coroutine's executor and resumes when all
/// have finished, with one Outcome per awaitable, in order. T must be default-constructible.
template <typename T>
boost::asio::awaitable<std::vector<Outcome<T>>> when_all(
    std::vector<boost::asio::awaitable<T>> tasks);

// ---- implementation ----

template <typename T, typename Start>
boost::asio::awaitable<T> await_callback(Start start) {
  // The initiation is a named local, not a temporary inside the co_await expression: GCC 12
  // destroyed such temporaries twice.
  auto initiate = [&start](auto handler) {
    using Handler = decltype(handler);
    struct Pending {
      boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work;
      Handler handler;
    };
    auto work = boost::asio::make_work_guard(handler);
    // done() empties the slot, so a copy of done left behind keeps no executor alive.
    auto slot = std::make_shared<std::shared_ptr<Pending>>(
        std::make_shared<Pending>(Pending{std::move(work), std::move(handler)}));
    std::function<void(std::exception_ptr, T)> done = [slot](std::exception_ptr error, T value) {
      std::shared_ptr<Pending> p = std::exchange(*slot, nullptr);
      if (!p) return;  // called twice: the first answer stands
      auto& guard = p->work;
      boost::asio::post(guard.get_executor(),
                        [p = std::move(p), error, value = std::move(value)]() mutable {
                          Handler h = std::move(p->handler);
                          p->work.reset();
                          h(error, std::move(value));
                        });
    };
    start(std::move(done));
  };
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                 void(std::exception_ptr, T)>(
      std::move(initiate), boost::asio::use_awaitable);
}

template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> Runtime::on_compute(F fn) {
  using R = std::invoke_result_t<F&>;
  auto task = std::make_shared<F>(std::move(fn));  // F need not be copyable
  auto start = [this, task](std::function<void(std::exception_ptr, R)> done) {
    post_compute([task, done = std::move(done)] {
      std::exception_ptr error;
      R result{};
      try {
        result = (*task)();
      } catch (...) {
        error = std::current_exception();
      }
      done(error, std::move(result));
    });
  };
  co_return co_await await_callback<R>(std::move(start));
}

template <typename T>
boost::asio::awaitable<std::vector<Outcome<T>>> when_all(
    std::vector<boost::asio::awaitable<T>> tasks) {
  if (tasks.empty()) co_return std::vector<Outcome<T>>{};
  auto executor = co_await boost::asio::this_coro::executor;
  auto initiate = [&tasks, executor](auto handler) {
    using Handler = decltype(handler);
    struct State {
      std::mutex mutex;
      std::vector<Outcome<T>> outcomes;
      size_t left = 0;
      std::optional<Handler> handler;
      std::optional<boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>>>
          work;
    };
    auto state = std::make_shared<State>();
    state->outcomes.resize(tasks.size());
    state->left = tasks.size();
    state->work.emplace(boost::asio::make_work_guard(handler));
    state->handler.emplace(std::move(handler));
    for (size_t i = 0; i < tasks.size(); ++i) {
      boost::asio::co_spawn(executor, std::move(tasks[i]),
                            [state, i](std::exception_ptr error, T value) {
                              std::unique_lock lock(state->mutex);
                              state->outcomes[i].error = error;
                              if (!error) state->outcomes[i].value = std::move(value);
                              if (--state->left != 0) return;
                              lock.unlock();
                              auto ex = state->work->get_executor();
                              boost::asio::post(ex, [state]() mutable {
                                auto h = std::move(*state->handler);
                                state->work.reset();
                                h(std::move(state->outcomes));
                              });
                            });
    }
  };
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                 void(std::vector<Outcome<T>>)>(
      std::move(initiate), boost::asio::use_awaitable);
}

}  // namespace ragperf
