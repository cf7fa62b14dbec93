// BatchProcessor's search modes over PgVectorStore on a real PostgreSQL + pgvector (DATABASE_URL):
// kAuto pipelines (the store prefers search_batch()), a pipelined batch takes one pooled
// connection per group, every caller gets the same hits as in kSpread mode and as a direct
// search, and a store error in one query reaches only that query's future.
#include "ragperf/batch_processor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "batch/nan_words_model.h"
#include "ragperf/db_pool.h"
#include "ragperf/pgvector_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using Hits = std::vector<Hit>;

constexpr auto kBound = std::chrono::seconds(20);

std::string numbered(const char* prefix, size_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

class BatchSearchModeDb : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::database_url();
    if (url.empty()) {
      GTEST_FAIL() << "DATABASE_URL is not set: start a server with scripts/pg_start.sh DIR and "
                      "export DATABASE_URL, or run scripts/test.sh";
    }
    PoolConfig cfg = PoolConfig::from_url(url);
    cfg.min_size = 1;
    cfg.max_size = 4;
    pool_ = std::make_shared<DatabaseConnectionPool>(cfg);
    store_ = std::make_shared<PgVectorStore>(pool_);
    table_ = numbered("batch_modes_", static_cast<size_t>(::getpid()));
    store_->drop(table_);
    store_->ensure_collection(table_, model_->dim(), Metric::kCosine, model_->id());
    std::vector<std::string> texts;
    for (size_t i = 0; i < 120; ++i) {
      texts.push_back(numbered("topic", i % 11) + numbered(" item", i % 7) + numbered(" row", i));
    }
    testing::HashedWordsModel loader(model_->dim());
    const auto m = loader.embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = numbered("r", i);
      c.text = texts[i];
      c.content_hash = c.id;
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store_->add(table_, chunks);
  }
  void TearDown() override {
    if (store_) store_->drop(table_);
    store_.reset();
    if (pool_) pool_->close();
  }

  Hits direct(const std::string& text, const SearchOptions& o) {
    testing::HashedWordsModel m(model_->dim());
    const auto v = m.embed(std::vector<std::string>{text});
    return store_->search(table_, v.row(0), o);
  }

  BatchProcessorOptions opts(BatchSearchMode mode, size_t threads, const SearchOptions& so) {
    BatchProcessorOptions o;
    o.batch_size = 64;
    o.timeout = std::chrono::seconds(30);
    o.search = so;
    o.search_mode = mode;
    o.search_threads = threads;
    return o;
  }

  static std::vector<std::string> queries(size_t n) {
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i)
      out.push_back(numbered("topic", i % 11) + numbered(" item", i % 5));
    return out;
  }

  static void expect_same_hits(const Hits& got, const Hits& want, const std::string& where) {
    ASSERT_EQ(got.size(), want.size()) << where;
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_EQ(got[k].id, want[k].id) << where << " rank " << k;
      EXPECT_EQ(got[k].score, want[k].score) << where << " rank " << k;
    }
  }

  std::shared_ptr<testing::NanWordsModel> model_ = std::make_shared<testing::NanWordsModel>(32);
  std::shared_ptr<DatabaseConnectionPool> pool_;
  std::shared_ptr<PgVectorStore> store_;
  std::string table_;
};

TEST_F(BatchSearchModeDb, AutoPipelinesAndEveryModeGivesTheSameAnswers) {
  {
    BatchProcessor p(model_, store_, table_, BatchProcessorOptions{});
    EXPECT_EQ(p.search_mode(), BatchSearchMode::kPipelined);
  }
  const auto texts = queries(30);
  for (const SearchOptions& so :
       {SearchOptions{.top_k = 4}, SearchOptions{.top_k = 5, .exact = true},
        SearchOptions{.top_k = 3, .ef_search = 20}}) {
    for (auto [mode, threads] : {std::pair{BatchSearchMode::kSpread, size_t{4}},
                                 std::pair{BatchSearchMode::kPipelined, size_t{1}},
                                 std::pair{BatchSearchMode::kPipelined, size_t{3}}}) {
      BatchProcessor p(model_, store_, table_, opts(mode, threads, so));
      std::vector<std::future<Hits>> fs;
      for (const auto& t : texts) fs.push_back(p.add_query(t));
      p.process_batch();
      for (size_t i = 0; i < texts.size(); ++i) {
        ASSERT_EQ(fs[i].wait_for(kBound), std::future_status::ready);
        expect_same_hits(fs[i].get(), direct(texts[i], so),
                         texts[i] + " threads " + std::to_string(threads));
      }
      EXPECT_EQ(p.get_stats().completed, texts.size());
    }
  }
}

TEST_F(BatchSearchModeDb, APipelinedBatchTakesOneConnectionPerGroup) {
  const auto texts = queries(20);
  direct(texts[0], {});  // the registry entry is cached from here on
  for (size_t threads : {1u, 2u}) {
    BatchProcessor p(model_, store_, table_,
                     opts(BatchSearchMode::kPipelined, threads, {.top_k = 4}));
    const PoolStats before = pool_->get_stats();
    std::vector<std::future<Hits>> fs;
    for (const auto& t : texts) fs.push_back(p.add_query(t));
    p.process_batch();
    for (auto& f : fs) ASSERT_EQ(f.get().size(), 4u);
    EXPECT_EQ(pool_->get_stats().acquires - before.acquires, threads);
  }
}

TEST_F(BatchSearchModeDb, AStoreErrorInOneQueryReachesOnlyItsFuture) {
  for (BatchSearchMode mode : {BatchSearchMode::kSpread, BatchSearchMode::kPipelined}) {
    BatchProcessor p(model_, store_, table_, opts(mode, 2, {.top_k = 3}));
    auto texts = queries(9);
    texts[4] = "NANVEC topic3";
    std::vector<std::future<Hits>> fs;
    for (const auto& t : texts) fs.push_back(p.add_query(t));
    p.process_batch();
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_EQ(fs[i].wait_for(kBound), std::future_status::ready);
      if (i == 4) {
        try {
          fs[i].get();
          ADD_FAILURE() << "the NaN query did not fail";
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("non-finite value at position 0"), std::string::npos)
              << e.what();
        }
        continue;
      }
      expect_same_hits(fs[i].get(), direct(texts[i], {.top_k = 3}), texts[i]);
    }
    EXPECT_EQ(p.get_stats().failed, 1u);
    EXPECT_EQ(p.get_stats().completed, 8u);
  }
}

}  // namespace
}  // namespace ragperf
