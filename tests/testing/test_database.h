// tests/testing/test_database.h: what a `_db_test` needs of the throwaway PostgreSQL it runs
// against (scripts/test.sh starts it and exports DATABASE_URL):
//
//   auto pool = ragperf::testing::test_pool(2);         // throws (the test fails) without one
//   const std::string t = ragperf::testing::unique_table("flt");   // "flt_<pid>_<n>"
#pragma once

#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "ragperf/db_pool.h"
#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf::testing {

/// A pool (min 1, max `max_size` connections) on DATABASE_URL; ConfigError saying how to start a
/// server when it is not set, so the test fails with that message.
inline std::shared_ptr<DatabaseConnectionPool> test_pool(size_t max_size = 4) {
  const std::string url = database_url();
  if (url.empty()) {
    throw ConfigError(
        "DATABASE_URL is not set: start a server with scripts/pg_start.sh DIR and export "
        "DATABASE_URL, or run scripts/test.sh");
  }
  PoolConfig cfg = PoolConfig::from_url(url);
  cfg.min_size = 1;
  cfg.max_size = max_size;
  return std::make_shared<DatabaseConnectionPool>(cfg);
}

/// A table name no other test process uses: ctest runs every test case as its own process, in
/// parallel, against one database, so fixed names would collide.
inline std::string unique_table(const std::string& base) {
  static std::atomic<int> counter{0};
  std::string name = base;
  name += '_';
  name += std::to_string(::getpid());
  name += '_';
  name += std::to_string(counter++);
  return name;
}

}  // namespace ragperf::testing
