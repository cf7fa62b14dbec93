// fuzz/embed_request.cpp: the bodies of POST /embed (ragperf's and TEI's), /v1/embeddings,
// /rerank and /tokenize (server/json_codec.h) on arbitrary bytes. A body a parser refuses must be
// an HttpError with a 4xx status whose error answer, in each API family's shape, is valid JSON
// with a 4xx status; a body it accepts must hold 1..max_texts texts (inputs).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "check.h"
#include "server/json_codec.h"

namespace {

constexpr size_t kMaxTexts = 16;  // a server's max_texts (ServerOptions), small to be reached

// A refusal is a 4xx whose answer is JSON in every API family's shape.
void check_refusal(const ragperf::server::HttpError& e) {
  using ragperf::server::Api;
  RAGPERF_FUZZ_CHECK(e.status() >= 400 && e.status() < 500);
  for (Api api : {Api::kRagperf, Api::kOpenAi, Api::kTei}) {
    const ragperf::server::HttpResponse answer = ragperf::server::error_response(e, api);
    RAGPERF_FUZZ_CHECK(nlohmann::json::accept(answer.body));
    RAGPERF_FUZZ_CHECK(answer.status >= 400 && answer.status < 500);
  }
}

}  // namespace

// The same bytes through every embedding-family body: ragperf's and TEI's /embed, OpenAI's
// /v1/embeddings, TEI's /rerank and /tokenize.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace s = ragperf::server;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    const s::EmbedRequest r = s::parse_embed_request(body, kMaxTexts);
    RAGPERF_FUZZ_CHECK(!r.texts.empty() && r.texts.size() <= kMaxTexts);
  } catch (const s::HttpError& e) {
    check_refusal(e);
  }
  try {
    const s::OpenAiEmbeddingsRequest r = s::parse_openai_embeddings_request(body, kMaxTexts);
    RAGPERF_FUZZ_CHECK(!r.inputs.empty() && r.inputs.size() <= kMaxTexts);
  } catch (const s::HttpError& e) {
    check_refusal(e);
  }
  try {
    const s::RerankRequest r = s::parse_rerank_request(body, kMaxTexts);
    RAGPERF_FUZZ_CHECK(!r.texts.empty() && r.texts.size() <= kMaxTexts);
  } catch (const s::HttpError& e) {
    check_refusal(e);
  }
  try {
    const s::TokenizeRequest r = s::parse_tokenize_request(body, kMaxTexts);
    RAGPERF_FUZZ_CHECK(!r.inputs.empty() && r.inputs.size() <= kMaxTexts);
  } catch (const s::HttpError& e) {
    check_refusal(e);
  }
  return 0;
}
