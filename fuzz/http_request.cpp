// fuzz/http_request.cpp: the server's HTTP/1.1 request reading (server/request_reader.h,
// read_requests: Boost.Beast's parser under the server's header and body limits, the refusals
// and the conversion to HttpRequest) on arbitrary bytes, as one connection's input. A refusal
// must be 400, 413 or 431 with a valid JSON error answer; a request read must have a method and
// a body within the limit; reading stops at the first refusal.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "check.h"
#include "server/json_codec.h"
#include "server/request_reader.h"

namespace {

constexpr size_t kMaxBodyBytes = 1024;  // ServerOptions::max_body_bytes, small to be reached

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto reads = ragperf::server::read_requests(input, kMaxBodyBytes);
  for (size_t i = 0; i < reads.size(); ++i) {
    const ragperf::server::RequestRead& read = reads[i];
    RAGPERF_FUZZ_CHECK(read.request.has_value() != read.refusal.has_value());
    if (read.refusal) {
      const unsigned status = read.refusal->status();
      RAGPERF_FUZZ_CHECK(status == 400 || status == 413 || status == 431);
      RAGPERF_FUZZ_CHECK(i + 1 == reads.size());
      const auto answer = ragperf::server::error_response(*read.refusal);
      RAGPERF_FUZZ_CHECK(nlohmann::json::accept(answer.body));
      continue;
    }
    RAGPERF_FUZZ_CHECK(!read.request->method.empty());
    RAGPERF_FUZZ_CHECK(read.request->body.size() <= kMaxBodyBytes);
    RAGPERF_FUZZ_CHECK(read.keep_alive || i + 1 == reads.size());
  }
  return 0;
}
