// cli/command.h defines how `ragperf` subcommands register themselves.
//
// Each subcommand lives in src/cli/cmd_<name>.cpp (or bench/<name>_bench.cpp for
// `ragperf bench <name>`) and registers a setup function at static-initialisation time:
//
//   static void setup_tokenize(CLI::App& app) {
//     auto* cmd = app.add_subcommand("tokenize", "Token ids for JSON lines on stdin");
//     cmd->callback([] { ... });
//   }
//   RAGPERF_REGISTER_COMMAND(setup_tokenize);
//
// A callback reports failure by throwing (ragperf::Error or CLI::Error); main() prints one line
// naming the problem and exits non-zero. Setup functions run in registration order, which is
// unspecified across files; `bench_command()` creates `ragperf bench` on first use.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace ragperf::cli {

using CommandSetup = std::function<void(CLI::App& app)>;

/// Adds a subcommand setup function; returns true so it can initialise a static.
bool register_command(CommandSetup setup);

/// Every registered setup function.
const std::vector<CommandSetup>& registered_commands();

/// The `ragperf bench` subcommand (created on first call); benchmarks add their own below it.
CLI::App& bench_command(CLI::App& app);

/// Exit status of a subcommand callback; main() returns it (0 unless a command sets it).
int& exit_status();

}  // namespace ragperf::cli

#define RAGPERF_CONCAT_INNER(a, b) a##b
#define RAGPERF_CONCAT(a, b) RAGPERF_CONCAT_INNER(a, b)
#define RAGPERF_REGISTER_COMMAND(fn)                                                 \
  [[maybe_unused]] static const bool RAGPERF_CONCAT(ragperf_registered_, __LINE__) = \
      ::ragperf::cli::register_command(fn)
