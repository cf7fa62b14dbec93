// tests/cli/retrieve_cli_support.h: a private RAGPERF_HOME with the test model and corpus, and
// a way to run `ragperf` there with no database, no .env and no EMBED_MODEL from outside.
#pragma once

#include <filesystem>
#include <string>

#include "testing/testing.h"

namespace ragperf::testing {

class RetrieveCliHome {
 public:
  RetrieveCliHome() {
    namespace fs = std::filesystem;
    const fs::path data = source_dir() / "tests" / "data";
    fs::copy(data / "retrieve_model", model(), fs::copy_options::recursive);
    fs::copy(data / "retrieve_corpus", corpus(), fs::copy_options::recursive);
  }
  std::filesystem::path model() const { return dir_ / "model"; }
  std::filesystem::path corpus() const { return dir_ / "corpus"; }
  std::filesystem::path home() const { return dir_ / "home"; }
  const TempDir& dir() const { return dir_; }

  /// Runs `ragperf ARGS` in the temporary folder with the embedded store under home().
  CommandResult run(const std::string& args, const std::string& input = "") const {
    const std::string cmd = "cd '" + dir_.path().string() +
                            "' && env -u DATABASE_URL -u PGHOST -u PGDATABASE -u PGSERVICE "
                            "-u EMBED_MODEL -u EMBED_DIM -u RAGPERF_PROFILE -u RAGPERF_ENV_FILE "
                            "RAGPERF_HOME='" +
                            home().string() + "' '" + ragperf_binary().string() + "' " + args;
    return run_command(cmd, input);
  }

 private:
  TempDir dir_;
};

}  // namespace ragperf::testing
