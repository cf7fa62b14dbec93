#include "command.h"

namespace ragperf::cli {

static std::vector<CommandSetup>& registry() {
  static std::vector<CommandSetup> commands;
  return commands;
}

bool register_command(CommandSetup setup) {
  registry().push_back(std::move(setup));
  return true;
}

const std::vector<CommandSetup>& registered_commands() {
  return registry();
}

CLI::App& bench_command(CLI::App& app) {
  for (CLI::App* existing :
       app.get_subcommands([](CLI::App* sub) { return sub->get_name() == "bench"; }))
    return *existing;
  auto* bench = app.add_subcommand(
      "bench", "Benchmarks: baseline vs optimized for each component (see README, Performance)");
  bench->require_subcommand(0, 1);
  return *bench;
}

int& exit_status() {
  static int status = 0;
  return status;
}

}  // namespace ragperf::cli
