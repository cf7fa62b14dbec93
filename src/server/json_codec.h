// server/json_codec.h: the JSON bodies of the HTTP API. Parsing validates every field and throws
// HttpError naming the field and what to send instead; encoding never throws (invalid UTF-8 in
// stored text is replaced, not fatal).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/retriever.h"
#include "server/http_types.h"

namespace ragperf::server {

/// POST /query.
struct QueryRequest {
  std::string text;
  std::vector<std::string> tables;  // empty: the server's default tables
  size_t top_k = 4;
  bool exact = false;
  /// "rerank": true or {"candidates": N}: rerank with the server's cross-encoder.
  bool rerank = false;
  size_t rerank_candidates = 0;  // 0: the server's default
  /// "where": a metadata filter (ragperf/filter.h), checked here; "" for none.
  std::string where;
  /// "mode": "vector" (default), "text" or "hybrid".
  SearchMode mode = SearchMode::kVector;
};

/// POST /embed.
struct EmbedRequest {
  std::vector<std::string> texts;
};

/// The body as a JSON object: 400 for invalid UTF-8 or JSON (with the byte offset), 422 when it
/// is valid JSON but not an object.
nlohmann::json parse_object(std::string_view body, std::string_view expected_shape);

/// Throws HttpError (400 / 422) naming the field; `max_top_k` bounds top_k; rerank candidates
/// are 1..RerankOptions::kMaxCandidates.
QueryRequest parse_query_request(std::string_view body, size_t max_top_k);
/// Throws HttpError (400 / 422); at most `max_texts` texts.
EmbedRequest parse_embed_request(std::string_view body, size_t max_texts);

/// The hits of a /query answer: [{"id","table","text","score","similarity","source",
/// "source_tables","metadata"}], best first.
nlohmann::json hits_to_json(const std::vector<RetrievedHit>& hits);

/// Compact JSON text; invalid UTF-8 inside strings is replaced by U+FFFD instead of throwing.
std::string dump(const nlohmann::json& value);

HttpResponse json_response(unsigned status, const nlohmann::json& body);
/// {"error": message, "field": field (when set)} with the error's status.
HttpResponse error_response(const HttpError& error);

/// The one table from a ragperf error kind to an HTTP status: input 422, overloaded 429,
/// connection / pool exhausted / unavailable / cancelled 503, timeout 504, the rest 500.
unsigned status_for(ErrorCode code);

}  // namespace ragperf::server
