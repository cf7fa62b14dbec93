// POST /query and POST /embed through a real Server, LocalStore and static model.
#include "ragperf/server.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ragperf/error.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

using ServerQuery = ServerTest;

TEST_F(ServerQuery, ReturnsRankedHitsThenACacheHitOnRepeat) {
  HttpClient client(server_->port());
  const nlohmann::json q = {{"text", "create an index concurrently so writes are not locked"},
                            {"tables", {"docs"}},
                            {"top_k", 3},
                            {"exact", true}};
  const Reply first = client.post_json("/query", q);
  ASSERT_EQ(first.status, 200) << first.error << first.body;
  EXPECT_EQ(first.headers.at("content-type"), "application/json");
  const nlohmann::json a = first.json();
  EXPECT_EQ(a["cache"], "miss");
  ASSERT_EQ(a["hits"].size(), 3u);
  const nlohmann::json& best = a["hits"][0];
  EXPECT_EQ(best["id"], "docs-0");
  EXPECT_EQ(best["table"], "docs");
  EXPECT_EQ(best["source"], "docs.txt");
  EXPECT_EQ(best["metadata"]["n"], 0);
  EXPECT_NE(best["text"].get<std::string>().find("index concurrently"), std::string::npos);
  for (size_t i = 1; i < a["hits"].size(); ++i) {
    EXPECT_GE(a["hits"][i - 1]["score"].get<double>(), a["hits"][i]["score"].get<double>());
  }
  for (const char* k : {"embed_s", "query_s", "merge_s", "total_s"}) {
    ASSERT_TRUE(a["timings"].contains(k)) << k;
    EXPECT_GE(a["timings"][k].get<double>(), 0.0) << k;
  }
  EXPECT_TRUE(a["timings"]["tables"].contains("docs"));
  EXPECT_TRUE(first.headers.count("x-total-time"));
  EXPECT_TRUE(first.headers.count("x-embed-time"));

  const Reply second = client.post_json("/query", q);
  ASSERT_EQ(second.status, 200) << second.body;
  const nlohmann::json b = second.json();
  EXPECT_EQ(b["cache"], "hit");
  EXPECT_EQ(b["cache_kind"], "exact");
  EXPECT_EQ(b["hits"], a["hits"]);

  // Same text, other scope (top_k): not answered from the cache.
  nlohmann::json q2 = q;
  q2["top_k"] = 2;
  const nlohmann::json c = client.post_json("/query", q2).json();
  EXPECT_EQ(c["cache"], "miss");
  EXPECT_EQ(c["hits"].size(), 2u);
  EXPECT_EQ(parts_.cache->get_stats().exact_hits, 1u);
}

TEST_F(ServerQuery, WhereFiltersTheHitsAndABadFilterIs422NamingIt) {
  HttpClient client(server_->port());
  nlohmann::json q = {{"text", "create an index concurrently so writes are not locked"},
                      {"tables", {"docs"}},
                      {"top_k", 3},
                      {"where", "meta.n >= 2"}};
  const Reply r = client.post_json("/query", q);
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json a = r.json();
  ASSERT_FALSE(a["hits"].empty());
  for (const auto& h : a["hits"]) EXPECT_GE(h["metadata"]["n"].get<int>(), 2) << h.dump();
  EXPECT_NE(a["hits"][0]["id"], "docs-0");  // the best match overall is filtered out
  q["where"] = "meta.n >= ";
  const Reply bad = client.post_json("/query", q);
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(bad.json()["field"], "where") << bad.body;
  EXPECT_NE(bad.json()["error"].get<std::string>().find("filter: expected a value"),
            std::string::npos)
      << bad.body;
  q["where"] = 7;
  EXPECT_EQ(client.post_json("/query", q).status, 422);
}

