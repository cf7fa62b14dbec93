// bench/throwaway_pg.h: a throwaway PostgreSQL + pgvector cluster for benchmarks run without
// DATABASE_URL (scripts/pg_start.sh in a temporary folder; pg_stop.sh and removal on destruction).
//
//   std::unique_ptr<ragperf::bench::ThrowawayServer> server;   // outlives the benchmark's work
//   ragperf::bench::ensure_database(settings, server, "bench retrieve");
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "ragperf/config.h"

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

/// When settings.database_url is empty: starts a throwaway cluster into `server` (which the
/// caller keeps alive while it benchmarks), sets settings.database_url to it and says so on
/// stderr, naming `bench`. Otherwise does nothing.
void ensure_database(Settings& settings, std::unique_ptr<ThrowawayServer>& server,
                     const std::string& bench);

}  // namespace ragperf::bench
