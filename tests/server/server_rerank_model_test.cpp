// POST /query with "rerank" through a real Server, LocalStore, static model and the shared
// cross-encoder fixture: the reranked hits are the top_k of the candidates by the cross-encoder's
// own scores, with their retrieval scores; bad "rerank" values and a server without a reranker
// are 422s naming the field.
#include <gtest/gtest.h>

#include <algorithm>

#include "ragperf/cross_encoder.h"
#include "ragperf/error.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/server.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

std::shared_ptr<const CrossEncoder> reranker() {
  static const std::shared_ptr<const CrossEncoder> ce =
      CrossEncoder::load(shared_dir() / "models" / "cross-encoders" / "bert-ce-l2-h384-f16");
  return ce;
}

TEST(ServerRerank, RerankedHitsAreTheCandidatesBestByTheCrossEncoder) {
  ServerHome home;
  ServerComponents parts = home.components(/*cache=*/false);
  parts.reranker = reranker();
  Server server({.port = 0, .rerank_candidates = 5}, parts);
  server.start();
  HttpClient client(server.port());
  const std::string text = "create an index concurrently so writes are not locked";

  // The candidates: the plain top 5.
  const Reply plain =
      client.post_json("/query", {{"text", text}, {"tables", {"docs"}}, {"top_k", 5}});
  ASSERT_EQ(plain.status, 200) << plain.body;
  const nlohmann::json candidates = plain.json()["hits"];
  ASSERT_EQ(candidates.size(), 5u);
  EXPECT_FALSE(candidates[0].contains("retrieval_score"));
  std::vector<std::string> passages;
  for (const auto& h : candidates) passages.push_back(h["text"].get<std::string>());
  const std::vector<PairScore> want = reranker()->score(text, passages);
  std::vector<size_t> order(passages.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return want[a].score > want[b].score; });

  const Reply reranked = client.post_json(
      "/query", {{"text", text}, {"tables", {"docs"}}, {"top_k", 2}, {"rerank", true}});
  ASSERT_EQ(reranked.status, 200) << reranked.body;
  const nlohmann::json a = reranked.json();
  ASSERT_EQ(a["hits"].size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const nlohmann::json& h = a["hits"][k];
    EXPECT_EQ(h["text"], passages[order[k]]) << k;
    EXPECT_NEAR(h["score"].get<double>(), want[order[k]].score, 1e-6);
    EXPECT_NEAR(h["retrieval_score"].get<double>(), candidates[order[k]]["score"].get<double>(),
                1e-6);
  }
  ASSERT_TRUE(a["timings"].contains("rerank_s"));
  EXPECT_GT(a["timings"]["rerank_s"].get<double>(), 0.0);

  // The request's own candidate count.
  const Reply three = client.post_json(
      "/query",
      {{"text", text}, {"tables", {"docs"}}, {"top_k", 2}, {"rerank", {{"candidates", 3}}}});
  ASSERT_EQ(three.status, 200) << three.body;
  EXPECT_EQ(three.json()["hits"].size(), 2u);

  // Bad values name the field.
  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {{{"candidates", 0}}, "rerank.candidates"},
      {{{"candidates", RerankOptions::kMaxCandidates + 1}}, "rerank.candidates"},
      {{{"candidates", "many"}}, "rerank.candidates"},
      {{{"model", "other"}}, "rerank.model"},
      {"yes", "rerank"}};
  for (const auto& [value, field] : bad) {
    const Reply r = client.post_json("/query", {{"text", text}, {"rerank", value}});
    EXPECT_EQ(r.status, 422) << value.dump() << " " << r.body;
    EXPECT_EQ(r.json()["field"], field) << value.dump() << " " << r.body;
  }
  server.stop();
}

TEST(ServerRerank, AServerWithoutARerankerAnswers422) {
  ServerHome home;
  Server server({.port = 0}, home.components(false));
  server.start();
  HttpClient client(server.port());
  const Reply r = client.post_json("/query", {{"text", "index"}, {"rerank", true}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json()["field"], "rerank");
  EXPECT_NE(r.json()["error"].get<std::string>().find("--rerank-model"), std::string::npos);
  // "rerank": false is a plain query.
  EXPECT_EQ(client.post_json("/query", {{"text", "index"}, {"rerank", false}}).status, 200);
  EXPECT_THROW(Server({.port = 0, .rerank_candidates = 0}, home.components(false)), ConfigError);
  server.stop();
}

}  // namespace
}  // namespace ragperf::testing
