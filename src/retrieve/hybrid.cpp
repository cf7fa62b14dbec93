// retrieve/hybrid.cpp: search mode and hybrid fusion names, and fuse_hybrid() (see hybrid.h).
#include "retrieve/hybrid.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "ragperf/error.h"

namespace ragperf {

const char* to_string(SearchMode mode) {
  switch (mode) {
    case SearchMode::kText:
      return "text";
    case SearchMode::kHybrid:
      return "hybrid";
    case SearchMode::kVector:
      break;
  }
  return "vector";
}

SearchMode parse_search_mode(std::string_view text) {
  if (text == "vector") return SearchMode::kVector;
  if (text == "text") return SearchMode::kText;
  if (text == "hybrid") return SearchMode::kHybrid;
  throw InputError("search mode '" + std::string(text) +
                   "' is not known; use vector (embeddings), text (full-text) or hybrid (both, "
                   "fused)");
}

const char* to_string(HybridFusion fusion) {
  return fusion == HybridFusion::kWeighted ? "weighted" : "rrf";
}

HybridFusion parse_hybrid_fusion(std::string_view text) {
  if (text == "rrf") return HybridFusion::kRrf;
  if (text == "weighted") return HybridFusion::kWeighted;
  throw InputError("hybrid fusion '" + std::string(text) +
                   "' is not known; use rrf (reciprocal-rank fusion) or weighted (scaled scores)");
}

namespace retrieve {
namespace {

/// Each hit's score scaled to [0, 1] over its list (all 1 when the list's scores are equal).
std::vector<double> scaled(const std::vector<Hit>& hits) {
  std::vector<double> out(hits.size(), 1.0);
  if (hits.empty()) return out;
  const auto [lo, hi] = std::minmax_element(
      hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.score < b.score; });
  const double span = static_cast<double>(hi->score) - lo->score;
  if (span <= 0) return out;
  for (size_t i = 0; i < hits.size(); ++i) out[i] = (hits[i].score - lo->score) / span;
  return out;
}

}  // namespace

std::vector<Hit> fuse_hybrid(std::vector<Hit> vector_hits, std::vector<Hit> text_hits,
                             const RetrieveOptions& options) {
  struct Fused {
    Hit hit;
    double score = 0;
  };
  std::vector<Fused> fused;
  std::unordered_map<std::string, size_t> at;  // id -> index in fused
  const bool rrf = options.hybrid_fusion == HybridFusion::kRrf;
  auto add = [&](std::vector<Hit>& hits, bool text) {
    const std::vector<double> scale = rrf ? std::vector<double>{} : scaled(hits);
    const double weight = text ? options.text_weight : 1.0 - options.text_weight;
    for (size_t r = 0; r < hits.size(); ++r) {
      auto [it, fresh] = at.try_emplace(hits[r].id, fused.size());
      if (fresh) fused.push_back({std::move(hits[r]), 0.0});
      Fused& f = fused[it->second];
      (text ? f.hit.text_rank : f.hit.vector_rank) = r + 1;
      f.score += rrf ? 1.0 / (options.rrf_k + static_cast<double>(r + 1)) : weight * scale[r];
    }
  };
  add(vector_hits, false);
  add(text_hits, true);
  std::sort(fused.begin(), fused.end(), [](const Fused& a, const Fused& b) {
    return a.score > b.score || (a.score == b.score && a.hit.id < b.hit.id);
  });
  std::vector<Hit> out;
  out.reserve(fused.size());
  for (Fused& f : fused) {
    f.hit.score = static_cast<float>(f.score);
    out.push_back(std::move(f.hit));
  }
  return out;
}

}  // namespace retrieve
}  // namespace ragperf
