// CONNECTION_POOL_SIZE against a real PostgreSQL: after a burst grows the pool towards
// MAX_POOL_SIZE, idle connections are closed only down to the target size, not to MIN_POOL_SIZE.
#include "ragperf/db_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "db_test_support.h"
#include "ragperf/config.h"

namespace ragperf {
namespace {

using testing::DbTest;

class PoolTarget : public DbTest {
 protected:
  // The pool the settings describe, with idle connections pruned after 0.1 s.
  PoolConfig from_settings(const std::string& target) const {
    const Settings s = load_settings({{"DATABASE_URL", url_},
                                      {"MIN_POOL_SIZE", "1"},
                                      {"CONNECTION_POOL_SIZE", target},
                                      {"MAX_POOL_SIZE", "8"}},
                                     {});
    PoolConfig c = PoolConfig::from_settings(s);
    c.application_name = config(1, 8).application_name;
    c.max_idle = std::chrono::duration<double>(0.1);
    c.maintenance_interval = std::chrono::duration<double>(0.05);
    return c;
  }

  // Grows `pool` with 8 overlapping statements, then returns its size once idle pruning has
  // settled (no change for 0.5 s).
  static int size_after_burst_then_idle(DatabaseConnectionPool& pool) {
    std::vector<std::future<db::Result>> calls;
    for (int i = 0; i < 8; ++i) calls.push_back(pool.spawn(pool.fetch("SELECT pg_sleep(0.3)")));
    for (auto& f : calls) f.get();
    EXPECT_GE(pool.get_stats().pool_size, 5) << "the burst did not grow the pool above its target";
    int last = -1;
    auto stable_since = std::chrono::steady_clock::now();
    for (int i = 0; i < 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      const int now = pool.get_stats().pool_size;
      if (now != last) {
        last = now;
        stable_since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - stable_since > std::chrono::milliseconds(500)) {
        break;
      }
    }
    return last;
  }
};

TEST_F(PoolTarget, IdlePoolKeepsConnectionPoolSizeConnections) {
  PoolConfig cfg = from_settings("4");
  EXPECT_EQ(cfg.target_size, 4);
  DatabaseConnectionPool pool(cfg);
  pool.initialize();
  EXPECT_EQ(size_after_burst_then_idle(pool), 4) << pool.get_stats().to_string();
  EXPECT_EQ(pool.get_stats().pool_target, 4);
  EXPECT_EQ(pool.get_stats().pool_free, 4);
  pool.close();
}

TEST_F(PoolTarget, TargetEqualToMinShrinksToMin) {
  DatabaseConnectionPool pool(from_settings("1"));
  pool.initialize();
  EXPECT_EQ(size_after_burst_then_idle(pool), 1) << pool.get_stats().to_string();
  pool.close();
}

}  // namespace
}  // namespace ragperf
