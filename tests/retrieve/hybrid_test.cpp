// Search modes of ParallelRetriever over a real LocalStore: text mode equals the store's own
// text search, hybrid fuses both lists (ranks recorded, RRF and weighted scores as defined),
// clear errors; and fuse_hybrid() on hand-made lists.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "batch/hashed_words_model.h"
#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "ragperf/retriever.h"
#include "retrieve/hybrid.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

Hit hit(const std::string& id, float score) {
  Hit h;
  h.id = id;
  h.score = score;
  return h;
}

TEST(FuseHybrid, RrfSumsOneOverKPlusRankAndRecordsBothRanks) {
  RetrieveOptions o;
  o.rrf_k = 60;
  auto fused = retrieve::fuse_hybrid({hit("a", 0.9f), hit("b", 0.8f), hit("c", 0.1f)},
                                     {hit("c", 7.0f), hit("d", 3.0f)}, o);
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].id, "c");  // 1/63 + 1/61 beats 1/61 alone
  EXPECT_NEAR(fused[0].score, 1.0 / 63 + 1.0 / 61, 1e-6);
  EXPECT_EQ(fused[0].vector_rank, 3u);
  EXPECT_EQ(fused[0].text_rank, 1u);
  EXPECT_EQ(fused[1].id, "a");  // 1/61
  EXPECT_EQ(fused[2].id, "b");  // 1/62, tied with d: the id breaks it
  EXPECT_EQ(fused[2].vector_rank, 2u);
  EXPECT_EQ(fused[2].text_rank, 0u);
  EXPECT_EQ(fused[3].id, "d");
  EXPECT_EQ(fused[3].vector_rank, 0u);
  EXPECT_EQ(fused[3].text_rank, 2u);
}

TEST(FuseHybrid, WeightedScalesEachListToZeroOne) {
  RetrieveOptions o;
  o.hybrid_fusion = HybridFusion::kWeighted;
  o.text_weight = 0.25;
  auto fused =
      retrieve::fuse_hybrid({hit("a", 0.9f), hit("b", 0.5f)}, {hit("b", 10.0f), hit("c", 2.0f)}, o);
  ASSERT_EQ(fused.size(), 3u);
  // a: 0.75 * 1; b: 0.75 * 0 + 0.25 * 1; c: 0.25 * 0.
  EXPECT_EQ(fused[0].id, "a");
  EXPECT_NEAR(fused[0].score, 0.75, 1e-6);
  EXPECT_EQ(fused[1].id, "b");
  EXPECT_NEAR(fused[1].score, 0.25, 1e-6);
  EXPECT_EQ(fused[2].id, "c");
  EXPECT_NEAR(fused[2].score, 0.0, 1e-6);
  EXPECT_TRUE(retrieve::fuse_hybrid({}, {}, o).empty());
}

TEST(SearchModeNames, RoundTripAndRejectUnknown) {
  for (SearchMode m : {SearchMode::kVector, SearchMode::kText, SearchMode::kHybrid}) {
    EXPECT_EQ(parse_search_mode(to_string(m)), m);
  }
  EXPECT_THROW(parse_search_mode("bm25"), InputError);
  EXPECT_EQ(parse_hybrid_fusion("weighted"), HybridFusion::kWeighted);
  EXPECT_THROW(parse_hybrid_fusion("max"), InputError);
}

class RetrieverModes : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<LocalStore>(dir_.path() / "store");
    model_ = std::make_shared<testing::HashedWordsModel>();
    const std::vector<std::string> texts = {
        "vacuum reclaims dead tuples",    "create index concurrently avoids write locks",
        "the planner orders joins",       "wal ships to a standby",
        "vacuuming keeps tables healthy", "zebra giraffe elephant"};
    store_->ensure_collection("docs", model_->dim(), Metric::kCosine, model_->id());
    EmbeddingMatrix m = model_->embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = std::string("d").append(std::to_string(i));
      c.text = texts[i];
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store_->add("docs", chunks);
  }
  testing::TempDir dir_;
  std::shared_ptr<LocalStore> store_;
  std::shared_ptr<testing::HashedWordsModel> model_;
};

TEST_F(RetrieverModes, TextAndHybridNeedTheFullTextIndexAndSaySo) {
  ParallelRetriever r(store_, model_, {"docs"}, model_->dim());
  RetrieveOptions o;
  o.mode = SearchMode::kText;
  try {
    r.retrieve("vacuum", o);
    ADD_FAILURE() << "no full-text index yet";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ragperf migrate --table docs"), std::string::npos)
        << e.what();
  }
  o.mode = SearchMode::kHybrid;
  store_->enable_text_search("docs");
  EXPECT_THROW(r.retrieve_by_vector(std::vector<float>(model_->dim(), 0.1f), o).get(),
               InputError);  // no text to search with
  o.text_weight = 1.5;
  o.hybrid_fusion = HybridFusion::kWeighted;
  EXPECT_THROW(r.retrieve("vacuum", o), InputError);
}

TEST_F(RetrieverModes, TextEqualsTheStoresTextSearchAndHybridFusesBoth) {
  store_->enable_text_search("docs");
  ParallelRetriever r(store_, model_, {"docs"}, model_->dim());
  RetrieveOptions o;
  o.top_k = 3;
  o.mode = SearchMode::kText;
  const RetrieveResult text = r.retrieve("vacuum", o);
  const std::vector<Hit> direct = store_->text_search("docs", "vacuum", {.top_k = 6});
  ASSERT_EQ(text.hits.size(), 2u);  // stemming: vacuum, vacuuming
  for (size_t i = 0; i < text.hits.size(); ++i) {
    EXPECT_EQ(text.hits[i].id, direct[i].id);
    EXPECT_EQ(text.hits[i].text_rank, i + 1);
    EXPECT_EQ(text.hits[i].vector_rank, 0u);
  }
  EXPECT_EQ(text.timings.embed_s, 0.0);  // text mode embeds nothing

  o.mode = SearchMode::kHybrid;
  o.top_k = 6;
  const RetrieveResult hybrid = r.retrieve("vacuum dead tuples", o);
  ASSERT_FALSE(hybrid.hits.empty());
  // The chunk both lists rank first wins, and says so.
  EXPECT_EQ(hybrid.hits[0].id, "d0");
  EXPECT_EQ(hybrid.hits[0].vector_rank, 1u);
  EXPECT_EQ(hybrid.hits[0].text_rank, 1u);
  EXPECT_NEAR(hybrid.hits[0].score, 2.0 / 61, 1e-6);
  for (const RetrievedHit& h : hybrid.hits) EXPECT_TRUE(h.vector_rank || h.text_rank) << h.id;
  for (size_t i = 1; i < hybrid.hits.size(); ++i) {
    EXPECT_GE(hybrid.hits[i - 1].score, hybrid.hits[i].score);
  }
}

}  // namespace
}  // namespace ragperf
