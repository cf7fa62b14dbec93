// fuzz/embed_request.cpp: the body of POST /embed (server/json_codec.h, parse_embed_request) on
// arbitrary bytes. A body it refuses must be an HttpError with a 4xx status whose JSON error
// answer is valid JSON; a body it accepts must hold 1..max_texts texts.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "check.h"
#include "server/json_codec.h"

namespace {

constexpr size_t kMaxTexts = 16;  // a server's max_texts (ServerOptions), small to be reached

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    const ragperf::server::EmbedRequest r = ragperf::server::parse_embed_request(body, kMaxTexts);
    RAGPERF_FUZZ_CHECK(!r.texts.empty() && r.texts.size() <= kMaxTexts);
  } catch (const ragperf::server::HttpError& e) {
    RAGPERF_FUZZ_CHECK(e.status() >= 400 && e.status() < 500);
    const ragperf::server::HttpResponse answer = ragperf::server::error_response(e);
    RAGPERF_FUZZ_CHECK(nlohmann::json::accept(answer.body));
  }
  return 0;
}
