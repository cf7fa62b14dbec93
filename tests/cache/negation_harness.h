// cache/negation_harness.h measures the known failure of semantic caches: a question and its
// negation ("is X safe" / "is X not safe") embed close together, so the cache may answer one
// with the other's payload; and, for the other side of the threshold, how many true paraphrases
// it does answer. The pairs are bench/data/cache-pairs/negation.tsv (question<TAB>opposite<TAB>
// kind) and paraphrase.tsv (question<TAB>paraphrase); bench/cache_threshold.py sweeps the same.
//
//   auto pairs = load_negation_pairs();
//   double rate = pair_hit_rate(model, pairs, 0.95);   // share of negations answered wrongly
//   double raw = pair_hit_rate(model, pairs, 0.95, /*negation_guard=*/false);
//   double hits = pair_hit_rate(model, load_paraphrase_pairs(), 0.95);   // true hits
#pragma once

#include <cmath>
#include <cstddef>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/semantic_cache.h"
#include "testing/testing.h"

namespace ragperf::testing {

struct QuestionPair {
  std::string query;
  std::string other;  // the opposite question (negation.tsv) or a paraphrase (paraphrase.tsv)
  std::string kind;   // negation, antonym, reversal, entity; "paraphrase" for paraphrase.tsv
};

/// The rows of bench/data/cache-pairs/<name>: two or three tab-separated fields per line, `#`
/// lines and blank lines skipped. Throws InputError naming the file and line otherwise.
inline std::vector<QuestionPair> load_question_pairs(const std::string& name,
                                                     const std::string& default_kind) {
  const auto path = source_dir() / "bench" / "data" / "cache-pairs" / name;
  std::ifstream in(path);
  if (!in) throw InputError("cannot read " + path.string());
  std::vector<QuestionPair> pairs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) throw InputError(path.string() + ": no tab in '" + line + "'");
    const auto tab2 = line.find('\t', tab + 1);
    QuestionPair p{line.substr(0, tab), line.substr(tab + 1, tab2 - tab - 1), default_kind};
    if (tab2 != std::string::npos) p.kind = line.substr(tab2 + 1);
    pairs.push_back(std::move(p));
  }
  return pairs;
}

inline std::vector<QuestionPair> load_negation_pairs() {
  return load_question_pairs("negation.tsv", "negation");
}
inline std::vector<QuestionPair> load_paraphrase_pairs() {
  return load_question_pairs("paraphrase.tsv", "paraphrase");
}

/// Embeddings of every pair [2 * pairs.size(), dim]: row 2i the query, row 2i + 1 the other.
inline EmbeddingMatrix embed_pairs(EmbeddingModel& model, const std::vector<QuestionPair>& pairs) {
  std::vector<std::string> texts;
  for (const auto& p : pairs) {
    texts.push_back(p.query);
    texts.push_back(p.other);
  }
  return model.embed(texts);
}

/// Cosine similarity of each pair's two questions under `model` (in file order).
inline std::vector<double> pair_similarities(EmbeddingModel& model,
                                             const std::vector<QuestionPair>& pairs) {
  const EmbeddingMatrix m = embed_pairs(model, pairs);
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

/// For each pair, stores the query in a SemanticCache with `threshold` (a scope of its own, so
/// no other pair's entry can answer) and looks up the other question: the share of lookups that
/// hit. On negation pairs that is the false-hit rate, on paraphrases the true-hit rate.
inline double pair_hit_rate(EmbeddingModel& model, const std::vector<QuestionPair>& pairs,
                            double threshold, bool negation_guard = true) {
  const EmbeddingMatrix m = embed_pairs(model, pairs);
  SemanticCache cache({.capacity = pairs.size() * 2,
                       .similarity_threshold = threshold,
                       .negation_guard = negation_guard});
  size_t hits = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    std::string table = "pair";  // append form: GCC 12 -O3 flags "lit" + to_string (-Wrestrict)
    table.append(std::to_string(i));
    const CacheScope scope{.tables = {table}, .top_k = 4, .model_id = model.id()};
    cache.store(scope, pairs[i].query, m.row(2 * i), "q");
    if (cache.lookup(scope, pairs[i].other, m.row(2 * i + 1))) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(pairs.size());
}

}  // namespace ragperf::testing
