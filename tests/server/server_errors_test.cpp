// Bad requests get a 4xx JSON error naming the field and the fix; the server keeps serving.
#include "ragperf/server.h"

#include <gtest/gtest.h>

#include "ragperf/error.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

class ServerErrors : public ServerTest {
 protected:
  // Asserts the status, that the body is {"error": ...} containing `needle`, and `field`.
  void expect_error(const Reply& r, long status, const std::string& needle,
                    const std::string& field = "") {
    ASSERT_EQ(r.status, status) << r.error << " " << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    const nlohmann::json j = nlohmann::json::parse(r.body);
    ASSERT_TRUE(j["error"].is_string()) << r.body;
    EXPECT_NE(j["error"].get<std::string>().find(needle), std::string::npos) << r.body;
    if (!field.empty()) {
      EXPECT_EQ(j["field"], field) << r.body;
    }
  }
  Reply query(const std::string& body) { return client_->post("/query", body); }

  void SetUp() override {
    ServerTest::SetUp();
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  void TearDown() override {
    // After every bad request the server still answers.
    if (client_) {
      const Reply ok = client_->get("/health");
      EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
    }
    client_.reset();
    ServerTest::TearDown();
  }
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ServerErrors, InvalidJson) {
  expect_error(query("{\"text\": "), 400, "not valid JSON");
  expect_error(query(""), 400, "body is empty");
  expect_error(query("[1, 2]"), 422, "must be a JSON object");
}

TEST_F(ServerErrors, MissingOrEmptyText) {
  expect_error(query("{}"), 422, "missing field \"text\"", "text");
  expect_error(query(R"({"text": "  \n "})"), 422, "\"text\" is empty", "text");
  expect_error(query(R"({"top_k": 3})"), 422, "missing field \"text\"", "text");
}

TEST_F(ServerErrors, WrongTypes) {
  expect_error(query(R"({"text": 42})"), 422, "\"text\" must be a string", "text");
  expect_error(query(R"({"text": "x", "top_k": "4"})"), 422, "\"top_k\" must be an integer",
               "top_k");
  expect_error(query(R"({"text": "x", "top_k": 2.5})"), 422, "must be an integer", "top_k");
  expect_error(query(R"({"text": "x", "exact": "yes"})"), 422, "\"exact\" must be true or false",
               "exact");
  expect_error(query(R"({"text": "x", "tables": "docs"})"), 422, "\"tables\" must be an array",
               "tables");
  expect_error(query(R"({"text": "x", "tables": ["docs", 7]})"), 422, "\"tables[1]\" must be",
               "tables[1]");
  expect_error(query(R"({"text": "x", "tables": []})"), 422, "\"tables\" is empty", "tables");
  expect_error(client_->post("/embed", R"({"texts": "one"})"), 422, "\"texts\" must be an array",
               "texts");
  expect_error(client_->post("/embed", R"({"texts": ["a", null]})"), 422,
               "\"texts[1]\" must be a string", "texts[1]");
  expect_error(client_->post("/embed", R"({"texts": []})"), 422, "\"texts\" is empty", "texts");
  expect_error(client_->post("/embed", R"({})"), 422, "missing field \"texts\"", "texts");
}

TEST_F(ServerErrors, TextWithNoKnownWord) {
  expect_error(query(R"({"text": "zzzz qqqq"})"), 422, "no word of \"text\" is known", "text");
}

TEST_F(ServerErrors, TopKOutOfRange) {
  expect_error(query(R"({"text": "x", "top_k": 0})"), 422, "between 1 and 1000", "top_k");
  expect_error(query(R"({"text": "x", "top_k": 1001})"), 422, "between 1 and 1000", "top_k");
  expect_error(query(R"({"text": "x", "top_k": -3})"), 422, "between 1 and 1000", "top_k");
  const Reply ok = query(R"({"text": "vacuum", "top_k": 1000})");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(ServerErrors, UnknownTable) {
  expect_error(query(R"({"text": "x", "tables": ["docs", "nope"]})"), 422, "unknown table 'nope'",
               "tables[1]");
  const Reply r = query(R"({"text": "x", "tables": ["nope"]})");
  EXPECT_NE(r.body.find("known tables: docs, notes"), std::string::npos) << r.body;
  expect_error(query(R"({"text": "x", "tables": ["bad name"]})"), 422, "bad name", "tables[0]");
  expect_error(query(R"({"text": "x", "tables": ["docs@postgresql://evil/db"]})"), 422,
               "names another server", "tables[0]");
}

TEST_F(ServerErrors, BodyOverTheLimit) {
  start({.max_body_bytes = 1000});
  client_ = std::make_unique<HttpClient>(server_->port());
  const std::string big = R"({"text": ")" + std::string(5000, 'a') + "\"}";
  expect_error(query(big), 413, "over the limit of 1000 bytes");
  const Reply ok = query(R"({"text": "vacuum"})");
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
}

TEST_F(ServerErrors, WrongMethod) {
  const Reply r = client_->get("/query");
  expect_error(r, 405, "use POST /query");
  EXPECT_EQ(r.headers.at("allow"), "POST");
  expect_error(client_->post("/metrics", "{}"), 405, "use GET /metrics");
  expect_error(client_->request("DELETE", "/health", "", ""), 405, "use GET /health");
}

TEST_F(ServerErrors, UnknownPath) {
  expect_error(client_->get("/nope"), 404, "no endpoint /nope");
  expect_error(client_->post("/v2/query", "{}"), 404, "the endpoints are");
  // Under /v1/ an unknown path is an OpenAI-shaped error (server_compat_test.cpp).
  const Reply v1 = client_->post("/v1/query", "{}");
  ASSERT_EQ(v1.status, 404) << v1.body;
  EXPECT_EQ(nlohmann::json::parse(v1.body)["error"]["type"], "invalid_request_error");
}

TEST_F(ServerErrors, WrongContentType) {
  expect_error(client_->post("/query", R"({"text": "x"})", "text/plain"), 415,
               "Content-Type: application/json");
  expect_error(client_->post("/query", R"({"text": "x"})", ""), 415, "Content-Type");
  expect_error(client_->post("/query", R"({"text": "x"})", "application/json; charset=latin1"), 415,
               "Content-Type");
  const Reply ok =
      client_->post("/query", R"({"text": "vacuum"})", "Application/JSON; charset=UTF-8");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(ServerErrors, InvalidUtf8) {
  expect_error(query("{\"text\": \"caf\xC3\x28\"}"), 400, "not valid UTF-8 (byte 13)");
  expect_error(query("{\"text\": \"\xED\xA0\x80\"}"), 400, "not valid UTF-8");  // a surrogate
  expect_error(client_->post("/embed", "{\"texts\": [\"ok\", \"\xFF\"]}"), 400, "not valid UTF-8");
  const Reply ok = query("{\"text\": \"caf\xC3\xA9 vacuum\"}");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(ServerErrors, MalformedHttpGets400AndTheServerGoesOn) {
  // A bare socket: libcurl never sends malformed requests.
  const std::string reply = raw_exchange(server_->port(), "NOT-HTTP\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("malformed HTTP request"), std::string::npos) << reply;
}

TEST(ServerOptionsCheck, BadOptionsAndBusyPortAreConfigErrors) {
  ServerHome home;
  EXPECT_THROW(Server({.max_body_bytes = 0}, home.components()), ConfigError);
  EXPECT_THROW(Server({.max_top_k = 0}, home.components()), ConfigError);
  EXPECT_THROW(Server({}, ServerComponents{}), ConfigError);
  Server first({.port = 0}, home.components());
  first.start();
  Server second({.port = first.port()}, home.components());
  try {
    second.start();
    ADD_FAILURE() << "a busy port must fail";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--port"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ragperf::testing
