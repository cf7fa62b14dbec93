// fuzz/dotenv.cpp: the `.env` parser and the settings validation behind it (ragperf/config.h) on
// arbitrary files. A file the parser cannot read, or a value out of range, must be a
// ConfigError; a file it reads must give settings whose provenance names every variable.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "check.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ragperf::fuzz::ScratchDir dir("dotenv");
  const auto path = dir.write(".env", data, size);
  std::map<std::string, std::string> variables;
  try {
    variables = ragperf::parse_dotenv(path);
  } catch (const ragperf::ConfigError&) {
    return 0;
  }
  for (const auto& [key, value] : variables) {
    RAGPERF_FUZZ_CHECK(!key.empty());
    RAGPERF_FUZZ_CHECK(key.find('=') == std::string::npos);
  }
  try {
    const ragperf::Settings settings = ragperf::load_settings({}, path, /*dotenv_required=*/true);
    for (const auto& [key, value] : variables) {
      const auto found = settings.lookup(key);
      RAGPERF_FUZZ_CHECK(found && *found == value);
    }
    for (const auto& v : settings.provenance) (void)v.display();
  } catch (const ragperf::ConfigError&) {
    // A value out of range: validation's documented answer.
  }
  return 0;
}
