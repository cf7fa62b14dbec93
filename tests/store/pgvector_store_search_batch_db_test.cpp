// PgVectorStore::search_batch() on a real PostgreSQL + pgvector (DATABASE_URL): the batch goes in
// one round trip on one pooled connection, result i is exactly what search() gives query i (hits
// and scores, or the same error), an error concerns only its own query, and failures of the
// whole batch (unknown collection, bad options, a table dropped behind the store's back, a closed
// pool) reach every query as search() would report them.
#include "ragperf/pgvector_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <limits>
#include <random>

#include "ragperf/error.h"
#include "store/search_batch_checks.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::expect_batch_equals_searches;
using testing::expect_error;
using testing::spans;

using testing::cat;
using testing::random_vectors;

/// A name no other test process uses (ctest runs test cases in parallel on one database).
std::string unique_name(const std::string& base) {
  static std::atomic<int> counter{0};
  return base + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

class PgSearchBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::database_url();
    if (url.empty()) {
      GTEST_FAIL() << "DATABASE_URL is not set: start a server with scripts/pg_start.sh DIR and "
                      "export DATABASE_URL, or run scripts/test.sh";
    }
    cfg_ = PoolConfig::from_url(url);
    cfg_.min_size = 1;
    cfg_.max_size = 4;
    pool_ = std::make_shared<DatabaseConnectionPool>(cfg_);
    store_ = std::make_unique<PgVectorStore>(pool_);
  }
  void TearDown() override {
    if (store_ && !pool_->closed()) {
      for (const auto& t : tables_) store_->drop(t);
    }
    store_.reset();
    if (pool_) pool_->close();
  }

  /// A fresh collection of `n` random chunks (dim `dim`); TearDown drops it.
  std::string fill(const std::string& base, Metric metric, size_t n, size_t dim, uint32_t seed) {
    tables_.push_back(unique_name(base));
    const std::string t = tables_.back();
    store_->ensure_collection(t, dim, metric, "m");
    vecs_ = random_vectors(n, dim, seed);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < n; ++i) {
      Chunk c;
      c.id = cat("c", i);
      c.text = cat("text ", i);
      c.metadata_json = R"({"n": )" + std::to_string(i) + "}";
      c.content_hash = c.id;
      c.source = cat("s", i % 3);
      c.embedding = vecs_[i];
      chunks.push_back(std::move(c));
    }
    store_->add(t, chunks);
    return t;
  }

  PoolConfig cfg_;
  std::shared_ptr<DatabaseConnectionPool> pool_;
  std::unique_ptr<PgVectorStore> store_;
  std::vector<std::string> tables_;
  std::vector<std::vector<float>> vecs_;
};

TEST_F(PgSearchBatchTest, EqualsOneSearchPerQueryForEveryMetricAnnAndExact) {
  for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    const std::string t = fill("sb_eq", metric, 500, 16, 11);
    auto queries = random_vectors(24, 16, 12);
    queries.push_back(vecs_[42]);
    queries.push_back(vecs_[42]);  // the same query twice in one batch
    const std::string where = to_string(metric);
    for (const SearchOptions& o :
         {SearchOptions{.top_k = 5}, SearchOptions{.top_k = 5, .exact = true},
          SearchOptions{.top_k = 4, .ef_search = 10},
          SearchOptions{.top_k = 8, .ef_search = 400}}) {
      const auto got = expect_batch_equals_searches(*store_, t, queries, o, where);
      ASSERT_EQ(got.size(), queries.size());
      for (const auto& r : got) {
        ASSERT_TRUE(r.ok()) << where << ": " << testing::error_text(r.error);
        EXPECT_EQ(r.hits.size(), o.top_k) << where;
        EXPECT_EQ(r.hits[0].source_table, t);
      }
      EXPECT_EQ(got[24].hits[0].id, "c42") << where;
    }
  }
}

TEST_F(PgSearchBatchTest, TheBatchTakesOneConnectionAndOneRoundTrip) {
  const std::string t = fill("sb_one", Metric::kCosine, 100, 8, 1);
  const auto queries = random_vectors(40, 8, 2);
  store_->search(t, queries[0], {});  // the registry entry is cached from here on
  const PoolStats before = pool_->get_stats();
  const auto got = store_->search_batch(t, spans(queries), {.top_k = 3});
  const PoolStats after = pool_->get_stats();
  ASSERT_EQ(got.size(), 40u);
  for (const auto& r : got) EXPECT_TRUE(r.ok()) << testing::error_text(r.error);
  EXPECT_EQ(after.acquires - before.acquires, 1u) << "one pooled connection for the batch";
  // BEGIN, SET LOCAL statement_timeout, SET LOCAL hnsw.ef_search, 40 SELECTs, COMMIT: sent
  // together.
  EXPECT_EQ(after.total_queries - before.total_queries, 44u);
}

TEST_F(PgSearchBatchTest, ALargeBatchWithLargeResultsDoesNotStall) {
  // Results larger than the socket buffers: the pipeline must read while it sends.
  const std::string t = fill("sb_big", Metric::kL2, 2000, 32, 3);
  const auto queries = random_vectors(300, 32, 4);
  const auto got = store_->search_batch(t, spans(queries), {.top_k = 200, .exact = true});
  ASSERT_EQ(got.size(), 300u);
  for (size_t i : {0u, 149u, 299u}) {
    testing::expect_same_result(
        got[i], testing::search_one(*store_, t, queries[i], {.top_k = 200, .exact = true}),
        "query " + std::to_string(i));
  }
}

