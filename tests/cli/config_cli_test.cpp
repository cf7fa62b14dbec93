// `ragperf config` as a user runs it: every value, its source, passwords masked, bad input fails.
#include <gtest/gtest.h>

#include "testing/testing.h"

namespace ragperf {
namespace {

std::string ragperf_config(const std::string& env, const std::string& cwd) {
  return "cd '" + cwd + "' && env -i HOME=/tmp " + env + " " + testing::ragperf_binary().string() +
         " config";
}

TEST(ConfigCommand, PrintsValuesAndSources) {
  testing::TempDir tmp;
  testing::write_file(tmp / ".env", "BATCH_SIZE=8\n");
  auto r = testing::run_command(ragperf_config(
      "RAGPERF_PROFILE=server DATABASE_URL=postgresql://u:hunter2@h/db", tmp.path().string()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("BATCH_SIZE"), std::string::npos);
  EXPECT_NE(r.out.find("= 8  [.env]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[profile server]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EMBED_MODEL"), std::string::npos);
  EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
}

// The line of `name` in `ragperf config`'s output ("" when missing).
std::string line_of(const std::string& out, const std::string& name) {
  size_t at = out.find(name + " ");
  if (at == std::string::npos) return "";
  return out.substr(at, out.find('\n', at) - at);
}

TEST(ConfigCommand, ServerProfilePrintsTheGuidesPool) {
  testing::TempDir tmp;
  auto r = testing::run_command(ragperf_config("RAGPERF_PROFILE=server", tmp.path().string()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(line_of(r.out, "CONNECTION_POOL_SIZE").find("= 15  [profile server]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(line_of(r.out, "MIN_POOL_SIZE").find("= 10  [profile server]"), std::string::npos)
      << r.out;
  EXPECT_NE(line_of(r.out, "MAX_POOL_SIZE").find("= 30  [profile server]"), std::string::npos)
      << r.out;
}

TEST(ConfigCommand, InvalidValueFailsWithOneLine) {
  testing::TempDir tmp;
  auto r =
      testing::run_command(ragperf_config("MIN_POOL_SIZE=9 MAX_POOL_SIZE=3", tmp.path().string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("ragperf: error: MIN_POOL_SIZE=9"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace ragperf
