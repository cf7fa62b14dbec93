// cli/ingest_cli_support.h: what the `ragperf ingest` CLI tests share: a tiny word-vector model
// written on the spot, shell quoting, and running `ragperf ingest` with a clean environment and
// the embedded store under a temporary RAGPERF_HOME.
#pragma once

#include <filesystem>
#include <string>

#include "testing/testing.h"

namespace ragperf::testing {

// 'path' for the shell (GCC 12 warns wrongly about "literal" + std::string temporaries).
inline std::string shell_quote(const std::filesystem::path& p) {
  std::string q = "'";
  q += p.string();
  q += "'";
  return q;
}

/// A GloVe-format model of 9 words × 4 dimensions in `folder`/vectors.txt.
inline void write_tiny_glove(const std::filesystem::path& folder) {
  std::string vectors;
  const char* words[] = {"postgres", "index", "table", "vacuum", "query", "the", "is", "a", "and"};
  int w = 0;
  for (const char* word : words) {
    vectors += word;
    for (int j = 0; j < 4; ++j) {
      vectors += ' ';
      vectors += std::to_string(((w + 1) * (j + 2)) % 7 - 3);
    }
    vectors += "\n";
    ++w;
  }
  write_file(folder / "vectors.txt", vectors);
}

/// `ragperf ingest ARGS` with only HOME, RAGPERF_HOME (`tmp`/home) and EMBED_MODEL (`model`) set.
inline CommandResult run_ingest(const TempDir& tmp, const std::string& args,
                                const std::filesystem::path& model) {
  std::string cmd = "env -i HOME='" + tmp.path().string() + "' RAGPERF_HOME='" +
                    (tmp / "home").string() + "' EMBED_MODEL='" + model.string() + "' " +
                    ragperf_binary().string() + " ingest " + args;
  return run_command(cmd);
}

}  // namespace ragperf::testing
