// PgVectorStore with halfvec storage (PgVectorStoreOptions::storage): the tables it creates hold
// float16 embeddings and a halfvec HNSW index that serves the search; writes (binary COPY of
// float32) and reads work; the hits match a float32 brute force within half precision; a store
// with vector storage opened on the same database reads the table too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "ragperf/db_pool.h"
#include "ragperf/error.h"
#include "ragperf/pgvector_store.h"
#include "store/filter_cases.h"
#include "testing/test_database.h"

namespace ragperf {
namespace {

TEST(PgHalfvec, TablesStoreHalfPrecisionAndSearchThroughTheirIndex) {
  auto pool = testing::test_pool(2);
  PgVectorStoreOptions half_options;
  half_options.storage = "halfvec";
  const std::string half = testing::unique_table("hv_half");
  {
    PgVectorStore half_store(pool, half_options);
    PgVectorStore full_store(pool);  // vector storage: reads the halfvec table as well
    const auto chunks = filter_cases::selectivity_chunks(3);
    half_store.ensure_collection(half, filter_cases::kDim, Metric::kCosine, "m");
    half_store.add(half, chunks);
    pool->run(pool->execute("ANALYZE " + half));
    auto type = pool->run(
        pool->fetch("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                    "to_regclass($1) AND attname = 'embedding'",
                    half));
    EXPECT_EQ(type[0][0].as_text(), "halfvec(32)");
    std::vector<float> q(filter_cases::kDim, 0.3f);
    q[0] = 1.0f;
    const std::string plan = half_store.explain_search(half, q, {.top_k = 10});
    EXPECT_NE(plan.find(filter_cases::join({"Index Scan using ", half, "_embedding_idx"})),
              std::string::npos)
        << plan;
    // Exact search: the float32 brute force's hits, scores within half precision.
    std::vector<std::pair<double, std::string>> truth;
    double qn = 0;
    for (float x : q) qn += double(x) * x;
    for (const Chunk& c : chunks) {
      double dot = 0, n = 0;
      for (size_t j = 0; j < q.size(); ++j) {
        dot += double(q[j]) * c.embedding[j];
        n += double(c.embedding[j]) * c.embedding[j];
      }
      truth.emplace_back(dot / std::sqrt(qn * n), c.id);
    }
    std::sort(truth.rbegin(), truth.rend());
    auto h = full_store.search(half, q, {.top_k = 10, .exact = true});
    ASSERT_EQ(h.size(), 10u);
    size_t common = 0;
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_NEAR(h[i].score, truth[i].first, 2e-3) << i;
      for (size_t j = 0; j < 10; ++j) common += h[i].id == truth[j].second;
    }
    EXPECT_GE(common, 9u);
    // ANN, filters and replacing a source work on it too.
    EXPECT_EQ(half_store.search(half, q, {.top_k = 10}).size(), 10u);
    EXPECT_EQ(half_store.search(half, q, {.top_k = 5, .where = "meta.b = 7"}).size(), 5u);
    Chunk extra = chunks[0];
    extra.id = "extra";
    half_store.replace_source(half, "x.txt", "h", std::span<const Chunk>(&extra, 1));
    EXPECT_EQ(half_store.count(half), chunks.size() + 1);
    half_store.drop(half);
  }
  PgVectorStoreOptions bad;
  bad.storage = "float8";
  EXPECT_THROW(PgVectorStore(pool, bad), ConfigError);
  pool->close();
}

}  // namespace
}  // namespace ragperf
