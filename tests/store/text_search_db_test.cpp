// PgVectorStore's full-text search (generated tsvector column, GIN index, ts_rank_cd): the
// contract of text_cases.h, the migration's column and GIN index, the registry remembering it,
// and an unknown text search configuration.
#include <gtest/gtest.h>

#include "ragperf/db_pool.h"
#include "ragperf/pgvector_store.h"
#include "store/text_cases.h"
#include "testing/test_database.h"

namespace ragperf {
namespace {

TEST(PgTextSearch, FollowsTheContractAndUsesItsIndex) {
  auto pool = testing::test_pool(2);
  const std::string table = testing::unique_table("txt");
  {
    PgVectorStore store(pool);
    text_cases::check(store, table);
    // The migration left a generated column and a GIN index on it.
    auto r =
        pool->run(pool->fetch("SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef "
                              "LIKE '%gin%ragperf_tsv%'",
                              table));
    EXPECT_EQ(r[0][0].as_int(), 1);
    // A store opened later knows the table has it (the registry records the configuration).
    PgVectorStore again(pool);
    EXPECT_TRUE(again.has_text_search(table));
    EXPECT_EQ(again.text_search(table, "vacuum", {.top_k = 10}).size(), 2u);
    // An unknown configuration is an InputError naming it, and changes nothing.
    PgVectorStoreOptions bad;
    bad.text_search_config = "klingon";
    PgVectorStore other(pool, bad);
    other.ensure_collection(table + "_k", 3, Metric::kCosine, "m");
    try {
      other.enable_text_search(table + "_k");
      ADD_FAILURE() << "klingon is no text search configuration";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("'klingon'"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(other.has_text_search(table + "_k"));
    other.drop(table + "_k");
    store.drop(table);
  }
  pool->close();
}

}  // namespace
}  // namespace ragperf
