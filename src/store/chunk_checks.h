// store/chunk_checks.h holds the input checks every VectorStore applies before writing or
// searching, so both stores reject bad chunks and queries with the same messages.
#pragma once

#include <span>
#include <string>

#include "ragperf/vector_store.h"

namespace ragperf::store {

/// Throws InputError naming `what` and the position of the first NaN or infinity in `v`.
void check_finite(std::span<const float> v, const std::string& what);

/// Throws InputError for a chunk with an empty id, an embedding whose dimension differs from the
/// collection's, a non-finite embedding, or metadata that is not a JSON object.
void validate_chunks(const CollectionInfo& info, std::span<const Chunk> chunks);

/// Throws the InputError of a text search on `table`, which has no full-text index: it names the
/// migration that adds one.
[[noreturn]] void throw_no_text_search(const std::string& table);

}  // namespace ragperf::store
