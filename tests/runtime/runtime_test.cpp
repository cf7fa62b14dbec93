// Runtime: the compute pool's tasks and loops, the bridge from coroutines to it, when_all and the
// blocking forms.
#include "ragperf/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "ragperf/config.h"

namespace ragperf {
namespace {

using namespace std::chrono_literals;

TEST(Runtime, OnComputeRunsOnAComputeThreadAndResumesOnTheIoExecutor) {
  Runtime rt(RuntimeOptions{.compute_threads = 2, .io_threads = 1});
  auto body = [&]() -> boost::asio::awaitable<std::pair<bool, bool>> {
    const bool compute = co_await rt.on_compute([&] { return rt.in_compute_thread(); });
    co_return std::pair{compute, rt.in_io_thread()};
  };
  const auto [on_compute, back_on_io] = rt.run_blocking(body());
  EXPECT_TRUE(on_compute);
  EXPECT_TRUE(back_on_io);
}

TEST(Runtime, OnComputeRethrowsTheTasksException) {
  Runtime rt(RuntimeOptions{.compute_threads = 1, .io_threads = 1});
  auto body = [&]() -> boost::asio::awaitable<int> {
    co_return co_await rt.on_compute([]() -> int { throw InputError("bad input named here"); });
  };
  try {
    rt.run_blocking(body());
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "bad input named here");
  }
}

TEST(Runtime, WhenAllKeepsOrderAndEachError) {
  Runtime rt(RuntimeOptions{.compute_threads = 2, .io_threads = 2});
  auto one = [&](int i) -> boost::asio::awaitable<int> {
    co_return co_await rt.on_compute([i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * (5 - i)));  // finish reversed
      if (i == 2) throw std::runtime_error("task 2 failed");
      return i * 10;
    });
  };
  auto body = [&]() -> boost::asio::awaitable<std::vector<Outcome<int>>> {
    std::vector<boost::asio::awaitable<int>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(one(i));
    co_return co_await when_all(std::move(tasks));
  };
  const auto outcomes = rt.run_blocking(body());
  ASSERT_EQ(outcomes.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    if (i == 2) {
      EXPECT_FALSE(outcomes[i].ok());
      continue;
    }
    ASSERT_TRUE(outcomes[i].ok()) << i;
    EXPECT_EQ(outcomes[i].value, i * 10);
  }
  auto empty = []() -> boost::asio::awaitable<std::vector<Outcome<int>>> {
    co_return co_await when_all(std::vector<boost::asio::awaitable<int>>{});
  };
  EXPECT_TRUE(rt.run_blocking(empty()).empty());
}

TEST(Runtime, WhenAllRunsTheAwaitablesConcurrently) {
  Runtime rt(RuntimeOptions{.compute_threads = 1, .io_threads = 1});
  // Eight 50 ms timers awaited together take about 50 ms, not 400 ms.
  auto wait = [&]() -> boost::asio::awaitable<int> {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 50ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return 1;
  };
  auto body = [&]() -> boost::asio::awaitable<std::vector<Outcome<int>>> {
    std::vector<boost::asio::awaitable<int>> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(wait());
    co_return co_await when_all(std::move(tasks));
  };
  const auto t0 = std::chrono::steady_clock::now();
  const auto outcomes = rt.run_blocking(body());
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(outcomes.size(), 8u);
  EXPECT_LT(took, 350ms) << "the timers ran one after another";
}

TEST(Runtime, RunBlockingOnAnIoThreadIsRefused) {
  Runtime rt(RuntimeOptions{.compute_threads = 1, .io_threads = 1});
  auto inner = []() -> boost::asio::awaitable<int> { co_return 1; };
  auto outer = [&]() -> boost::asio::awaitable<bool> {
    try {
      rt.run_blocking(inner());
    } catch (const UnavailableError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(rt.run_blocking(outer()));
}

TEST(Runtime, ParallelForCoversEveryIndexOnceAndUsesAtMostTheComputeThreads) {
  Runtime rt(RuntimeOptions{.compute_threads = 3, .io_threads = 1});
  EXPECT_EQ(rt.compute_threads(), 3u);
  std::vector<std::atomic<int>> seen(1000);
  std::mutex m;
  std::set<std::thread::id> threads;
  rt.parallel_for(seen.size(), [&](size_t i) {
    seen[i].fetch_add(1);
    std::lock_guard lock(m);
    threads.insert(std::this_thread::get_id());
  });
  for (const auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_LE(threads.size(), 3u);
  EXPECT_THROW(rt.parallel_for(4,
                               [](size_t i) {
                                 if (i == 3) throw InputError("x");
                               }),
               InputError);
}

TEST(Runtime, PostedTasksAllRunEvenWhileLoopsRun) {
  std::atomic<int> ran{0};
  {
    Runtime rt(RuntimeOptions{.compute_threads = 2, .io_threads = 1});
    for (int i = 0; i < 200; ++i) rt.post_compute([&] { ran.fetch_add(1); });
    // A task that itself runs a parallel loop (as an embedding pass does).
    std::atomic<int> loop{0};
    std::promise<void> done;
    rt.post_compute([&] {
      rt.parallel_for(64, [&](size_t) { loop.fetch_add(1); });
      done.set_value();
    });
    done.get_future().wait();
    EXPECT_EQ(loop.load(), 64);
  }  // the destructor runs what is still queued
  EXPECT_EQ(ran.load(), 200);
}

TEST(Runtime, OptionsComeFromTheSettingsAndAreChecked) {
  Settings s = load_settings({{"RAGPERF_THREADS", "3"}, {"RAGPERF_IO_THREADS", "2"}}, "");
  const RuntimeOptions o = RuntimeOptions::from_settings(s);
  EXPECT_EQ(o.compute_threads, 3u);
  EXPECT_EQ(o.io_threads, 2u);
  EXPECT_THROW(load_settings({{"RAGPERF_IO_THREADS", "0"}}, ""), ConfigError);
  EXPECT_THROW(Runtime(RuntimeOptions{.compute_threads = 1, .io_threads = 0}), ConfigError);
}

TEST(Runtime, TheSharedRuntimeCannotBeReconfiguredOnceCreated) {
  std::shared_ptr<Runtime> shared = Runtime::shared();
  EXPECT_EQ(shared, Runtime::shared());
  RuntimeOptions same = shared->options();
  EXPECT_NO_THROW(Runtime::configure_shared(same));
  RuntimeOptions other = same;
  other.io_threads = same.io_threads + 1;
  EXPECT_THROW(Runtime::configure_shared(other), ConfigError);
}

}  // namespace
}  // namespace ragperf
