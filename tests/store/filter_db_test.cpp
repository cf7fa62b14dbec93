// PgVectorStore's filtered search on a real PostgreSQL + pgvector: every case of filter_cases.h
// (the same answers as LocalStore), the 20k-row selectivity check with and without the filter
// indexes, and EXPLAIN showing which index served the search.
#include <gtest/gtest.h>

#include <set>

#include "ragperf/db_pool.h"
#include "ragperf/error.h"
#include "ragperf/filter.h"
#include "ragperf/pgvector_store.h"
#include "store/filter_cases.h"
#include "testing/test_database.h"

namespace ragperf {
namespace {

class PgFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::test_pool(4);
    store_ = std::make_unique<PgVectorStore>(pool_);
  }
  void TearDown() override {
    if (store_) {
      for (const auto& t : tables_) store_->drop(t);
    }
    store_.reset();
    if (pool_) pool_->close();
  }
  std::string table(const std::string& base) {
    tables_.push_back(testing::unique_table(base));
    return tables_.back();
  }
  std::shared_ptr<DatabaseConnectionPool> pool_;
  std::unique_ptr<PgVectorStore> store_;
  std::vector<std::string> tables_;
};

TEST_F(PgFilterTest, EveryCaseReturnsExactlyTheChunksItAccepts) {
  const std::string name = table("flt_cases");
  store_->ensure_collection(name, 4, Metric::kCosine, "m");
  store_->add(name, filter_cases::chunks());
  const std::vector<float> q = {1, 1, 1, 1};
  for (bool indexed : {false, true}) {
    if (indexed) {
      EXPECT_EQ(store_->create_filter_indexes(name).size(), 2u);
    }
    for (const auto& c : filter_cases::cases()) {
      std::set<std::string> want;
      for (size_t i = 0; i < filter_cases::kChunks; ++i) {
        if (c.accepts(i)) want.insert(filter_cases::id_of(i));
      }
      for (bool exact : {false, true}) {
        auto hits = store_->search(name, q, {.top_k = 100, .exact = exact, .where = c.where});
        std::set<std::string> got;
        for (const Hit& h : hits) got.insert(h.id);
        EXPECT_EQ(got, want) << c.where << (exact ? " (exact)" : "") << (indexed ? " indexed" : "");
        auto top3 = store_->search(name, q, {.top_k = 3, .exact = exact, .where = c.where});
        EXPECT_EQ(top3.size(), std::min<size_t>(3, want.size())) << c.where;
      }
    }
  }
  // The indexes exist now: a second call creates nothing.
  EXPECT_TRUE(store_->create_filter_indexes(name).empty());
}

TEST_F(PgFilterTest, BadFiltersAndValuesNeverReachSqlAsText) {
  const std::string name = table("flt_bad");
  store_->ensure_collection(name, 4, Metric::kCosine, "m");
  store_->add(name, filter_cases::chunks());
  const std::vector<float> q = {1, 1, 1, 1};
  EXPECT_THROW(store_->search(name, q, {.top_k = 3, .where = "meta.lang = "}), InputError);
  // Quotes, backslashes and SQL in a literal are data: they match nothing and break nothing.
  for (const char* where : {"meta.lang = 'x''); DROP TABLE t; --'", "source ^= '%'",
                            "source ^= '\\'", "meta.lang in ('en'' OR ''1''=''1')"}) {
    EXPECT_TRUE(store_->search(name, q, {.top_k = 3, .where = where}).empty()) << where;
  }
  EXPECT_EQ(store_->count(name), filter_cases::kChunks);
  std::vector<std::span<const float>> queries = {q, q};
  auto results = store_->search_batch(name, queries, {.top_k = 3, .where = "nonsense"});
  ASSERT_EQ(results.size(), 2u);
  for (auto& r : results) EXPECT_THROW(r.value(), InputError);
  results = store_->search_batch(name, queries, {.top_k = 3, .where = "meta.lang = 'en'"});
  for (auto& r : results) EXPECT_EQ(r.value().size(), 3u);
}

TEST_F(PgFilterTest, TwentyThousandRowsAtOneTenAndFiftyPercent) {
  const std::string name = table("flt_big");
  store_->ensure_collection(name, filter_cases::kDim, Metric::kCosine, "m");
  store_->add(name, filter_cases::selectivity_chunks(7));
  pool_->run(pool_->execute("ANALYZE " + name));
  // Without filter indexes every filtered ANN search is an HNSW index scan (iterative).
  std::vector<float> q(filter_cases::kDim, 0.5f);
  const std::string hnsw = filter_cases::join({"Index Scan using ", name, "_embedding_idx"});
  for (const auto& sel : filter_cases::selectivities()) {
    const std::string plan = store_->explain_search(name, q, {.top_k = 10, .where = sel.where});
    EXPECT_NE(plan.find(hnsw), std::string::npos) << sel.where << "\n" << plan;
  }
  auto recalls = filter_cases::check_selectivities(*store_, name);
  std::cout << "filtered recall@10 at 1/10/50 % (HNSW): " << recalls[0] << " " << recalls[1] << " "
            << recalls[2] << "\n";
  // With the GIN index the planner may serve the selective filter from it (a bitmap scan and
  // an exact sort) and keeps the HNSW index for the broad one; both are complete.
  ASSERT_EQ(store_->create_filter_indexes(name).size(), 2u);
  const std::string broad =
      store_->explain_search(name, q, {.top_k = 10, .where = "meta.half = true"});
  EXPECT_NE(broad.find(hnsw), std::string::npos) << broad;
  const std::string narrow = store_->explain_search(name, q, {.top_k = 10, .where = "meta.b = 7"});
  std::cout << "plan of the 1 % filter with the GIN index:\n" << narrow;
  recalls = filter_cases::check_selectivities(*store_, name);
  std::cout << "filtered recall@10 at 1/10/50 % (with filter indexes): " << recalls[0] << " "
            << recalls[1] << " " << recalls[2] << "\n";
}

}  // namespace
}  // namespace ragperf
