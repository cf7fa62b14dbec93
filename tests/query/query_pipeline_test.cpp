// QueryPipeline over real LocalStores: the same hits as the retriever, both cache tiers, scopes
// that keep different options apart, the epoch rule against a concurrent invalidation, partial
// answers never cached, the group form equal to the single form, and clear errors.
#include "ragperf/query_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "batch/hashed_words_model.h"
#include "ragperf/local_store.h"
#include "ragperf/semantic_cache.h"
#include "testing/forwarding_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::HashedWordsModel;
using testing::TempDir;

// HashedWordsModel, except that a text made only of the word "zzz" embeds to all zeros (a static
// model that knows none of the words).
class ZeroForUnknownModel : public HashedWordsModel {
 public:
  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts = nullptr) override {
    EmbeddingMatrix m = HashedWordsModel::embed(texts, token_counts);
    for (size_t i = 0; i < texts.size(); ++i) {
      if (texts[i] == "zzz") std::fill(m.row(i).begin(), m.row(i).end(), 0.0f);
    }
    return m;
  }
};

// Invalidates `cache`'s table while a search runs, as an ingest would.
class InvalidatingStore : public testing::ForwardingStore {
 public:
  InvalidatingStore(VectorStore& real, SemanticCache& cache)
      : ForwardingStore(real), cache_(cache) {}
  std::vector<Hit> search(const std::string& c, std::span<const float> q,
                          const SearchOptions& o) override {
    if (armed.exchange(false)) cache_.invalidate_table(c);
    return real_.search(c, q, o);
  }
  std::atomic<bool> armed{false};

 private:
  SemanticCache& cache_;
};

class QueryPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_shared<ZeroForUnknownModel>();
    store_ = std::make_shared<LocalStore>(dir_.path() / "store");
    add("alpha", {"vacuum reclaims dead rows", "the planner picks a join order",
                  "replication streams wal to a standby", "vacuum full rewrites the table"});
    add("beta", {"vacuum reclaims dead rows", "btree indexes keep keys sorted",
                 "a hash index answers equality", "analyze gathers planner stats"});
  }

  void add(const std::string& table, const std::vector<std::string>& texts) {
    store_->ensure_collection(table, model_->dim(), Metric::kCosine, model_->id());
    EmbeddingMatrix m = model_->embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = table + "-" + std::to_string(i);
      c.text = texts[i];
      c.source = table + ".txt";
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store_->add(table, chunks);
  }

  static QueryTarget both(size_t top_k = 3) {
    QueryTarget t;
    t.tables = {"alpha", "beta"};
    t.options.top_k = top_k;
    t.metric = "cosine";
    return t;
  }

  std::vector<float> vector_of(const std::string& text) {
    return model_->embed(std::span<const std::string>(&text, 1)).data;
  }

  static std::vector<std::string> ids(const std::vector<RetrievedHit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.source_table + "/" + h.id);
    return out;
  }

  TempDir dir_;
  std::shared_ptr<ZeroForUnknownModel> model_;
  std::shared_ptr<LocalStore> store_;
};

TEST_F(QueryPipelineTest, WithoutACacheAnswersAsTheRetrieverDoes) {
  QueryPipeline pipeline(store_, model_);
  ParallelRetriever retriever(store_, model_, {"alpha", "beta"}, model_->dim());
  for (const std::string q : {"vacuum dead rows", "planner join", "hash index equality"}) {
    const QueryAnswer a = pipeline.query(both(), q);
    RetrieveOptions o;
    o.top_k = 3;
    const RetrieveResult r = retriever.retrieve(q, o);
    EXPECT_EQ(a.cache, CacheOutcome::kOff);
    EXPECT_EQ(ids(a.result.hits), ids(r.hits)) << q;
    ASSERT_FALSE(a.result.hits.empty());
    EXPECT_EQ(a.result.hits[0].score, r.hits[0].score);
    EXPECT_EQ(a.result.timings.table_s.size(), 2u);
    EXPECT_GT(a.result.timings.total_s, 0.0);
  }
  // Deduplicated: the text held by both tables comes back once, naming both.
  const QueryAnswer a = pipeline.query(both(), "vacuum reclaims dead rows");
  ASSERT_FALSE(a.result.hits.empty());
  EXPECT_EQ(a.result.hits[0].text, "vacuum reclaims dead rows");
  EXPECT_EQ(a.result.hits[0].source_tables.size(), 2u);
}

