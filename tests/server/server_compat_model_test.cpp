// The compatible APIs through a real Server, LocalStore and the shared BERT fixture model
// (bert-l2-h384-cls-f32, max_seq_length 512, normalising) and cross-encoder: OpenAI's
// /v1/embeddings (float, base64, token ids, dimensions) and /v1/models, TEI's /embed, /rerank,
// /tokenize and /info; the one truncation rule (413 by default, cut and said so on request);
// TEI's timing headers and the access log.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <mutex>

#include "ragperf/cross_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/server.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

std::shared_ptr<EmbeddingModel> bert() {
  static const std::shared_ptr<EmbeddingModel> m =
      load_embedding_model((shared_dir() / "models" / "bert-l2-h384-cls-f32").string(), Settings{});
  return m;
}

std::shared_ptr<const CrossEncoder> reranker() {
  static const std::shared_ptr<const CrossEncoder> ce =
      CrossEncoder::load(shared_dir() / "models" / "cross-encoders" / "bert-ce-l2-h384-f16");
  return ce;
}

// Words that are each one token of the fixture's vocabulary: `n` of them is n + 2 tokens.
std::string words(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i % 2 ? " index" : " table";
  return s;
}

std::vector<float> decode_base64_floats(const std::string& b64) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);  // little-endian, as on this machine
  return out;
}

void expect_row(const nlohmann::json& got, std::span<const float> want, double tol = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got[k].get<double>(), want[k], tol) << k;
}

