// server/json_codec.h: the JSON bodies of the HTTP API. Parsing validates every field and throws
// HttpError naming the field and what to send instead; encoding never throws (invalid UTF-8 in
// stored text is replaced, not fatal).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/embedding_model.h"
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

/// POST /embed: ragperf's body {"texts": [str], "truncate": bool = false,
/// "truncation_direction": "right"|"left"} or TEI's {"inputs": str | [str], "normalize": bool =
/// true, "truncate": bool = false, "truncation_direction": "Right"|"Left"}.
struct EmbedRequest {
  std::vector<std::string> texts;
  bool tei = false;       // TEI's body: the answer is a bare list of vectors
  bool normalize = true;  // TEI's "normalize"
  Truncation truncation = Truncation::kRefuse;
};

/// POST /v1/embeddings (OpenAI): "input" a string, [str], [int] or [[int]]; "model" (echoed,
/// the server serves its one model); "encoding_format" "float" | "base64"; "dimensions";
/// "user"; and, beyond OpenAI's fields, "truncate" / "truncation_direction" as on /embed.
struct OpenAiEmbeddingsRequest {
  std::vector<EmbedInput> inputs;
  std::string model;
  bool base64 = false;
  size_t dimensions = 0;  // 0: the model's own
  Truncation truncation = Truncation::kRefuse;
};

/// POST /rerank (TEI): {"query": str, "texts": [str], "return_text": bool = false,
/// "raw_scores": bool = false, "truncate": bool = false}.
struct RerankRequest {
  std::string query;
  std::vector<std::string> texts;
  bool return_text = false;
  bool raw_scores = false;
  Truncation truncation = Truncation::kRefuse;
};

/// POST /tokenize (TEI): {"inputs": str | [str], "add_special_tokens": bool = true}.
struct TokenizeRequest {
  std::vector<std::string> inputs;
  bool add_special_tokens = true;
};

/// The body as a JSON object: 400 for invalid UTF-8 or JSON (with the byte offset), 422 when it
/// is valid JSON but not an object.
nlohmann::json parse_object(std::string_view body, std::string_view expected_shape);

/// Throws HttpError (400 / 422) naming the field; `max_top_k` bounds top_k; rerank candidates
/// are 1..RerankOptions::kMaxCandidates.
QueryRequest parse_query_request(std::string_view body, size_t max_top_k);
/// Throws HttpError (400 / 422); at most `max_texts` texts (inputs) in each.
EmbedRequest parse_embed_request(std::string_view body, size_t max_texts);
/// Whether a POST /embed body is TEI's (a JSON object with "inputs"), so that even its refusal
/// takes TEI's shape; false for anything else, invalid JSON included.
bool is_tei_embed_body(std::string_view body);
OpenAiEmbeddingsRequest parse_openai_embeddings_request(std::string_view body, size_t max_texts);
RerankRequest parse_rerank_request(std::string_view body, size_t max_texts);
TokenizeRequest parse_tokenize_request(std::string_view body, size_t max_texts);

/// Little-endian float32 bytes in base64, as OpenAI's encoding_format "base64" returns them.
std::string base64_floats(std::span<const float> values);

/// The hits of a /query answer: [{"id","table","text","score","similarity","source",
/// "source_tables","metadata"}], best first.
nlohmann::json hits_to_json(const std::vector<RetrievedHit>& hits);

/// Compact JSON text; invalid UTF-8 inside strings is replaced by U+FFFD instead of throwing.
std::string dump(const nlohmann::json& value);

HttpResponse json_response(unsigned status, const nlohmann::json& body);
/// The error in its API family's shape: ragperf {"error": message, "field": field (when set)};
/// OpenAI {"error": {"message", "type", "param", "code"}} (a 422 is OpenAI's 400
/// invalid_request_error); TEI {"error": message, "error_type": "validation" | "overloaded" |
/// "unhealthy" | "backend"}.
HttpResponse error_response(const HttpError& error, Api api = Api::kRagperf);

/// The one table from a ragperf error kind to an HTTP status: input 422, overloaded 429,
/// connection / pool exhausted / unavailable / cancelled 503, timeout 504, the rest 500.
unsigned status_for(ErrorCode code);

}  // namespace ragperf::server
