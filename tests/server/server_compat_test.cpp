// The error shapes of the three API families through a real Server over the static test model
// (tests/data/retrieve_model): OpenAI's on /v1/*, TEI's on its routes, ragperf's elsewhere; what
// a static word-vector model cannot do (token ids, /tokenize) is refused with a reason.
#include <gtest/gtest.h>

#include "server_test_support.h"

namespace ragperf::testing {
namespace {

using ServerCompatShapes = ServerTest;

TEST_F(ServerCompatShapes, OpenAiErrorsHaveOpenAisShapeAndStatus) {
  HttpClient client(server_->port());
  const Reply missing = client.post_json("/v1/embeddings", {{"model", "m"}});
  ASSERT_EQ(missing.status, 400) << missing.body;
  const nlohmann::json e = missing.json()["error"];
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "input");
  EXPECT_TRUE(e["code"].is_null());
  EXPECT_NE(e["message"].get<std::string>().find("\"input\""), std::string::npos);

  const Reply format =
      client.post_json("/v1/embeddings", {{"input", "x"}, {"encoding_format", "hex"}});
  ASSERT_EQ(format.status, 400) << format.body;
  EXPECT_EQ(format.json()["error"]["param"], "encoding_format");

  const Reply method = client.post_json("/v1/models", nlohmann::json::object());
  ASSERT_EQ(method.status, 405) << method.body;
  EXPECT_EQ(method.headers.at("allow"), "GET");
  EXPECT_TRUE(method.json()["error"].is_object());

  const Reply bad_json = client.post("/v1/embeddings", "{");
  ASSERT_EQ(bad_json.status, 400) << bad_json.body;
  EXPECT_EQ(bad_json.json()["error"]["type"], "invalid_request_error");
}

TEST_F(ServerCompatShapes, AStaticModelRefusesTokenIdsAndTokenizeWithTheReason) {
  HttpClient client(server_->port());
  const Reply ids = client.post_json("/v1/embeddings", {{"input", {1, 2, 3}}});
  ASSERT_EQ(ids.status, 400) << ids.body;
  EXPECT_NE(ids.json()["error"]["message"].get<std::string>().find("static word-vector model"),
            std::string::npos)
      << ids.body;
  const Reply tok = client.post_json("/tokenize", {{"inputs", "vacuum"}});
  ASSERT_EQ(tok.status, 422) << tok.body;
  EXPECT_EQ(tok.json()["error_type"], "validation");
  EXPECT_NE(tok.json()["error"].get<std::string>().find("static word-vector model"),
            std::string::npos);
  const Reply text = client.post_json("/v1/embeddings", {{"input", "vacuum full"}});
  ASSERT_EQ(text.status, 200) << text.body;
}

TEST_F(ServerCompatShapes, RagperfRoutesKeepTheirOwnShapeAndTimesAreMilliseconds) {
  HttpClient client(server_->port());
  const Reply r = client.post_json("/embed", {{"texts", nlohmann::json::array()}});
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(r.json()["error"].is_string());
  EXPECT_EQ(r.json()["field"], "texts");
  const Reply tei = client.post_json("/embed", {{"inputs", nlohmann::json::array()}});
  ASSERT_EQ(tei.status, 422) << tei.body;
  EXPECT_EQ(tei.json()["error_type"], "validation");
  const Reply missing = client.get("/nothing");
  ASSERT_EQ(missing.status, 404);
  EXPECT_TRUE(missing.json()["error"].is_string());
  EXPECT_NE(missing.json()["error"].get<std::string>().find("POST /v1/embeddings"),
            std::string::npos);

  // A /query embeds and searches: its total, in ms, is its body's total_s * 1000 or more.
  const Reply q = client.post_json("/query", {{"text", "vacuum"}, {"tables", {"docs"}}});
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_GE(std::stod(q.headers.at("x-total-time")) + 1e-3,
            q.json()["timings"]["total_s"].get<double>() * 1000.0);
}

}  // namespace
}  // namespace ragperf::testing
