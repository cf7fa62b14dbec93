// testing/testing.h defines helpers shared by ragperf's test suites.
//
//   auto dir = ragperf::testing::shared_dir() / "models" / "bert-l2-h384-cls-f32";
//   ragperf::testing::TempDir tmp;              // removed when it goes out of scope
//   std::string url = ragperf::testing::database_url();   // "" when no server was started
#pragma once

#include <filesystem>
#include <string>

namespace ragperf::testing {

/// The fixtures folder (models/, reference/): $RAGPERF_SHARED_DIR, set by CMake for ctest.
/// Fails the calling test (ADD_FAILURE) when it is missing, so a lost fixture never passes.
std::filesystem::path shared_dir();

/// The repository root (for scripts/ and test data under tests/data/).
std::filesystem::path source_dir();

/// DATABASE_URL as exported by scripts/test.sh after scripts/pg_start.sh; empty if unset.
std::string database_url();

/// The `ragperf` binary built beside the tests.
std::filesystem::path ragperf_binary();

/// A fresh folder under the system temp dir, removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Writes `content` to `path` (binary), creating parent folders.
void write_file(const std::filesystem::path& path, const std::string& content);

/// Reads a whole file.
std::string read_file(const std::filesystem::path& path);

/// Runs `command` through /bin/sh with `input` on stdin; returns exit status, stdout, stderr.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& command, const std::string& input = "");

}  // namespace ragperf::testing
