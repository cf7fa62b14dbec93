// BatchProcessor over PgVectorStore on a real PostgreSQL + pgvector (DATABASE_URL): a batch's
// searches spread over the pool's connections give each caller the hits of its own text (equal
// to a direct exact search), and an error in one query reaches only that query.
#include "ragperf/batch_processor.h"

#include <gtest/gtest.h>

#include <memory>

#include "batch/hashed_words_model.h"
#include "ragperf/db_pool.h"
#include "ragperf/pgvector_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

TEST(BatchProcessorDb, BatchedSearchesOverThePoolMatchDirectSearches) {
  const std::string url = testing::database_url();
  if (url.empty()) {
    GTEST_FAIL() << "DATABASE_URL is not set: start a server with scripts/pg_start.sh DIR and "
                    "export DATABASE_URL, or run scripts/test.sh";
  }
  PoolConfig cfg = PoolConfig::from_url(url);
  cfg.min_size = 1;
  cfg.max_size = 4;
  auto pool = std::make_shared<DatabaseConnectionPool>(cfg);
  auto store = std::make_shared<PgVectorStore>(pool);
  auto model = std::make_shared<testing::HashedWordsModel>(32);
  store->drop("batch_docs");
  store->ensure_collection("batch_docs", model->dim(), Metric::kCosine, model->id());
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) {
    texts.push_back("topic" + std::to_string(i % 9) + " item" + std::to_string(i % 7) + " row" +
                    std::to_string(i));
  }
  const auto m = model->embed(texts);
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < texts.size(); ++i) {
    Chunk c;
    c.id = "r" + std::to_string(i);
    c.text = texts[i];
    c.content_hash = c.id;
    c.embedding.assign(m.row(i).begin(), m.row(i).end());
    chunks.push_back(std::move(c));
  }
  store->add("batch_docs", chunks);

  BatchProcessorOptions o;
  o.batch_size = 8;
  o.timeout = std::chrono::seconds(30);
  o.search = {.top_k = 3, .exact = true};
  o.search_threads = 4;
  {
    BatchProcessor p(model, store, "batch_docs", o);
    std::vector<std::string> queries;
    std::vector<std::future<std::vector<Hit>>> fs;
    for (int i = 0; i < 12; ++i) {
      queries.push_back("topic" + std::to_string(i % 9) + " item" + std::to_string(i % 5));
      fs.push_back(p.add_query(queries.back()));
    }
    auto bad = p.add_query(std::string("topic1 \xFF"));
    p.process_batch();
    EXPECT_THROW(bad.get(), InputError);
    for (size_t i = 0; i < fs.size(); ++i) {
      const auto got = fs[i].get();
      const auto v = model->embed(std::vector<std::string>{queries[i]});
      const auto want = store->search("batch_docs", v.row(0), o.search);
      ASSERT_EQ(got.size(), want.size());
      for (size_t k = 0; k < want.size(); ++k) {
        EXPECT_EQ(got[k].id, want[k].id) << queries[i] << " rank " << k;
        EXPECT_EQ(got[k].source_table, "batch_docs");
      }
    }
    EXPECT_EQ(p.get_stats().completed, 12u);
  }
  store->drop("batch_docs");
  pool->close();
}

}  // namespace
}  // namespace ragperf
