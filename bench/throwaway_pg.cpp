#include "throwaway_pg.h"

#include <stdlib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <vector>

#include "ragperf/error.h"

namespace ragperf::bench {

namespace fs = std::filesystem;

namespace {

// scripts/NAME from RAGPERF_SCRIPTS_DIR, else from a `scripts` folder above the binary.
fs::path find_script(const std::string& name) {
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("RAGPERF_SCRIPTS_DIR")) candidates.emplace_back(dir);
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int up = 0; up < 6 && !dir.empty() && dir != dir.parent_path(); ++up) {
    candidates.push_back(dir / "scripts");
    dir = dir.parent_path();
  }
  for (const auto& c : candidates) {
    if (fs::exists(c / name, ec)) return c / name;
  }
  throw ConfigError("cannot find scripts/" + name + "; set DATABASE_URL or RAGPERF_SCRIPTS_DIR");
}

// stdout of `command` without its trailing newlines; ConfigError when it fails.
std::string run_capture(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw ConfigError("cannot run " + command);
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  if (::pclose(pipe) != 0) throw ConfigError(command + " failed: " + out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

ThrowawayServer::ThrowawayServer() {
  char tmpl[] = "/tmp/ragperf-bench-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw ConfigError("cannot create a temporary folder under /tmp");
  dir = tmpl;
  url = run_capture("bash '" + find_script("pg_start.sh").string() + "' '" + dir.string() +
                    "' 2>/dev/null");
  const size_t nl = url.rfind('\n');
  if (nl != std::string::npos) url = url.substr(nl + 1);
}

ThrowawayServer::~ThrowawayServer() {
  try {
    run_capture("bash '" + find_script("pg_stop.sh").string() + "' '" + dir.string() +
                "' >/dev/null 2>&1");
    std::error_code ec;
    fs::remove_all(dir, ec);
  } catch (...) {  // NOLINT(bugprone-empty-catch): best effort at exit
  }
}

void ensure_database(Settings& settings, std::unique_ptr<ThrowawayServer>& server,
                     const std::string& bench) {
  if (!settings.database_url.empty()) return;
  std::fprintf(stderr, "%s: DATABASE_URL unset; starting a throwaway PostgreSQL ...\n",
               bench.c_str());
  server = std::make_unique<ThrowawayServer>();
  settings.database_url = server->url;
}

}  // namespace ragperf::bench
