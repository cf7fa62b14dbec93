// DatabaseConnectionPool with a PerformanceMonitor (PoolConfig::monitor) against a real
// PostgreSQL: "acquire" once per connection handed out, "query" once per pool-level
// execute/fetch/fetchrow that returns (a retried call is still one), nothing for calls that throw,
// and nothing for statements on an acquired PooledConnection.
#include "ragperf/db_pool.h"

#include <gtest/gtest.h>

#include <chrono>

#include "db_test_support.h"
#include "ragperf/monitor.h"

namespace ragperf {
namespace {

using db::awaitable;
using testing::DbTest;
using Clock = std::chrono::steady_clock;

class PoolMonitor : public DbTest {
 protected:
  PoolConfig monitored(int min_size, int max_size) {
    PoolConfig c = config(min_size, max_size);
    c.monitor = &monitor_;
    return c;
  }
  uint64_t count(std::string_view stage) const {
    auto s = monitor_.get_stats(stage);
    return s ? s->count : 0;
  }
  PerformanceMonitor monitor_;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST_F(PoolMonitor, PoolLevelCallsRecordOneAcquireAndOneQueryEach) {
  DatabaseConnectionPool pool(monitored(1, 2));
  pool.initialize();
  EXPECT_EQ(count("acquire"), 0u) << "initialize() hands out no connection";
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) {
    db::Result r = pool.run(pool.fetch("SELECT $1::int8 AS i", i));
    ASSERT_EQ(r.rows(), 1);
    EXPECT_EQ(r[0]["i"].as_int(), i);
  }
  for (int i = 0; i < 3; ++i) pool.run(pool.execute("SELECT pg_sleep(0.002)"));
  auto row = pool.run(pool.fetchrow("SELECT 'x'::text AS t"));
  ASSERT_TRUE(row.has_value());
  EXPECT_FALSE(pool.run(pool.fetchrow("SELECT 1 WHERE false")).has_value());
  const double wall_s = seconds_since(start);

  const auto query = monitor_.get_stats("query");
  const auto acquire = monitor_.get_stats("acquire");
  ASSERT_TRUE(query && acquire);
  const auto retried = pool.get_stats().queries_retried;
  EXPECT_EQ(query->count, 10u);
  EXPECT_EQ(acquire->count, 10u + retried);
  for (const StageStats* s : {&*query, &*acquire}) {
    EXPECT_GT(s->min_s, 0.0) << s->name;
    EXPECT_LE(s->sum_s, wall_s) << s->name << ": more time than the calls took";
  }
  // pg_sleep(0.002) ran on the server inside three of the recorded statements.
  EXPECT_GE(query->max_s, 0.002);
  EXPECT_GE(query->sum_s, 3 * 0.002);
  EXPECT_EQ(monitor_.get_stats().size(), 2u);
  EXPECT_EQ(pool.get_stats().acquires, acquire->count);
}

TEST_F(PoolMonitor, HeldConnectionRecordsItsAcquireButNotItsStatements) {
  DatabaseConnectionPool pool(monitored(1, 1));
  pool.initialize();
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    co_await conn.execute("SELECT 1");
    co_await conn.fetch("SELECT 2");
    std::vector<db::Statement> statements(3, db::Statement{"SELECT 3", {}});
    co_await conn.pipeline(std::move(statements));
  }());
  EXPECT_EQ(count("acquire"), 1u);
  EXPECT_EQ(count("query"), 0u);
}

