#include "embed/max_sequence_length.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "embed/json_file.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"

namespace ragperf::embed {

namespace {

namespace fs = std::filesystem;

constexpr size_t kDefaultMaxPositionEmbeddings = 512;  // transformers' BertConfig default
constexpr double kNoLimit = 1e9;  // transformers' VERY_LARGE_INTEGER is int(1e30)

/// j[key] as a positive integer (1 or 1.0), nullopt when absent or null.
std::optional<size_t> positive_integer(const nlohmann::json& j, const char* key,
                                       const fs::path& file) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  const bool ok = it->is_number() && it->get<double>() >= 1 &&
                  it->get<double>() == std::floor(it->get<double>()) &&
                  it->get<double>() < kNoLimit;
  if (!ok) {
    throw ModelError(file.string() + ": \"" + key + "\" must be a positive integer, got " +
                     it->dump() + "; fix or re-download the file");
  }
  return static_cast<size_t>(it->get<double>());
}

}  // namespace

SequenceLengthSources read_sequence_length_sources(const fs::path& folder) {
  SequenceLengthSources s;
  if (const auto st = folder / "sentence_bert_config.json"; fs::exists(st)) {
    s.max_seq_length = positive_integer(read_json_file(st), "max_seq_length", st);
  }
  if (const auto config = folder / "config.json"; fs::exists(config)) {
    s.max_position_embeddings =
        positive_integer(read_json_file(config), "max_position_embeddings", config)
            .value_or(kDefaultMaxPositionEmbeddings);
  }
  if (const auto tc = folder / "tokenizer_config.json"; fs::exists(tc)) {
    // transformers writes the "no limit" sentinel (1e30) here; anything that is not a usable
    // length counts as no limit, as it does for sentence-transformers' min().
    const auto j = read_json_file(tc);
    if (j.is_object() && j.contains("model_max_length") && j["model_max_length"].is_number()) {
      const double m = j["model_max_length"].get<double>();
      if (m >= 1 && m < kNoLimit) s.model_max_length = static_cast<size_t>(m);
    }
  }
  return s;
}

size_t resolve_max_sequence_length(const SequenceLengthSources& s) {
  size_t n = kDefaultMaxPositionEmbeddings;
  if (s.max_seq_length) {
    n = *s.max_seq_length;
  } else if (s.max_position_embeddings && s.model_max_length) {
    n = std::min(*s.max_position_embeddings, *s.model_max_length);
  } else if (s.max_position_embeddings) {
    n = *s.max_position_embeddings;
  } else if (s.model_max_length) {
    n = *s.model_max_length;
  }
  if (s.max_position_embeddings) n = std::min(n, *s.max_position_embeddings);
  if (n < 2) {
    throw ModelError("max_seq_length " + std::to_string(n) +
                     " leaves no room for [CLS] and [SEP]; set max_seq_length in "
                     "sentence_bert_config.json (or model_max_length in tokenizer_config.json) "
                     "to at least 2");
  }
  return n;
}

}  // namespace ragperf::embed

namespace ragperf {

size_t max_sequence_length(const std::filesystem::path& folder) {
  return embed::resolve_max_sequence_length(embed::read_sequence_length_sources(folder));
}

}  // namespace ragperf
