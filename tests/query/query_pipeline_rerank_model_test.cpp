// QueryPipeline with a cross-encoder (QueryTarget::rerank) over real LocalStores and the shared
// reranker fixture: the answer is the top_k of the searched candidates by the reranker's own
// scores, each keeping its retrieval score; the group form agrees; the cache keeps reranked and
// plain answers apart and returns the reranked fields; bad candidate counts are InputErrors.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "batch/hashed_words_model.h"
#include "ragperf/cross_encoder.h"
#include "ragperf/local_store.h"
#include "ragperf/monitor.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/semantic_cache.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::HashedWordsModel;
using testing::TempDir;

std::shared_ptr<const CrossEncoder> reranker() {
  static const std::shared_ptr<const CrossEncoder> ce = CrossEncoder::load(
      testing::shared_dir() / "models" / "cross-encoders" / "bert-ce-l2-h384-f16");
  return ce;
}

class QueryPipelineRerank : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_shared<HashedWordsModel>();
    store_ = std::make_shared<LocalStore>(dir_.path() / "store");
    const std::vector<std::string> texts = {
        "vacuum reclaims dead rows",         "vacuum full rewrites the whole table",
        "the planner picks a join order",    "autovacuum runs vacuum in the background",
        "btree indexes keep keys sorted",    "a hash index answers equality",
        "analyze gathers planner stats",     "dead tuples are removed by vacuum",
        "replication streams wal to standby"};
    store_->ensure_collection("docs", model_->dim(), Metric::kCosine, model_->id());
    EmbeddingMatrix m = model_->embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = "d" + std::to_string(i);
      c.text = texts[i];
      c.source = "docs.txt";
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store_->add("docs", chunks);
  }

  static QueryTarget target(size_t top_k, size_t candidates, bool rerank = true) {
    QueryTarget t;
    t.tables = {"docs"};
    t.options.top_k = top_k;
    t.metric = "cosine";
    if (rerank) t.rerank = {.model = reranker(), .candidates = candidates};
    return t;
  }

  TempDir dir_;
  std::shared_ptr<HashedWordsModel> model_;
  std::shared_ptr<LocalStore> store_;
};

TEST_F(QueryPipelineRerank, ReturnsTheTopKOfTheCandidatesByTheRerankersScore) {
  PerformanceMonitor monitor;
  QueryPipeline pipeline(store_, model_, {.monitor = &monitor});
  const std::string q = "how does vacuum remove dead rows";
  // The candidates: the plain search's top 6.
  const QueryAnswer plain = pipeline.query(target(6, 0, false), q);
  ASSERT_EQ(plain.result.hits.size(), 6u);
  std::vector<std::string> passages;
  for (const auto& h : plain.result.hits) passages.push_back(h.text);
  const std::vector<PairScore> want = reranker()->score(q, passages);
  std::vector<size_t> order(passages.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return want[a].score > want[b].score; });

  const QueryAnswer a = pipeline.query(target(3, 6), q);
  ASSERT_EQ(a.result.hits.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    const RetrievedHit& h = a.result.hits[k];
    const size_t i = order[k];
    EXPECT_EQ(h.text, passages[i]) << k;
    EXPECT_NEAR(h.score, want[i].score, 1e-6) << k;
    ASSERT_TRUE(h.retrieval_score.has_value());
    EXPECT_EQ(*h.retrieval_score, plain.result.hits[i].score) << k;
  }
  EXPECT_GT(a.result.timings.rerank_s, 0.0);
  ASSERT_TRUE(monitor.get_stats("rerank").has_value());
  EXPECT_EQ(monitor.get_stats("rerank")->count, 1u);
  EXPECT_FALSE(plain.result.hits[0].retrieval_score.has_value());
  EXPECT_EQ(plain.result.timings.rerank_s, 0.0);

  // Fewer candidates than top_k: top_k are fetched and scored.
  const QueryAnswer few = pipeline.query(target(4, 2), q);
  EXPECT_EQ(few.result.hits.size(), 4u);
  for (const auto& h : few.result.hits) EXPECT_TRUE(h.retrieval_score.has_value());
}

TEST_F(QueryPipelineRerank, TheGroupFormReranksEachQueryAsTheSingleFormDoes) {
  QueryPipeline pipeline(store_, model_);
  const std::vector<std::string> texts = {"vacuum dead rows", "planner statistics",
                                          "index on keys"};
  std::vector<std::vector<float>> vectors;
  for (const auto& t : texts) vectors.push_back(model_->embed(std::span(&t, 1)).data);
  const auto group =
      Runtime::shared()->run_blocking(pipeline.async_answer_group(target(2, 5), texts, vectors));
  ASSERT_EQ(group.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_FALSE(group[i].error) << i;
    const QueryAnswer single = pipeline.query(target(2, 5), texts[i]);
    ASSERT_EQ(group[i].value.result.hits.size(), single.result.hits.size());
    for (size_t k = 0; k < single.result.hits.size(); ++k) {
      EXPECT_EQ(group[i].value.result.hits[k].id, single.result.hits[k].id);
      EXPECT_NEAR(group[i].value.result.hits[k].score, single.result.hits[k].score, 1e-6);
      EXPECT_TRUE(group[i].value.result.hits[k].retrieval_score.has_value());
    }
  }
}

TEST_F(QueryPipelineRerank, CachedAnswersKeepRerankingApartAndKeepTheirFields) {
  SemanticCache cache;
  QueryPipeline pipeline(store_, model_, {.cache = &cache});
  const std::string q = "vacuum dead rows";
  const QueryAnswer reranked = pipeline.query(target(3, 6), q);
  EXPECT_EQ(reranked.cache, CacheOutcome::kMiss);
  // Not reranked, or reranked over another number of candidates: other scopes.
  EXPECT_EQ(pipeline.query(target(3, 0, false), q).cache, CacheOutcome::kMiss);
  EXPECT_EQ(pipeline.query(target(3, 7), q).cache, CacheOutcome::kMiss);
  const QueryAnswer again = pipeline.query(target(3, 6), q);
  EXPECT_EQ(again.cache, CacheOutcome::kExactHit);
  ASSERT_EQ(again.result.hits.size(), reranked.result.hits.size());
  for (size_t k = 0; k < again.result.hits.size(); ++k) {
    EXPECT_EQ(again.result.hits[k].id, reranked.result.hits[k].id);
    EXPECT_EQ(again.result.hits[k].score, reranked.result.hits[k].score);
    EXPECT_EQ(again.result.hits[k].retrieval_score, reranked.result.hits[k].retrieval_score);
  }
}

TEST_F(QueryPipelineRerank, CandidatesOutOfRangeAreInputErrors) {
  QueryPipeline pipeline(store_, model_);
  for (size_t bad : {size_t{0}, RerankOptions::kMaxCandidates + 1}) {
    try {
      pipeline.query(target(3, bad), "vacuum");
      ADD_FAILURE() << bad << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("rerank candidates"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ragperf
