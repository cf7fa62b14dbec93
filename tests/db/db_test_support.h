// db/db_test_support.h: shared set-up for the db integration tests (DATABASE_URL, a per-test
// application_name so pg_stat_activity can be matched to one pool).
#pragma once

#include <gtest/gtest.h>

#include <string>

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
    c.application_name = std::string("rt_") + info->name();
    if (c.application_name.size() > 60) c.application_name.resize(60);
    return c;
  }

  /// A second pool's config for watching or killing the first one's connections: another
  /// application_name, so it never counts or terminates itself.
  PoolConfig observer_config() const {
    PoolConfig c = config(1, 1);
    c.application_name = "observer_" + c.application_name;
    if (c.application_name.size() > 60) c.application_name.resize(60);
    return c;
  }

  std::string url_;
};

}  // namespace ragperf::testing
