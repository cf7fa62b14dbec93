// `ragperf bench pool --chaos` as a user runs it against DATABASE_URL: the server terminates the
// pool's backends every 200 ms during the vector phase, and the benchmark still finishes (exit 0),
// prints its JSON, answers calls between the kills and leaves no connection open.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace ragperf {
namespace {

TEST(BenchPoolCli, ChaosRunFinishesCountsKillsAndLeavesNothingOpen) {
  const std::string url = testing::database_url();
  if (url.empty())
    GTEST_FAIL() << "DATABASE_URL is not set: run scripts/test.sh, or export "
                    "DATABASE_URL=$(scripts/pg_start.sh DIR) before ctest -L db";
  // `timeout` turns a hang into a failure naming it instead of a stuck suite.
  const std::string cmd = "DATABASE_URL='" + url + "' timeout 120 " +
                          testing::ragperf_binary().string() +
                          " bench pool --chaos --json --duration 1 --rows 500";
  const testing::CommandResult r = testing::run_command(cmd);
  ASSERT_NE(r.status, 124) << "bench pool --chaos hung (killed after 120 s)\n" << r.err;
  ASSERT_EQ(r.status, 0) << "stderr:\n" << r.err << "\nstdout:\n" << r.out;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(r.out);
  } catch (const nlohmann::json::exception& e) {
    FAIL() << "stdout is not JSON (" << e.what() << "):\n" << r.out;
  }
  EXPECT_EQ(j.value("benchmark", ""), "pool");
  ASSERT_TRUE(j.contains("connections_left_open")) << j.dump(2);
  ASSERT_TRUE(j.contains("chaos_backends_killed")) << j.dump(2);
  ASSERT_TRUE(j.contains("chaos_ok_calls")) << j.dump(2);
  ASSERT_TRUE(j.contains("chaos_failed_calls")) << j.dump(2);
  EXPECT_EQ(j["connections_left_open"].get<int64_t>(), 0);
  // About five kill rounds in one second, each terminating up to 10 backends.
  EXPECT_GT(j["chaos_backends_killed"].get<int64_t>(), 0) << j.dump(2);
  EXPECT_GT(j["chaos_ok_calls"].get<int64_t>(), 0) << j.dump(2);
  EXPECT_GE(j["chaos_failed_calls"].get<int64_t>(), 0);
  // The pool saw the kills and replaced what it lost.
  EXPECT_GT(j["pool_connections_lost"].get<int64_t>(), 0) << j.dump(2);
  // The two guide rows are still measured in a chaos run.
  ASSERT_TRUE(j.contains("rows"));
  std::vector<std::string> names;
  for (const auto& row : j["rows"]) names.push_back(row["name"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"connection_new_vs_pooled",
                                             "queries_10_unpooled_vs_pooled"}));
  // No pgbench comparison while backends are being killed.
  EXPECT_FALSE(j.contains("pgbench_qps_c10"));
}

TEST(BenchPoolCli, BadOptionsAreRefusedBeforeTouchingTheServer) {
  // --duration below 0.2 s and --rows below 10 are refused by the option checks (exit != 0,
  // the option named), without connecting anywhere.
  const std::string bin = testing::ragperf_binary().string();
  const auto short_run = testing::run_command("DATABASE_URL=postgresql://nobody@127.0.0.1:1/none " +
                                              bin + " bench pool --duration 0.01");
  EXPECT_NE(short_run.status, 0);
  EXPECT_NE((short_run.out + short_run.err).find("--duration"), std::string::npos)
      << short_run.out << short_run.err;
  const auto few_rows = testing::run_command("DATABASE_URL=postgresql://nobody@127.0.0.1:1/none " +
                                             bin + " bench pool --rows 3");
  EXPECT_NE(few_rows.status, 0);
  EXPECT_NE((few_rows.out + few_rows.err).find("--rows"), std::string::npos)
      << few_rows.out << few_rows.err;
}

TEST(BenchPoolCli, UnreachableServerFailsWithItsAddress) {
  // Nothing listens on port 1: a connection error naming host:port/database, exit status 1.
  const auto r =
      testing::run_command("DATABASE_URL=postgresql://nobody@127.0.0.1:1/none timeout 60 " +
                           testing::ragperf_binary().string() + " bench pool --chaos --duration 1");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:1/none"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ragperf
