// DatabaseConnectionPool under load against a real PostgreSQL: 200 concurrent callers on a pool
// of 5 (every call completes, the stats add up, pg_stat_activity agrees), and a short chaos run
// with the server terminating the pool's backends every 200 ms.
#include "ragperf/db_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <thread>

#include "db_test_support.h"

namespace ragperf {
namespace {

namespace asio = boost::asio;
using db::awaitable;
using testing::DbTest;
using Clock = std::chrono::steady_clock;

class PoolLoad : public DbTest {};

awaitable<void> caller(DatabaseConnectionPool& pool, int id, int n_queries,
                       std::atomic<int>& correct) {
  for (int i = 0; i < n_queries; ++i) {
    auto conn = co_await pool.acquire();
    const int64_t v = int64_t{id} * 1000 + i;
    auto r = co_await conn.fetch("SELECT $1::int8 AS v", v);
    if (r[0]["v"].as_int() == v) ++correct;
  }
}

/// Server connections carrying `app` as application_name, from another pool.
int64_t server_connections(DatabaseConnectionPool& observer, const std::string& app) {
  auto r = observer.run(observer.fetch(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", app));
  return r[0]["n"].as_int();
}

int64_t wait_for_server_connections(DatabaseConnectionPool& observer, const std::string& app,
                                    int64_t want) {
  int64_t n = -1;
  for (int i = 0; i < 100 && (n = server_connections(observer, app)) != want; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return n;
}

TEST_F(PoolLoad, TwoHundredCallersOnPoolOfFiveAllCompleteAndStatsAddUp) {
  PoolConfig cfg = config(5, 5);
  cfg.acquire_timeout = std::chrono::duration<double>(30);
  const std::string app = cfg.application_name;
  DatabaseConnectionPool observer(observer_config());
  {
    DatabaseConnectionPool pool(cfg);
    pool.initialize();
    constexpr int kCallers = 200, kQueries = 15;
    std::atomic<int> correct{0};
    std::vector<std::future<void>> calls;
    for (int c = 0; c < kCallers; ++c)
      calls.push_back(pool.spawn(caller(pool, c, kQueries, correct)));
    for (auto& f : calls) {
      ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
      f.get();
    }
    EXPECT_EQ(correct.load(), kCallers * kQueries);
    const auto s = pool.get_stats();
    EXPECT_EQ(s.acquires, uint64_t{kCallers * kQueries}) << s.to_string();
    EXPECT_EQ(s.total_queries, uint64_t{kCallers * kQueries});
    EXPECT_EQ(s.in_use, 0);
    EXPECT_EQ(s.requests_waiting, 0);
    EXPECT_EQ(s.pool_size, 5);
    EXPECT_EQ(s.pool_free, 5);
    EXPECT_EQ(s.acquire_timeouts, 0u);
    EXPECT_EQ(s.connections_opened, 5u);
    EXPECT_EQ(s.connection_errors, 0u);
    EXPECT_GT(s.acquire_wait_p99_s, 0.0);
    // The server sees exactly the pool's connections.
    EXPECT_EQ(server_connections(observer, app), 5);
    auto r = observer.run(observer.fetch(
        "SELECT array_agg(pid ORDER BY pid)::text AS pids FROM pg_stat_activity WHERE "
        "application_name = $1",
        app));
    std::string expected;
    for (int pid : pool.backend_pids()) {
      expected.append(expected.empty() ? "{" : ",");
      expected.append(std::to_string(pid));
    }
    expected.append("}");
    EXPECT_EQ(r[0]["pids"].as_text(), expected);
    pool.close();
  }
  EXPECT_EQ(wait_for_server_connections(observer, app, 0), 0) << "connections leaked";
}

awaitable<void> chaos_caller(DatabaseConnectionPool& pool, Clock::time_point until,
                             std::atomic<int>& ok, std::atomic<int>& failed) {
  while (Clock::now() < until) {
    try {
      auto r = co_await pool.fetch("SELECT pg_sleep(0.002), 7 AS seven");
      if (r[0]["seven"].as_int() == 7) ++ok;
    } catch (const Error&) {
      ++failed;
    }
  }
}

TEST_F(PoolLoad, ChaosBackendsTerminatedEvery200msTheRunFinishesAndLeavesNothingOpen) {
  PoolConfig cfg = config(2, 5);
  cfg.acquire_timeout = std::chrono::duration<double>(2);
  cfg.connect_timeout = std::chrono::duration<double>(2);
  const std::string app = cfg.application_name;
  DatabaseConnectionPool observer(observer_config());
  std::atomic<int> ok{0}, failed{0};
  int64_t killed = 0;
  {
    DatabaseConnectionPool pool(cfg);
    pool.initialize();
    const auto until = Clock::now() + std::chrono::milliseconds(1500);
    std::vector<std::future<void>> calls;
    for (int c = 0; c < 10; ++c) calls.push_back(pool.spawn(chaos_caller(pool, until, ok, failed)));
    while (Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto r = observer.run(
          observer.fetch("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE "
                         "application_name = $1",
                         app));
      killed += r[0]["n"].as_int();
    }
    for (auto& f : calls) {
      ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready) << "a call hung";
      f.get();
    }
    const auto s = pool.get_stats();
    EXPECT_GT(killed, 0);
    EXPECT_GT(ok.load(), 0);
    EXPECT_GE(s.connections_lost, 1u) << s.to_string();
    EXPECT_EQ(s.in_use, 0);
    EXPECT_EQ(s.requests_waiting, 0);
    std::printf("chaos: %d ok, %d failed, %lld backends killed; %s\n", ok.load(), failed.load(),
                static_cast<long long>(killed), s.to_string().c_str());
  }
  EXPECT_EQ(wait_for_server_connections(observer, app, 0), 0) << "connections leaked";
}

}  // namespace
}  // namespace ragperf
