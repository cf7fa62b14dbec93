// VectorStore::search_batch() on a real LocalStore (its default implementation): result i is
// exactly what search() gives query i (hits and scores, or the same error), an error concerns
// only its own query, an empty batch is empty, and whole-batch errors (unknown collection, bad
// options) reach every query.
#include "ragperf/local_store.h"

#include <gtest/gtest.h>

#include <cmath>
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
using testing::TempDir;

using testing::cat;
using testing::random_vectors;

/// A LocalStore whose collections of 200+ chunks use HNSW, so both search paths are covered.
struct Fixture {
  TempDir dir;
  LocalStore store{dir.path(), LocalStoreOptions{.ann_threshold = 200}};
  std::vector<std::vector<float>> vecs;

  /// Collection `name` with `n` random chunks of `dim` floats.
  void fill(const std::string& name, Metric metric, size_t n, size_t dim, uint32_t seed) {
    store.ensure_collection(name, dim, metric, "m");
    vecs = random_vectors(n, dim, seed);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < n; ++i) {
      Chunk c;
      c.id = cat("c", i);
      c.text = cat("text ", i);
      c.metadata_json = R"({"n":)" + std::to_string(i) + "}";
      c.content_hash = c.id;
      c.source = cat("s", i % 3);
      c.embedding = vecs[i];
      chunks.push_back(std::move(c));
    }
    store.add(name, chunks);
  }
};

TEST(LocalStoreSearchBatch, EqualsOneSearchPerQueryForEveryMetricAndPath) {
  for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    for (size_t n : {50u, 400u}) {  // brute force below the ANN threshold, HNSW above
      Fixture fx;
      fx.fill("docs", metric, n, 12, 3);
      auto queries = random_vectors(20, 12, 4);
      queries.push_back(fx.vecs[7]);  // an exact match
      queries.push_back(fx.vecs[7]);  // the same query twice in one batch
      const std::string where = std::string(to_string(metric)) + " n=" + std::to_string(n);
      for (const SearchOptions& o :
           {SearchOptions{.top_k = 5}, SearchOptions{.top_k = 5, .exact = true},
            SearchOptions{.top_k = 3, .ef_search = 40}}) {
        const auto got = expect_batch_equals_searches(fx.store, "docs", queries, o, where);
        ASSERT_EQ(got.size(), queries.size());
        for (const auto& r : got) {
          EXPECT_TRUE(r.ok()) << where;
          EXPECT_EQ(r.hits.size(), o.top_k) << where;
        }
        EXPECT_EQ(got[20].hits[0].id, "c7") << where;
      }
    }
  }
}

TEST(LocalStoreSearchBatch, AnEmptyBatchIsEmpty) {
  Fixture fx;
  fx.fill("docs", Metric::kCosine, 10, 4, 1);
  EXPECT_TRUE(fx.store.search_batch("docs", {}, {}).empty());
  // Nothing to answer, so nothing is checked: not even the collection.
  EXPECT_TRUE(fx.store.search_batch("missing", {}, {}).empty());
}

TEST(LocalStoreSearchBatch, ABadQueryFailsOnlyItself) {
  Fixture fx;
  fx.fill("docs", Metric::kCosine, 30, 4, 2);
  std::vector<std::vector<float>> queries = {
      {1, 0, 0, 0},
      {1, 0, 0},  // wrong dimension
      {0, 1, std::numeric_limits<float>::quiet_NaN(), 0},
      {0, 0, 1, std::numeric_limits<float>::infinity()},
      {0, 0, 0, 0},  // no direction under cosine: no hits, not an error
      {0, 0, 1, 0},
  };
  const auto got = expect_batch_equals_searches(fx.store, "docs", queries, {.top_k = 3}, "mixed");
  ASSERT_EQ(got.size(), queries.size());
  expect_error<InputError>(got[1], "query vector has dim 3 but table docs", "dim");
  expect_error<InputError>(got[2], "non-finite value at position 2", "nan");
  expect_error<InputError>(got[3], "non-finite value at position 3", "inf");
  EXPECT_TRUE(got[4].ok());
  EXPECT_TRUE(got[4].hits.empty());
  for (size_t i : {0u, 5u}) {
    ASSERT_TRUE(got[i].ok()) << i;
    EXPECT_EQ(got[i].hits.size(), 3u) << i;
  }
  SearchResult bad = got[1];
  EXPECT_THROW(bad.value(), InputError);
  SearchResult good = got[0];
  EXPECT_EQ(good.value().size(), 3u);
}

TEST(LocalStoreSearchBatch, AnUnknownOrInvalidCollectionFailsEveryQuery) {
  Fixture fx;
  const std::vector<std::vector<float>> queries = {{1, 0}, {0, 1}, {1, 1}};
  const auto got = expect_batch_equals_searches(fx.store, "nope", queries, {}, "unknown");
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) expect_error<InputError>(r, "'nope' does not exist", "unknown");
  const auto bad = fx.store.search_batch("x; drop table chunks", spans(queries), {});
  ASSERT_EQ(bad.size(), 3u);
  for (const auto& r : bad) expect_error<InputError>(r, "is not a valid identifier", "invalid");
}

TEST(LocalStoreSearchBatch, TopKZeroFailsEveryQueryAndAHugeTopKReturnsEverything) {
  for (size_t n : {40u, 300u}) {
    Fixture fx;
    fx.fill("docs", Metric::kL2, n, 6, 5);
    const auto queries = random_vectors(4, 6, 6);
    const auto zero = expect_batch_equals_searches(fx.store, "docs", queries, {.top_k = 0}, "k=0");
    for (const auto& r : zero) expect_error<InputError>(r, "top_k must be at least 1", "k=0");
    const auto neg =
        expect_batch_equals_searches(fx.store, "docs", queries, {.ef_search = -1}, "ef=-1");
    for (const auto& r : neg) expect_error<InputError>(r, "ef_search must be >= 0", "ef=-1");
    for (size_t k : {size_t{1000000}, std::numeric_limits<size_t>::max()}) {
      for (bool exact : {false, true}) {
        const auto all = expect_batch_equals_searches(fx.store, "docs", queries,
                                                      {.top_k = k, .exact = exact}, "huge k");
        for (const auto& r : all) {
          ASSERT_TRUE(r.ok()) << testing::error_text(r.error);
          EXPECT_EQ(r.hits.size(), n) << "k=" << k << " exact=" << exact;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ragperf
