// bench/throwaway_pg.h: a throwaway PostgreSQL + pgvector cluster for benchmarks run without
// DATABASE_URL (scripts/pg_start.sh in a temporary folder; pg_stop.sh and removal on destruction).
//
//   std::unique_ptr<ragperf::bench::ThrowawayServer> server;
//   if (url.empty()) { server = std::make_unique<ragperf::bench::ThrowawayServer>(); url =
//   server->url; }
#pragma once

#include <filesystem>
#include <string>

namespace ragperf::bench {

struct ThrowawayServer {
  /// Starts the cluster; ConfigError naming the script when it cannot be found or fails.
  ThrowawayServer();
  ~ThrowawayServer();
  ThrowawayServer(const ThrowawayServer&) = delete;
  ThrowawayServer& operator=(const ThrowawayServer&) = delete;

  std::filesystem::path dir;
  std::string url;
};

}  // namespace ragperf::bench
