// The `ragperf` command: subcommands register themselves (command.h); this file only parses,
// dispatches and turns every failure into one line on stderr and a non-zero exit.
#include <iostream>

#include "command.h"
#include "ragperf/error.h"

int main(int argc, char** argv) {
  CLI::App app{"ragperf: fast retrieval for RAG over PostgreSQL + pgvector"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ragperf 0.1.0");
  for (const auto& setup : ragperf::cli::registered_commands()) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ragperf::Error& e) {
    std::cout.flush();
    std::cerr << "ragperf: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "ragperf: error: " << e.what() << "\n";
    return 1;
  }
  return ragperf::cli::exit_status();
}
