// fuzz/query_request.cpp: the body of POST /query (server/json_codec.h, parse_query_request) on
// arbitrary bytes. A body it refuses must be an HttpError with a 4xx status whose JSON error
// answer is valid JSON; a body it accepts must give a request within the documented bounds.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "check.h"
#include "ragperf/filter.h"
#include "server/json_codec.h"

namespace {

constexpr size_t kMaxTopK = 100;  // a server's max_top_k (ServerOptions)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    const ragperf::server::QueryRequest r = ragperf::server::parse_query_request(body, kMaxTopK);
    RAGPERF_FUZZ_CHECK(!r.text.empty());
    RAGPERF_FUZZ_CHECK(r.top_k >= 1 && r.top_k <= kMaxTopK);
    RAGPERF_FUZZ_CHECK(r.rerank_candidates == 0 || r.rerank);
    if (!r.where.empty()) (void)ragperf::Filter::parse(r.where);  // checked by the codec
  } catch (const ragperf::server::HttpError& e) {
    RAGPERF_FUZZ_CHECK(e.status() >= 400 && e.status() < 500);
    const ragperf::server::HttpResponse answer = ragperf::server::error_response(e);
    RAGPERF_FUZZ_CHECK(nlohmann::json::accept(answer.body));
  }
  return 0;
}