TEST_F(QueryPipelineTest, RepeatedQueriesComeFromTheExactThenTheSemanticTier) {
  SemanticCache cache;
  QueryPipeline pipeline(store_, model_, {.cache = &cache});
  const QueryAnswer first = pipeline.query(both(), "vacuum dead rows");
  EXPECT_EQ(first.cache, CacheOutcome::kMiss);
  EXPECT_EQ(cache.get_stats().stores, 1u);

  const QueryAnswer again = pipeline.query(both(), "vacuum dead rows");
  EXPECT_EQ(again.cache, CacheOutcome::kExactHit);
  EXPECT_EQ(ids(again.result.hits), ids(first.result.hits));
  EXPECT_EQ(again.result.hits[0].source_tables, first.result.hits[0].source_tables);
  EXPECT_EQ(again.result.hits[0].similarity, first.result.hits[0].similarity);
  ASSERT_TRUE(pipeline.lookup_exact(both(), "vacuum dead rows").has_value());
  EXPECT_FALSE(pipeline.lookup_exact(both(), "vacuum rows dead").has_value());

  // Same words in another order: another text, the same vector -> the similarity tier.
  const QueryAnswer similar = pipeline.query(both(), "dead rows vacuum");
  EXPECT_EQ(similar.cache, CacheOutcome::kSemanticHit);
  EXPECT_NEAR(similar.cache_similarity, 1.0, 1e-5);
  EXPECT_EQ(ids(similar.result.hits), ids(first.result.hits));
}

TEST_F(QueryPipelineTest, OptionsThatChangeTheHitsAreSeparateCacheScopes) {
  SemanticCache cache;
  QueryPipeline pipeline(store_, model_, {.cache = &cache});
  ASSERT_EQ(pipeline.query(both(), "planner join").cache, CacheOutcome::kMiss);
  QueryTarget exact = both();
  exact.options.exact = true;
  QueryTarget rrf = both();
  rrf.options.fusion = Fusion::kRrf;
  QueryTarget no_dedup = both();
  no_dedup.options.deduplicate = false;
  QueryTarget more = both(4);
  QueryTarget one = both();
  one.tables = {"alpha"};
  for (const QueryTarget& t : {exact, rrf, no_dedup, more, one}) {
    EXPECT_EQ(pipeline.query(t, "planner join").cache, CacheOutcome::kMiss)
        << pipeline.scope(t).key();
  }
  for (const QueryTarget& t : {exact, rrf, no_dedup, more, one}) {
    EXPECT_EQ(pipeline.query(t, "planner join").cache, CacheOutcome::kExactHit);
  }
  // The table order does not change the answer's scope.
  QueryTarget reversed = both();
  reversed.tables = {"beta", "alpha"};
  EXPECT_EQ(pipeline.query(reversed, "planner join").cache, CacheOutcome::kExactHit);
}

TEST_F(QueryPipelineTest, AFilterIsAppliedInEveryTableAndIsPartOfTheCacheScope) {
  SemanticCache cache;
  QueryPipeline pipeline(store_, model_, {.cache = &cache});
  QueryTarget alpha_only = both(8);
  alpha_only.options.where = "source = 'alpha.txt'";
  const QueryAnswer a = pipeline.query(alpha_only, "vacuum dead rows");
  EXPECT_EQ(a.cache, CacheOutcome::kMiss);
  ASSERT_EQ(a.result.hits.size(), 4u);  // alpha's four chunks, nothing of beta
  for (const auto& h : a.result.hits) EXPECT_EQ(h.source, "alpha.txt") << h.id;
  // Unfiltered: another scope (beta's chunks come back too), not answered from the filtered one.
  const QueryAnswer all = pipeline.query(both(8), "vacuum dead rows");
  EXPECT_EQ(all.cache, CacheOutcome::kMiss);
  EXPECT_GT(all.result.hits.size(), 4u);
  // The same filter written differently is the same scope.
  QueryTarget same = both(8);
  same.options.where = "  SOURCE='alpha.txt' ";
  EXPECT_EQ(pipeline.query(same, "vacuum dead rows").cache, CacheOutcome::kExactHit);
  // A filter that does not parse is an InputError before any search.
  QueryTarget bad = both();
  bad.options.where = "source = ";
  EXPECT_THROW(pipeline.query(bad, "vacuum dead rows"), InputError);
}

TEST_F(QueryPipelineTest, AnAnswerReadBeforeAnInvalidationIsNotCached) {
  SemanticCache cache;
  auto store = std::make_shared<InvalidatingStore>(*store_, cache);
  QueryPipeline pipeline(store, model_, {.cache = &cache});
  store->armed = true;  // the search invalidates "alpha" while it runs
  const QueryAnswer a = pipeline.query(both(), "vacuum dead rows");
  EXPECT_EQ(a.cache, CacheOutcome::kMiss);
  EXPECT_FALSE(a.result.hits.empty());
  EXPECT_EQ(cache.get_stats().stores, 0u);
  EXPECT_EQ(pipeline.query(both(), "vacuum dead rows").cache, CacheOutcome::kMiss);
  EXPECT_EQ(cache.get_stats().stores, 1u);  // no invalidation this time: stored
  EXPECT_EQ(pipeline.query(both(), "vacuum dead rows").cache, CacheOutcome::kExactHit);
}

