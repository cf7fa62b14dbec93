// retrieve/hybrid.h: one table's vector and text lists fused into the hybrid list
// (RetrieveOptions::mode = kHybrid), by reciprocal-rank fusion or a weighted sum of min-max
// scaled scores. Each fused hit records its rank in both lists (Hit::vector_rank, text_rank).
#pragma once

#include <vector>

#include "ragperf/retriever.h"
#include "ragperf/vector_store.h"

namespace ragperf::retrieve {

/// `vector_hits` and `text_hits` are each best first. Returns the union (by id), best first by
/// the fused score (Hit::score), ties by id.
std::vector<Hit> fuse_hybrid(std::vector<Hit> vector_hits, std::vector<Hit> text_hits,
                             const RetrieveOptions& options);

}  // namespace ragperf::retrieve
