#include "testing/testing.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace ragperf::testing {

std::filesystem::path shared_dir() {
  const char* env = std::getenv("RAGPERF_SHARED_DIR");
  std::filesystem::path p = env != nullptr ? env : "";
  if (p.empty() || !std::filesystem::exists(p / "models")) {
    ADD_FAILURE() << "test fixtures not found: RAGPERF_SHARED_DIR='" << p.string()
                  << "' has no models/; configure with -DRAGPERF_SHARED_DIR=<folder>";
  }
  return p;
}

std::filesystem::path source_dir() {
  return RAGPERF_SOURCE_DIR;
}

std::string database_url() {
  const char* env = std::getenv("DATABASE_URL");
  return env != nullptr ? env : "";
}

std::filesystem::path ragperf_binary() {
  return RAGPERF_BINARY;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("ragperf-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rd() % 100000));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::string& command, const std::string& input) {
  TempDir tmp;
  write_file(tmp / "in", input);
  std::string full = "(" + command + ") <'" + (tmp / "in").string() + "' >'" +
                     (tmp / "out").string() + "' 2>'" + (tmp / "err").string() + "'";
  int raw = std::system(full.c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_file(tmp / "out");
  r.err = read_file(tmp / "err");
  return r;
}

}  // namespace ragperf::testing