TEST_F(QueryPipelineTest, AnAnswerWithAFailedTableIsNeverCached) {
  SemanticCache cache;
  QueryPipeline pipeline(store_, model_, {.cache = &cache});
  QueryTarget t = both();
  t.tables.push_back("gamma");  // does not exist
  t.options.partial_results = true;
  const QueryAnswer a = pipeline.query(t, "vacuum dead rows");
  ASSERT_EQ(a.result.failures.size(), 1u);
  EXPECT_EQ(a.result.failures[0].table, "gamma");
  EXPECT_FALSE(a.result.hits.empty());
  EXPECT_EQ(pipeline.query(t, "vacuum dead rows").cache, CacheOutcome::kMiss);
  EXPECT_EQ(cache.get_stats().stores, 0u);
  t.options.partial_results = false;
  EXPECT_THROW(pipeline.query(t, "vacuum dead rows"), InputError);
}

TEST_F(QueryPipelineTest, AQueryOfUnknownWordsIsAnInputErrorNamingTheModel) {
  SemanticCache cache;
  QueryPipeline pipeline(store_, model_, {.cache = &cache});
  try {
    pipeline.query(both(), "zzz");
    FAIL() << "no error";
  } catch (const UnknownWordsError& e) {
    EXPECT_NE(std::string(e.what()).find(model_->id()), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInput);
  }
  EXPECT_EQ(cache.get_stats().stores, 0u);
  // A vector of the wrong size is refused before any search.
  EXPECT_THROW(Runtime::shared()->run_blocking(
                   pipeline.async_answer_embedded(both(), "x", std::vector<float>(3, 1.0f))),
               InputError);
}

TEST_F(QueryPipelineTest, TheGroupFormAnswersAsTheSingleFormDoes) {
  const std::vector<std::string> texts = {"vacuum dead rows", "zzz", "btree keys sorted",
                                          "wal standby"};
  for (const bool one_table : {true, false}) {
    SemanticCache cache;
    QueryPipeline pipeline(store_, model_, {.cache = &cache});
    QueryTarget t = both();
    if (one_table) t.tables = {"beta"};  // one search_batch() call for the group
    std::vector<std::vector<float>> vectors;
    for (const auto& text : texts) vectors.push_back(vector_of(text));
    const std::vector<Outcome<QueryAnswer>> group =
        Runtime::shared()->run_blocking(pipeline.async_answer_group(t, texts, vectors));
    ASSERT_EQ(group.size(), texts.size());
    QueryPipeline plain(store_, model_);
    for (size_t i = 0; i < texts.size(); ++i) {
      if (texts[i] == "zzz") {
        ASSERT_FALSE(group[i].ok());
        EXPECT_THROW(std::rethrow_exception(group[i].error), UnknownWordsError);
        continue;
      }
      ASSERT_TRUE(group[i].ok()) << texts[i];
      EXPECT_EQ(group[i].value.cache, CacheOutcome::kMiss);
      EXPECT_EQ(ids(group[i].value.result.hits), ids(plain.query(t, texts[i]).result.hits))
          << texts[i] << (one_table ? " (one table)" : " (two tables)");
    }
    // Stored by the group: the same queries now come from the cache.
    EXPECT_EQ(cache.get_stats().stores, texts.size() - 1);
    const auto again =
        Runtime::shared()->run_blocking(pipeline.async_answer_group(t, texts, vectors));
    EXPECT_EQ(again[0].value.cache,
              CacheOutcome::kExactHit);  // lookup() tries the exact tier first
  }
}

TEST_F(QueryPipelineTest, HitsConvertBackToTheStoresHits) {
  QueryPipeline pipeline(store_, model_);
  QueryTarget t = both();
  t.tables = {"alpha"};
  t.options.deduplicate = false;
  const QueryAnswer a = pipeline.query(t, "vacuum dead rows");
  SearchOptions so;
  so.top_k = 3;
  const std::vector<Hit> direct = store_->search("alpha", vector_of("vacuum dead rows"), so);
  const std::vector<Hit> hits = to_hits(a.result.hits);
  ASSERT_EQ(hits.size(), direct.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].id, direct[i].id);
    EXPECT_EQ(hits[i].score, direct[i].score);
    EXPECT_EQ(hits[i].source_table, "alpha");
  }
}

TEST(QueryPipelineOptionsTest, NeedsAModelAndRoomForARetriever) {
  EXPECT_THROW(QueryPipeline(nullptr, std::shared_ptr<EmbeddingModel>()), ConfigError);
  auto model = std::make_shared<HashedWordsModel>();
  EXPECT_THROW(QueryPipeline(nullptr, model, {.max_retrievers = 0}), ConfigError);
}

}  // namespace
}  // namespace ragperf
