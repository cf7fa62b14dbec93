// Input checks shared by LocalStore and PgVectorStore (store/chunk_checks.h).
#include "store/chunk_checks.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "ragperf/error.h"

namespace ragperf::store {

void check_finite(std::span<const float> v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      throw InputError(what + " has a non-finite value at position " + std::to_string(i) +
                       "; vectors must be finite");
    }
  }
}

void validate_chunks(const CollectionInfo& info, std::span<const Chunk> chunks) {
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    std::string what = "chunk " + std::to_string(i) + " (id '" + c.id.substr(0, 80) + "')";
    if (c.id.empty()) throw InputError("chunk " + std::to_string(i) + " has an empty id");
    if (c.embedding.size() != info.dim) {
      throw InputError(what + " has a " + std::to_string(c.embedding.size()) +
                       "-dimensional embedding but table '" + info.name + "' holds dim " +
                       std::to_string(info.dim) + " (model " + info.model_id +
                       "); embed with that model or use another table");
    }
    check_finite(c.embedding, what + " embedding");
    if (!c.metadata_json.empty()) {
      auto j = nlohmann::json::parse(c.metadata_json, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        throw InputError(what + " metadata is not a JSON object: " + c.metadata_json.substr(0, 80));
      }
    }
  }
}

void throw_no_text_search(const std::string& table) {
  throw InputError("table " + table + " has no full-text index; run `ragperf migrate --table " +
                   table + "` (or ingest into it again) to add one");
}

}  // namespace ragperf::store
