// merge_hits(): ranks the hits of several tables together (by score or reciprocal-rank fusion),
// optionally one hit per distinct text.
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/retriever.h"

namespace ragperf {

namespace {

struct Candidate {
  Hit hit;
  size_t table = 0;                                // index into per_table
  size_t rank = 0;                                 // 1-based rank within its table
  double score = 0;                                // ranking score
  std::vector<std::pair<double, size_t>> holders;  // (score of the copy, table) of every copy
};

double rrf(const RetrieveOptions& options, size_t rank) {
  return 1.0 / (options.rrf_k + static_cast<double>(rank));
}

// Best first: score, then table order, then id.
bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.table != b.table) return a.table < b.table;
  return a.hit.id < b.hit.id;
}

}  // namespace

std::vector<RetrievedHit> merge_hits(std::vector<std::vector<Hit>> per_table,
                                     std::span<const std::string> table_names,
                                     const RetrieveOptions& options) {
  RAGPERF_ASSERT(per_table.size() == table_names.size());
  if (options.top_k == 0) throw InputError("top_k is 0; ask for at least 1 hit");
  if (!(options.rrf_k > 0)) {
    throw InputError("rrf_k=" + std::to_string(options.rrf_k) + " must be > 0 (the usual is 60)");
  }
  const bool by_rrf = options.fusion == Fusion::kRrf;

  std::vector<Candidate> candidates;
  std::unordered_map<std::string, size_t> by_text;  // text -> index in candidates
  for (size_t t = 0; t < per_table.size(); ++t) {
    for (size_t r = 0; r < per_table[t].size(); ++r) {
      Hit& hit = per_table[t][r];
      const double copy_score = by_rrf ? rrf(options, r + 1) : static_cast<double>(hit.score);
      if (options.deduplicate) {
        auto [it, inserted] = by_text.try_emplace(hit.text, candidates.size());
        if (!inserted) {
          Candidate& c = candidates[it->second];
          bool table_seen = false;
          for (const auto& h : c.holders) table_seen |= h.second == t;
          // RRF counts each table once, at the text's best rank there (hits come best first).
          if (by_rrf && !table_seen) c.score += copy_score;
          if (!table_seen) c.holders.emplace_back(copy_score, t);
          // The best copy: highest similarity, then table order, then id.
          const bool better = hit.score != c.hit.score ? hit.score > c.hit.score
                              : t != c.table           ? t < c.table
                                                       : hit.id < c.hit.id;
          if (better) {
            c.hit = std::move(hit);
            c.table = t;
            c.rank = r + 1;
            if (!by_rrf) c.score = copy_score;
          }
          continue;
        }
      }
      Candidate c;
      c.table = t;
      c.rank = r + 1;
      c.score = copy_score;
      c.holders.emplace_back(copy_score, t);
      c.hit = std::move(hit);
      candidates.push_back(std::move(c));
    }
  }

  const size_t n = std::min(options.top_k, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n),
                    candidates.end(), ranks_before);
  std::vector<RetrievedHit> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Candidate& c = candidates[i];
    RetrievedHit h;
    h.id = std::move(c.hit.id);
    h.text = std::move(c.hit.text);
    h.score = static_cast<float>(c.score);
    h.similarity = c.hit.score;
    h.vector_rank = c.hit.vector_rank;
    h.text_rank = c.hit.text_rank;
    h.metadata_json = c.hit.metadata_json.empty() ? "{}" : std::move(c.hit.metadata_json);
    h.source = std::move(c.hit.source);
    h.source_table = table_names[c.table];
    // The kept copy's table first, then the others by their copy's score.
    std::stable_sort(c.holders.begin(), c.holders.end(), [&](const auto& a, const auto& b) {
      if ((a.second == c.table) != (b.second == c.table)) return a.second == c.table;
      if (a.first != b.first) return a.first > b.first;
      return a.second < b.second;
    });
    for (const auto& holder : c.holders) h.source_tables.push_back(table_names[holder.second]);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace ragperf
