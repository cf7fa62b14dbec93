// batch/hit_codec.h defines the cache payload of a BatchProcessor answer: a compact binary
// encoding of std::vector<Hit> (decoding a cache hit must cost far less than the query it saves).
//
//   std::string payload = encode_hits(hits);
//   std::optional<std::vector<Hit>> back = decode_hits(payload);   // nullopt when malformed
//
// Layout (little-endian): "RPH1", u32 count, then per hit: f32 score and five u32-length-prefixed
// strings (id, text, metadata_json, source, source_table).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/vector_store.h"

namespace ragperf::batch {

std::string encode_hits(const std::vector<Hit>& hits);
/// nullopt for any payload encode_hits() did not write (wrong magic, truncated, trailing bytes).
std::optional<std::vector<Hit>> decode_hits(std::string_view payload);

}  // namespace ragperf::batch