class ServerCompat : public ::testing::Test {
 protected:
  ServerCompat() : home_(bert()) {}
  void SetUp() override { start({}); }
  void TearDown() override {
    if (server_) server_->stop();
  }
  void start(ServerOptions options, bool with_reranker = true) {
    if (server_) server_->stop();
    options.port = 0;
    options.access_log = [this](const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(line);
    };
    ServerComponents parts = home_.components(/*cache=*/false);
    if (with_reranker) parts.reranker = reranker();
    server_ = std::make_unique<Server>(options, parts);
    server_->start();
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  std::vector<std::string> log() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  ServerHome home_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<HttpClient> client_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

TEST_F(ServerCompat, OpenAiEmbeddingsEqualTheModelsVectorsWithUsage) {
  const std::vector<std::string> texts = {"create an index concurrently", "vacuum full"};
  const EmbeddingMatrix want = bert()->embed(texts);
  const Reply r = client_->post_json("/v1/embeddings", {{"input", texts}, {"model", "any"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = r.json();
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], bert()->id());
  ASSERT_EQ(j["data"].size(), 2u);
  size_t tokens = 0;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(j["data"][i]["object"], "embedding");
    EXPECT_EQ(j["data"][i]["index"], i);
    expect_row(j["data"][i]["embedding"], want.row(i));
    tokens += bert()->count_tokens(texts[i]);
  }
  EXPECT_EQ(j["usage"]["prompt_tokens"], tokens);
  EXPECT_EQ(j["usage"]["total_tokens"], tokens);

  // /embeddings (no /v1) is the same endpoint; a single string is one input.
  const Reply one = client_->post_json("/embeddings", {{"input", texts[1]}, {"user", "u1"}});
  ASSERT_EQ(one.status, 200) << one.body;
  expect_row(one.json()["data"][0]["embedding"], want.row(1));
}

TEST_F(ServerCompat, Base64IsTheLittleEndianFloat32OfTheFloatAnswer) {
  const nlohmann::json body = {{"input", {"a btree index handles range queries"}}, {"model", "m"}};
  const Reply f = client_->post_json("/v1/embeddings", body);
  nlohmann::json b64_body = body;
  b64_body["encoding_format"] = "base64";
  const Reply b = client_->post_json("/v1/embeddings", b64_body);
  ASSERT_EQ(f.status, 200) << f.body;
  ASSERT_EQ(b.status, 200) << b.body;
  const std::vector<float> decoded =
      decode_base64_floats(b.json()["data"][0]["embedding"].get<std::string>());
  const nlohmann::json floats = f.json()["data"][0]["embedding"];
  ASSERT_EQ(decoded.size(), floats.size());
  for (size_t k = 0; k < decoded.size(); ++k) {
    EXPECT_EQ(decoded[k], floats[k].get<float>()) << k;  // the shortest float text reads back
  }
}

TEST_F(ServerCompat, TokenIdInputsEqualTheirTexts) {
  const std::string text = "replication slots keep wal";
  const std::vector<int32_t> ids = bert()->token_ids(text);
  ASSERT_FALSE(ids.empty());
  const EmbeddingMatrix want = bert()->embed(std::vector<std::string>{text});
  const Reply flat = client_->post_json("/v1/embeddings", {{"input", ids}, {"model", "m"}});
  ASSERT_EQ(flat.status, 200) << flat.body;
  expect_row(flat.json()["data"][0]["embedding"], want.row(0));
  EXPECT_EQ(flat.json()["usage"]["prompt_tokens"], ids.size() + 2);
  const Reply nested =
      client_->post_json("/v1/embeddings", {{"input", {ids, ids}}, {"model", "m"}});
  ASSERT_EQ(nested.status, 200) << nested.body;
  ASSERT_EQ(nested.json()["data"].size(), 2u);
  expect_row(nested.json()["data"][1]["embedding"], want.row(0));

  const Reply outside =
      client_->post_json("/v1/embeddings", {{"input", {{5, 999999}}}, {"model", "m"}});
  ASSERT_EQ(outside.status, 400) << outside.body;
  EXPECT_EQ(outside.json()["error"]["type"], "invalid_request_error");
  EXPECT_NE(outside.json()["error"]["message"].get<std::string>().find("999999"),
            std::string::npos);
}

TEST_F(ServerCompat, DimensionsCutAndRenormaliseAndAreBoundedByTheModel) {
  const std::string text = "standby servers stream wal";
  const EmbeddingMatrix full = bert()->embed(std::vector<std::string>{text});
  const Reply r =
      client_->post_json("/v1/embeddings", {{"input", text}, {"model", "m"}, {"dimensions", 8}});
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json v = r.json()["data"][0]["embedding"];
  ASSERT_EQ(v.size(), 8u);
  double norm = 0;
  for (size_t k = 0; k < 8; ++k) norm += double{full.row(0)[k]} * full.row(0)[k];
  norm = std::sqrt(norm);
  double got_norm = 0;
  for (size_t k = 0; k < 8; ++k) {
    EXPECT_NEAR(v[k].get<double>(), full.row(0)[k] / norm, 1e-6) << k;
    got_norm += v[k].get<double>() * v[k].get<double>();
  }
  EXPECT_NEAR(got_norm, 1.0, 1e-5);

  const Reply over = client_->post_json(
      "/v1/embeddings", {{"input", text}, {"model", "m"}, {"dimensions", bert()->dim() + 1}});
  ASSERT_EQ(over.status, 400) << over.body;
  const nlohmann::json e = over.json()["error"];
  EXPECT_EQ(e["param"], "dimensions");
  EXPECT_NE(e["message"].get<std::string>().find(std::to_string(bert()->dim())), std::string::npos)
      << e;
}

TEST_F(ServerCompat, OverLongInputIsRefusedOnEverySurfaceUnlessTruncationIsAsked) {
  const std::string text = words(600);  // 602 tokens; the model takes 512
  ASSERT_EQ(bert()->count_tokens(text), 602u);

  const Reply openai = client_->post_json("/v1/embeddings", {{"input", {"ok", text}}});
  ASSERT_EQ(openai.status, 413) << openai.body;
  const nlohmann::json e = openai.json()["error"];
  EXPECT_EQ(e["code"], "context_length_exceeded");
  EXPECT_EQ(e["param"], "input[1]");
  const std::string message = e["message"].get<std::string>();
  EXPECT_NE(message.find("602 tokens"), std::string::npos) << message;
  EXPECT_NE(message.find("at most 512"), std::string::npos) << message;

  const Reply own = client_->post_json("/embed", {{"texts", {text}}});
  ASSERT_EQ(own.status, 413) << own.body;
  EXPECT_EQ(own.json()["field"], "texts[0]");
  const Reply tei = client_->post_json("/embed", {{"inputs", text}});
  ASSERT_EQ(tei.status, 413) << tei.body;
  EXPECT_EQ(tei.json()["error_type"], "validation");
  EXPECT_NE(tei.json()["error"].get<std::string>().find("602 tokens"), std::string::npos);

  // truncate: true cuts the end (as sentence-transformers) and says so.
  const EmbeddingMatrix right = bert()->embed(std::vector<std::string>{text});
  const Reply cut = client_->post_json("/embed", {{"inputs", {"short", text}}, {"truncate", true}});
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(cut.headers.at("x-truncated-inputs"), "1");
  expect_row(cut.json()[1], right.row(0));
  const Reply own_cut = client_->post_json("/embed", {{"texts", {text}}, {"truncate", true}});
  ASSERT_EQ(own_cut.status, 200) << own_cut.body;
  EXPECT_EQ(own_cut.json()["truncated"], nlohmann::json::array({0}));

  // "Left" keeps the end: the vector of the last 510 ids.
  std::vector<int32_t> ids = bert()->token_ids(text);
  std::vector<std::vector<int32_t>> tail = {{ids.end() - 510, ids.end()}};
  const EmbeddingMatrix left = bert()->embed_token_ids(tail);
  const Reply l = client_->post_json(
      "/v1/embeddings", {{"input", text}, {"truncate", true}, {"truncation_direction", "Left"}});
  ASSERT_EQ(l.status, 200) << l.body;
  EXPECT_EQ(l.headers.at("x-truncated-inputs"), "1");
  expect_row(l.json()["data"][0]["embedding"], left.row(0));
  EXPECT_EQ(l.json()["usage"]["prompt_tokens"], 512);
}

TEST_F(ServerCompat, TeiEmbedTakesAStringOrAListAndAnswersAListOfVectors) {
  const std::vector<std::string> texts = {"hash index equality", "base backup"};
  const EmbeddingMatrix want = bert()->embed(texts);
  const Reply one = client_->post_json("/embed", {{"inputs", texts[0]}, {"normalize", true}});
  ASSERT_EQ(one.status, 200) << one.body;
  ASSERT_TRUE(one.json().is_array());
  ASSERT_EQ(one.json().size(), 1u);
  expect_row(one.json()[0], want.row(0));
  const Reply two = client_->post_json("/embed", {{"inputs", texts}});
  ASSERT_EQ(two.status, 200) << two.body;
  expect_row(two.json()[1], want.row(1));

  const Reply raw = client_->post_json("/embed", {{"inputs", texts}, {"normalize", false}});
  ASSERT_EQ(raw.status, 422) << raw.body;
  EXPECT_EQ(raw.json()["error_type"], "validation");
  const Reply both = client_->post_json("/embed", {{"inputs", texts}, {"texts", texts}});
  ASSERT_EQ(both.status, 422) << both.body;
  const Reply direction = client_->post_json(
      "/embed", {{"inputs", texts}, {"truncate", true}, {"truncation_direction", "Up"}});
  ASSERT_EQ(direction.status, 422) << direction.body;
  EXPECT_NE(direction.json()["error"].get<std::string>().find("\"Left\""), std::string::npos);
}

TEST_F(ServerCompat, TokenizeGivesIdsWithTheirSourceBytes) {
  const std::string text = "Hello, Wörld! [SEP] indexes";
  const Reply r = client_->post_json("/tokenize", {{"inputs", text}});
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = r.json();
  ASSERT_EQ(j.size(), 1u);
  const nlohmann::json& tokens = j[0];
  const std::vector<int32_t> ids = bert()->token_ids(text);
  ASSERT_EQ(tokens.size(), ids.size() + 2);
  EXPECT_TRUE(tokens.front()["special"].get<bool>());
  EXPECT_EQ(tokens.front()["text"], "[CLS]");
  EXPECT_TRUE(tokens.front()["start"].is_null());
  EXPECT_EQ(tokens.back()["text"], "[SEP]");
  size_t specials_inside = 0;
  for (size_t k = 0; k < ids.size(); ++k) {
    const nlohmann::json& t = tokens[k + 1];
    EXPECT_EQ(t["id"], ids[k]) << k;
    if (t["special"].get<bool>()) {
      ++specials_inside;
      continue;
    }
    const size_t start = t["start"].get<size_t>();
    const size_t stop = t["stop"].get<size_t>();
    ASSERT_LE(start, stop);
    ASSERT_LE(stop, text.size());
    EXPECT_EQ(t["text"], text.substr(start, stop - start)) << k;
  }
  EXPECT_EQ(specials_inside, 1u);  // the "[SEP]" written in the text
  EXPECT_EQ(tokens[1]["text"], "Hello");
  EXPECT_EQ(tokens[1]["start"], 0);
  EXPECT_EQ(tokens[1]["stop"], 5);
  EXPECT_EQ(tokens[2]["text"], ",");

  const Reply plain =
      client_->post_json("/tokenize", {{"inputs", {"a", "b c"}}, {"add_special_tokens", false}});
  ASSERT_EQ(plain.status, 200) << plain.body;
  ASSERT_EQ(plain.json().size(), 2u);
  EXPECT_EQ(plain.json()[1].size(), 2u);
  EXPECT_FALSE(plain.json()[1][0]["special"].get<bool>());
}

TEST_F(ServerCompat, RerankSortsByTheCrossEncodersScores) {
  const std::string query = "how do I reclaim the space of dead rows";
  const std::vector<std::string> texts = server_test_docs();
  const std::vector<PairScore> want = reranker()->score(query, texts);
  const Reply r =
      client_->post_json("/rerank", {{"query", query}, {"texts", texts}, {"return_text", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = r.json();
  ASSERT_EQ(j.size(), texts.size());
  for (size_t k = 0; k < j.size(); ++k) {
    const size_t i = j[k]["index"].get<size_t>();
    EXPECT_NEAR(j[k]["score"].get<double>(), want[i].score, 1e-5) << k;
    EXPECT_EQ(j[k]["text"], texts[i]);
    if (k) {
      EXPECT_GE(j[k - 1]["score"].get<double>(), j[k]["score"].get<double>());
    }
  }
  const Reply raw = client_->post_json(
      "/rerank", {{"query", query}, {"texts", {texts[0]}}, {"raw_scores", true}});
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_NEAR(raw.json()[0]["score"].get<double>(), want[0].logit, 1e-5);
  EXPECT_FALSE(raw.json()[0].contains("text"));

  const Reply too_long = client_->post_json("/rerank", {{"query", query}, {"texts", {words(600)}}});
  ASSERT_EQ(too_long.status, 413) << too_long.body;
  EXPECT_EQ(too_long.json()["error_type"], "validation");
  const Reply cut = client_->post_json(
      "/rerank", {{"query", query}, {"texts", {words(600)}}, {"truncate", true}});
  ASSERT_EQ(cut.status, 200) << cut.body;
  EXPECT_EQ(cut.headers.at("x-truncated-inputs"), "1");

  start({}, /*with_reranker=*/false);
  const Reply none = client_->post_json("/rerank", {{"query", query}, {"texts", texts}});
  ASSERT_EQ(none.status, 424) << none.body;
  EXPECT_NE(none.json()["error"].get<std::string>().find("--rerank-model"), std::string::npos);
  EXPECT_EQ(none.json()["error_type"], "backend");
}

TEST_F(ServerCompat, InfoAndModelsDescribeTheServedModel) {
  const Reply info = client_->get("/info");
  ASSERT_EQ(info.status, 200) << info.body;
  const nlohmann::json i = info.json();
  EXPECT_EQ(i["model_id"], bert()->id());
  EXPECT_EQ(i["max_input_length"], 512);
  EXPECT_EQ(i["model_type"]["embedding"]["dim"], bert()->dim());
  EXPECT_EQ(i["max_client_batch_size"], ServerOptions{}.max_texts);
  EXPECT_EQ(i["reranker"]["model_id"], reranker()->id());
  EXPECT_FALSE(i["version"].get<std::string>().empty());

  const Reply models = client_->get("/v1/models");
  ASSERT_EQ(models.status, 200) << models.body;
  const nlohmann::json m = models.json();
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], bert()->id());
  EXPECT_EQ(m["data"][0]["object"], "model");
}

TEST_F(ServerCompat, EveryResponseHasTeiTimingHeadersAndOneAccessLogLine) {
  const Reply ok = client_->post_json("/v1/embeddings", {{"input", "vacuum"}});
  const Reply missing = client_->get("/v1/nothing");
  const Reply health = client_->get("/health");
  ASSERT_EQ(ok.status, 200) << ok.body;
  ASSERT_EQ(missing.status, 404) << missing.error;
  EXPECT_EQ(missing.json()["error"]["type"], "invalid_request_error");  // OpenAI's shape
  for (const Reply* r : {&ok, &missing, &health}) {
    for (const char* h :
         {"x-total-time", "x-tokenization-time", "x-queue-time", "x-inference-time"}) {
      ASSERT_TRUE(r->headers.count(h)) << h;
      EXPECT_GE(std::stod(r->headers.at(h)), 0.0) << h;
    }
  }
  EXPECT_GT(std::stod(ok.headers.at("x-inference-time")), 0.0);
  EXPECT_LE(std::stod(ok.headers.at("x-inference-time")), std::stod(ok.headers.at("x-total-time")));

  const std::vector<std::string> lines = log();
  ASSERT_EQ(lines.size(), 3u);
  const nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["method"], "POST");
  EXPECT_EQ(first["route"], "/v1/embeddings");
  EXPECT_EQ(first["status"], 200);
  EXPECT_EQ(first["bytes"], ok.body.size());
  EXPECT_GT(first["inference_ms"].get<double>(), 0.0);
  EXPECT_GE(first["total_ms"].get<double>(), first["inference_ms"].get<double>());
  const nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_TRUE(second["route"].is_null());
  EXPECT_EQ(second["path"], "/v1/nothing");
  EXPECT_EQ(second["status"], 404);
}

}  // namespace
}  // namespace ragperf::testing