TEST_F(PgSearchBatchTest, AnEmptyBatchIsEmpty) {
  const std::string t = fill("sb_empty", Metric::kCosine, 5, 4, 1);
  const PoolStats before = pool_->get_stats();
  EXPECT_TRUE(store_->search_batch(t, {}, {}).empty());
  EXPECT_TRUE(store_->search_batch(unique_name("sb_missing"), {}, {}).empty());
  EXPECT_EQ(pool_->get_stats().acquires, before.acquires) << "nothing is sent for no queries";
}

TEST_F(PgSearchBatchTest, ABadQueryFailsOnlyItself) {
  const std::string t = fill("sb_bad", Metric::kCosine, 60, 4, 5);
  const std::vector<std::vector<float>> queries = {
      {1, 0, 0, 0},
      {1, 0, 0, 0, 0},  // wrong dimension
      {0, std::numeric_limits<float>::quiet_NaN(), 0, 0},
      {0, 0, 0, -std::numeric_limits<float>::infinity()},
      {0, 0, 0, 0},  // no direction under cosine: no hits, not an error
      {0, 0, 1, 0},
  };
  const auto got = expect_batch_equals_searches(*store_, t, queries, {.top_k = 3}, "mixed");
  ASSERT_EQ(got.size(), queries.size());
  expect_error<InputError>(got[1], "query vector has dim 5 but table " + t, "dim");
  expect_error<InputError>(got[2], "non-finite value at position 1", "nan");
  expect_error<InputError>(got[3], "non-finite value at position 3", "inf");
  EXPECT_TRUE(got[4].ok());
  EXPECT_TRUE(got[4].hits.empty());
  for (size_t i : {0u, 5u}) {
    ASSERT_TRUE(got[i].ok()) << testing::error_text(got[i].error);
    EXPECT_EQ(got[i].hits.size(), 3u);
  }
}

TEST_F(PgSearchBatchTest, AnUnknownOrInvalidCollectionFailsEveryQuery) {
  const std::vector<std::vector<float>> queries = {{1, 0}, {0, 1}, {1, 1}};
  const std::string missing = unique_name("sb_missing");
  const auto got = expect_batch_equals_searches(*store_, missing, queries, {}, "unknown");
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) {
    expect_error<InputError>(r, "table '" + missing + "' is not a ragperf collection", "unknown");
  }
  const auto bad = expect_batch_equals_searches(*store_, "x; DROP TABLE ragperf_collections",
                                                queries, {}, "invalid");
  for (const auto& r : bad) expect_error<InputError>(r, "is not a valid identifier", "invalid");
}

TEST_F(PgSearchBatchTest, TopKZeroFailsEveryQueryAndAHugeTopKReturnsEverything) {
  const std::string t = fill("sb_topk", Metric::kL2, 70, 6, 7);
  const auto queries = random_vectors(5, 6, 8);
  const auto zero = expect_batch_equals_searches(*store_, t, queries, {.top_k = 0}, "k=0");
  for (const auto& r : zero) expect_error<InputError>(r, "top_k must be at least 1", "k=0");
  const auto neg = expect_batch_equals_searches(*store_, t, queries, {.ef_search = -1}, "ef<0");
  for (const auto& r : neg) expect_error<InputError>(r, "ef_search must be >= 0", "ef<0");
  for (size_t k : {size_t{1000000}, std::numeric_limits<size_t>::max()}) {
    const auto all =
        expect_batch_equals_searches(*store_, t, queries, {.top_k = k, .exact = true}, "huge k");
    for (const auto& r : all) {
      ASSERT_TRUE(r.ok()) << testing::error_text(r.error);
      EXPECT_EQ(r.hits.size(), 70u);
    }
  }
}

TEST_F(PgSearchBatchTest, AServerErrorReachesEachQueryAsSearchReportsIt) {
  // The table disappears behind this store's back (its registry entry stays cached): the
  // pipeline fails on the server and every query gets search()'s error at once, an InputError
  // naming the table and what to do instead of the raw 42P01 and its SQL.
  const std::string t = fill("sb_gone", Metric::kCosine, 20, 4, 9);
  const auto queries = random_vectors(4, 4, 10);
  store_->search(t, queries[0], {});  // caches the registry entry
  pool_->run(pool_->execute("DROP TABLE " + t));
  const auto got = expect_batch_equals_searches(*store_, t, queries, {.top_k = 2}, "dropped");
  ASSERT_EQ(got.size(), 4u);
  for (const auto& r : got) {
    expect_error<InputError>(r, "is registered but no longer exists", "dropped");
  }
  // The pool's connections are usable afterwards.
  EXPECT_TRUE(pool_->health_check());
}

TEST_F(PgSearchBatchTest, AClosedPoolFailsEveryQueryWithUnavailable) {
  const std::string t = fill("sb_closed", Metric::kCosine, 10, 4, 1);
  store_->drop(t);
  tables_.clear();
  pool_->close();
  const std::vector<std::vector<float>> queries = {{1, 0, 0, 0}, {0, 1, 0, 0}};
  const auto got = expect_batch_equals_searches(*store_, t, queries, {}, "closed");
  ASSERT_EQ(got.size(), 2u);
  for (const auto& r : got) EXPECT_FALSE(r.ok());
  for (const auto& r : got) {
    try {
      std::rethrow_exception(r.error);
    } catch (const UnavailableError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "expected UnavailableError, got: " << e.what();
    }
  }
}

TEST_F(PgSearchBatchTest, PrefersSearchBatch) {
  EXPECT_TRUE(store_->prefers_search_batch());
}

}  // namespace
}  // namespace ragperf
