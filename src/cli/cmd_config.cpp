// `ragperf config`: every effective setting and where it came from (passwords masked).
#include <iostream>

#include "command.h"
#include "ragperf/config.h"

namespace {

void setup_config(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "config", "Print every effective setting and its source (environment, .env, profile)");
  cmd->callback([] {
    ragperf::Settings s = ragperf::load_settings();
    size_t width = 0;
    for (const auto& v : s.provenance) width = std::max(width, v.name.size());
    for (const auto& v : s.provenance) {
      std::cout << v.name << std::string(width - v.name.size() + 2, ' ') << "= "
                << (v.value.empty() ? "(unset)" : v.display()) << "  [" << v.origin << "]\n";
    }
  });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_config);
