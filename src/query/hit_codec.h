// query/hit_codec.h defines the cache payload of a QueryPipeline answer: a compact binary
// encoding of std::vector<RetrievedHit> (decoding a cache hit must cost far less than the query it
// saves, and parsing JSON would not).
//
//   std::string payload = encode_hits(hits);
//   std::optional<std::vector<RetrievedHit>> back = decode_hits(payload);   // nullopt: malformed
//
// Layout (little-endian): "RPH4", u32 count, then per hit: f32 score, f32 similarity, u8 1 when
// reranked (else 0), f32 retrieval_score (0 when not reranked), u32 vector_rank, u32 text_rank,
// five
// u32-length-prefixed strings (id, text, metadata_json, source, source_table), u32 count of
// source_tables and as many u32-length-prefixed strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/retriever.h"

namespace ragperf::query {

std::string encode_hits(const std::vector<RetrievedHit>& hits);
/// nullopt for any payload encode_hits() did not write (wrong magic, truncated, trailing bytes).
std::optional<std::vector<RetrievedHit>> decode_hits(std::string_view payload);

}  // namespace ragperf::query
