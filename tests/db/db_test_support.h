// db/db_test_support.h: shared set-up for the db integration tests (DATABASE_URL, a per-test
// application_name so pg_stat_activity can be matched to one pool).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include <unistd.h>

#include "ragperf/db_pool.h"
#include "testing/testing.h"

namespace ragperf::testing {

/// Fixture: fails (never skips) when DATABASE_URL is not set.
class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = database_url();
    if (url_.empty())
      GTEST_FAIL() << "DATABASE_URL is not set: run scripts/test.sh, or export "
                      "DATABASE_URL=$(scripts/pg_start.sh DIR) before ctest -L db";
  }

  /// The server's config with a pool size and an application_name unique to this test.
  PoolConfig config(int min_size, int max_size) const {
    PoolConfig c = PoolConfig::from_url(url_);
    c.min_size = min_size;
    c.max_size = max_size;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // The pid too: two runs of one test at once (ctest -j, --gtest_repeat beside a suite run)
    // must not count or terminate each other's connections.
    std::string name = info->name();
    if (name.size() > 40) name.resize(40);
    c.application_name = "rt_" + name + "_" + std::to_string(::getpid());
    return c;
  }

  /// A second pool's config for watching or killing the first one's connections: another
  /// application_name, so it never counts or terminates itself.
  PoolConfig observer_config() const {
    PoolConfig c = config(1, 1);
    c.application_name = "observer_" + c.application_name;  // at most 63 bytes
    return c;
  }

  std::string url_;
};

}  // namespace ragperf::testing
