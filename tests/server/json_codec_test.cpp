// Request bodies as the server's JSON codec reads them (server/json_codec.h), without a server:
// the inputs the fuzzer (fuzz/query_request.cpp, fuzz/embed_request.cpp) found mishandled.
#include "server/json_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace ragperf::server {
namespace {

// The status and message of the HttpError `parse` throws; fails the test when it throws
// anything else or nothing.
template <class Parse>
void expect_http_error(Parse parse, unsigned status, const std::string& part) {
  try {
    parse();
    ADD_FAILURE() << "no HttpError";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// nlohmann's parser throws out_of_range, not parse_error, for a number beyond a double's range;
// it escaped the codec and the router answered 500 "internal error".
TEST(JsonCodec, NumberBeyondDoubleRangeIsA400) {
  expect_http_error([] { parse_query_request("6e611", 100); }, 400, "number too large");
  expect_http_error([] { parse_query_request(R"({"text": "q", "top_k": 1e999})", 100); }, 400,
                    "number too large");
  expect_http_error([] { parse_embed_request(R"({"texts": ["a"], "x": -31E703})", 16); }, 400,
                    "number too large");
}

TEST(JsonCodec, ValidBodiesStillParse) {
  const QueryRequest q = parse_query_request(R"({"text": "q", "top_k": 3, "x": 1e300})", 100);
  EXPECT_EQ(q.text, "q");
  EXPECT_EQ(q.top_k, 3u);
  EXPECT_EQ(parse_embed_request(R"({"texts": ["a", "b"]})", 16).texts.size(), 2u);
  expect_http_error([] { parse_query_request(R"({"text": )", 100); }, 400, "not valid JSON");
}

}  // namespace
}  // namespace ragperf::server
