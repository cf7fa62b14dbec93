// The `ragperf` command: subcommands register themselves (command.h); this file only parses,
// dispatches and turns every failure into one line on stderr and a non-zero exit. Messages name
// files and values from outside, so their control characters are written as visible escapes.
#include <iostream>

#include "base/printable.h"
#include "command.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/runtime.h"

namespace {

// The process's threads follow RAGPERF_THREADS / RAGPERF_IO_THREADS. Settings that do not load
// are reported by the command that needs them (`ragperf config` names the bad variable).
void configure_runtime() {
  try {
    ragperf::Runtime::configure_shared(
        ragperf::RuntimeOptions::from_settings(ragperf::load_settings()));
  } catch (const ragperf::ConfigError&) {  // NOLINT(bugprone-empty-catch): reported later
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ragperf: fast retrieval for RAG over PostgreSQL + pgvector"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ragperf 0.1.0");
  for (const auto& setup : ragperf::cli::registered_commands()) setup(app);
  configure_runtime();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ragperf::Error& e) {
    std::cout.flush();
    std::cerr << "ragperf: error: " << ragperf::base::printable(e.what()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "ragperf: error: " << ragperf::base::printable(e.what()) << "\n";
    return 1;
  }
  return ragperf::cli::exit_status();
}