TEST_F(PoolMonitor, FailedCallsRecordNoQueryAndTimedOutAcquiresNoAcquire) {
  PoolConfig cfg = monitored(1, 1);
  cfg.acquire_timeout = std::chrono::duration<double>(0.2);
  DatabaseConnectionPool pool(cfg);
  pool.initialize();
  // A SQL error: the connection was handed out (one acquire), the statement failed (no query).
  EXPECT_THROW(pool.run(pool.fetch("SELECT * FROM no_such_table_rt_monitor")), QueryError);
  EXPECT_EQ(count("acquire"), 1u);
  EXPECT_EQ(count("query"), 0u);
  // Pool exhausted: the waiting caller gets no connection, so no acquire is recorded.
  pool.run([&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    EXPECT_THROW(co_await pool.fetch("SELECT 1"), PoolExhaustedError);
  }());
  EXPECT_EQ(pool.get_stats().acquire_timeouts, 1u);
  EXPECT_EQ(count("acquire"), 2u);
  EXPECT_EQ(count("query"), 0u);
  // The pool still works, and records again.
  pool.run(pool.execute("SELECT 1"));
  EXPECT_EQ(count("acquire"), 3u);
  EXPECT_EQ(count("query"), 1u);
}

TEST_F(PoolMonitor, CallsAfterTerminatedBackendsAreOneQueryEvenWhenRetried) {
  DatabaseConnectionPool pool(monitored(3, 3));
  pool.initialize();
  DatabaseConnectionPool killer(observer_config());
  constexpr int kRounds = 6;
  uint64_t calls_ok = 0;
  uint64_t call_acquires = 0;  // "acquire" records made by the pool-level calls alone
  for (int round = 0; round < kRounds; ++round) {
    // Three live connections idle in the pool, as in PoolFailure's retry test (a connection
    // killed last round may still look alive; statements on acquired connections never retry).
    pool.run([&]() -> awaitable<void> {
      for (int live = 0; live < 3;) {
        std::vector<PooledConnection> held;
        for (int i = 0; i < 3; ++i) held.push_back(co_await pool.acquire());
        live = 0;
        for (auto& c : held) {
          try {
            co_await c.execute("SELECT 1");
            ++live;
          } catch (const ConnectionError&) {
          }
        }
      }
    }());
    auto r = killer.run(
        killer.fetch("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE "
                     "application_name = $1",
                     pool.config().application_name));
    EXPECT_EQ(r[0]["n"].as_int(), 3) << "round " << round;
    const uint64_t acquires_before = count("acquire");
    const uint64_t retried_before = pool.get_stats().queries_retried;
    try {
      auto row = pool.run(pool.fetchrow("SELECT $1::int8 AS i", round));
      ASSERT_TRUE(row.has_value());
      EXPECT_EQ((*row)["i"].as_int(), round);
      ++calls_ok;
    } catch (const ConnectionError&) {
      // Both attempts met a dying backend (the pool retries once): the caller's answer, and no
      // "query" record.
    }
    const uint64_t attempts = 1 + pool.get_stats().queries_retried - retried_before;
    EXPECT_LE(attempts, 2u) << "round " << round << ": at most one retry per call";
    EXPECT_EQ(count("acquire") - acquires_before, attempts) << "round " << round;
    call_acquires += attempts;
  }
  const PoolStats s = pool.get_stats();
  EXPECT_GE(calls_ok, 1u) << "no call survived the kills";
  EXPECT_EQ(count("query"), calls_ok) << "one record per call that returned, retried or not";
  EXPECT_GE(call_acquires, static_cast<uint64_t>(kRounds));
  EXPECT_GE(s.connections_lost, 3u);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_LT(monitor_.get_stats("query")->max_s, 60.0);
}

TEST_F(PoolMonitor, PoolWithoutMonitorRecordsNothingAndConfigCopiesShareIt) {
  PoolConfig plain = config(1, 1);
  EXPECT_EQ(plain.monitor, nullptr);
  EXPECT_EQ(PoolConfig::from_url(url_).monitor, nullptr);
  DatabaseConnectionPool pool(plain);
  pool.initialize();
  pool.run(pool.execute("SELECT 1"));
  EXPECT_TRUE(monitor_.get_stats().empty());

  PoolConfig a = monitored(1, 1);
  PoolConfig b = a;
  EXPECT_EQ(b.monitor, &monitor_);
}

}  // namespace
}  // namespace ragperf
