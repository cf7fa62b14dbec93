// cache/negation_harness.h measures the known failure of semantic caches: a question and its
// negation ("is X safe" / "is X not safe") embed close together, so the cache may answer one
// with the other's payload. tests/data/negation_pairs.tsv holds the pairs (query<TAB>negation).
//
//   auto pairs = load_negation_pairs();
//   double rate = negation_false_hit_rate(model, 0.95);   // share of negations answered wrongly
//   double raw = negation_false_hit_rate(model, 0.95, /*negation_guard=*/false);
#pragma once

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/semantic_cache.h"
#include "testing/testing.h"

namespace ragperf::testing {

struct NegationPair {
  std::string query;
  std::string negation;
};

inline std::vector<NegationPair> load_negation_pairs() {
  const auto path = source_dir() / "tests" / "data" / "negation_pairs.tsv";
  std::ifstream in(path);
  if (!in) throw InputError("cannot read " + path.string());
  std::vector<NegationPair> pairs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) throw InputError(path.string() + ": no tab in '" + line + "'");
    pairs.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return pairs;
}

/// Cosine similarity of each pair's query and negation under `model` (in file order).
inline std::vector<double> negation_similarities(EmbeddingModel& model) {
  const auto pairs = load_negation_pairs();
  std::vector<std::string> texts;
  for (const auto& p : pairs) {
    texts.push_back(p.query);
    texts.push_back(p.negation);
  }
  const EmbeddingMatrix m = model.embed(texts);
  std::vector<double> sims;
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto a = m.row(2 * i), b = m.row(2 * i + 1);
    double dot = 0, na = 0, nb = 0;
    for (size_t d = 0; d < m.dim; ++d) {
      dot += double{a[d]} * b[d];
      na += double{a[d]} * a[d];
      nb += double{b[d]} * b[d];
    }
    sims.push_back(dot / std::sqrt(na * nb));
  }
  return sims;
}

/// Stores every query of the set in one SemanticCache with `threshold`, then looks up every
/// negation: the share of negations that get a (semantic) hit is the false-hit rate.
inline double negation_false_hit_rate(EmbeddingModel& model, double threshold,
                                      bool negation_guard = true) {
  const auto pairs = load_negation_pairs();
  std::vector<std::string> texts;
  for (const auto& p : pairs) {
    texts.push_back(p.query);
    texts.push_back(p.negation);
  }
  const EmbeddingMatrix m = model.embed(texts);
  SemanticCache cache({.capacity = pairs.size() * 2,
                       .similarity_threshold = threshold,
                       .negation_guard = negation_guard});
  const CacheScope scope{.tables = {"negation_pairs"}, .top_k = 4, .model_id = model.id()};
  for (size_t i = 0; i < pairs.size(); ++i) cache.store(scope, pairs[i].query, m.row(2 * i), "q");
  size_t false_hits = 0;
  for (size_t i = 0; i < pairs.size(); ++i)
    if (cache.lookup(scope, pairs[i].negation, m.row(2 * i + 1))) ++false_hits;
  return static_cast<double>(false_hits) / static_cast<double>(pairs.size());
}

}  // namespace ragperf::testing