TEST_F(ServerQuery, ModeSelectsTextOrHybridAndAnUnknownModeIs422) {
  ASSERT_TRUE(parts_.store->enable_text_search("docs"));
  HttpClient client(server_->port());
  nlohmann::json q = {{"text", "create an index concurrently"},
                      {"tables", {"docs"}},
                      {"top_k", 3},
                      {"mode", "hybrid"}};
  const Reply r = client.post_json("/query", q);
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json a = r.json();
  ASSERT_FALSE(a["hits"].empty());
  // docs-0 is first in the text list and second in the vector list: first once fused.
  EXPECT_EQ(a["hits"][0]["id"], "docs-0");
  EXPECT_EQ(a["hits"][0]["text_rank"], 1) << a.dump();
  EXPECT_GE(a["hits"][0]["vector_rank"].get<int>(), 1) << a.dump();
  q["mode"] = "text";
  const nlohmann::json t = client.post_json("/query", q).json();
  ASSERT_FALSE(t["hits"].empty());
  EXPECT_FALSE(t["hits"][0].contains("vector_rank"));
  EXPECT_EQ(t["cache"], "miss");  // another mode is another cache scope
  q["mode"] = "bm25";
  const Reply bad = client.post_json("/query", q);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.json()["field"], "mode") << bad.body;
}

TEST_F(ServerQuery, SameWordsInAnotherOrderAreASemanticHit) {
  // The static model averages word vectors: the reordered text embeds identically, so the
  // similarity tier answers though the exact tier (normalised text) does not.
  HttpClient client(server_->port());
  const Reply a = client.post_json("/query", {{"text", "vacuum full exclusive lock"}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json()["cache"], "miss");
  const Reply b = client.post_json("/query", {{"text", "exclusive lock vacuum full"}});
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(b.json()["cache"], "hit");
  EXPECT_EQ(b.json()["cache_kind"], "semantic");
  EXPECT_NEAR(b.json()["cache_similarity"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(b.json()["hits"], a.json()["hits"]);
  EXPECT_EQ(parts_.cache->get_stats().semantic_hits, 1u);
}

TEST_F(ServerQuery, DefaultsSearchEveryTableOfTheModelWithTopK4) {
  HttpClient client(server_->port());
  const Reply r = client.post_json("/query", {{"text", "standby streams WAL from the primary"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = r.json();
  EXPECT_EQ(j["hits"].size(), 4u);
  EXPECT_EQ(j["timings"]["tables"].size(), 2u);
  EXPECT_NE(j["hits"][0]["text"].get<std::string>().find("standby"), std::string::npos) << j;
}

TEST_F(ServerQuery, TablesIngestedWithAnotherModelAreLeftOutByDefault) {
  home_.store()->ensure_collection("other", home_.model()->dim(), Metric::kCosine,
                                   "static:someone-else@0");
  HttpClient client(server_->port());
  const Reply r = client.post_json("/query", {{"text", "vacuum"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["timings"]["tables"].size(), 2u);
  const Reply named = client.post_json("/query", {{"text", "vacuum"}, {"tables", {"other"}}});
  EXPECT_EQ(named.status, 422) << named.body;
  EXPECT_NE(named.json()["error"].get<std::string>().find("static:someone-else@0"),
            std::string::npos)
      << named.body;
  EXPECT_EQ(named.json()["field"], "tables[0]");
}

TEST_F(ServerQuery, WithoutACacheEveryAnswerIsFresh) {
  start({}, /*cache=*/false);
  HttpClient client(server_->port());
  for (int i = 0; i < 2; ++i) {
    const Reply r = client.post_json("/query", {{"text", "hash index equality"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["cache"], "off");
  }
}

TEST_F(ServerQuery, ConfiguredDefaultTablesAreUsed) {
  start({.default_tables = {"notes"}});
  HttpClient client(server_->port());
  const nlohmann::json j = client.post_json("/query", {{"text", "dead row space"}}).json();
  ASSERT_TRUE(j.contains("hits")) << j.dump();
  for (const auto& h : j["hits"]) EXPECT_EQ(h["table"], "notes");
}

TEST_F(ServerQuery, EmbedReturnsOneRowPerTextEqualToTheModel) {
  HttpClient client(server_->port());
  const std::vector<std::string> texts = {"vacuum full", "streaming replication", "btree"};
  const Reply r = client.post_json("/embed", {{"texts", texts}});
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = r.json();
  const size_t dim = home_.model()->dim();
  EXPECT_EQ(j["dim"], dim);
  ASSERT_EQ(j["embeddings"].size(), texts.size());
  const EmbeddingMatrix expected = home_.model()->embed(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(j["embeddings"][i].size(), dim);
    for (size_t k = 0; k < dim; ++k) {
      EXPECT_NEAR(j["embeddings"][i][k].get<double>(), expected.row(i)[k], 1e-6);
    }
  }
  EXPECT_TRUE(r.headers.count("x-embed-time"));
}

}  // namespace
}  // namespace ragperf::testing
