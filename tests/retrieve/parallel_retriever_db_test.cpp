// ParallelRetriever over PgVectorStore on a real PostgreSQL + pgvector (DATABASE_URL), embedding
// with HashingModel: exact ranking across tables, a table on "another server" (table@url, its
// own pool), failures named, partial results, and a model mismatch.
#include "ragperf/retriever.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include "hashing_model.h"
#include "ragperf/config.h"
#include "ragperf/db_pool.h"
#include "ragperf/pgvector_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::HashingModel;

// Tables on other servers open through the settings the caller passes (here: none from the
// environment, so pool sizes are the defaults).
ParallelRetrieverOptions far_opener() {
  ParallelRetrieverOptions o;
  o.open_location = default_store_opener(load_settings({}, {}));
  return o;
}

const std::vector<std::string> kWords = {"index", "vacuum", "wal",    "standby", "replication",
                                         "lock",  "table",  "btree",  "gin",     "planner",
                                         "cost",  "join",   "schema", "role",    "grant",
                                         "slot",  "backup", "toast",  "tuple",   "page"};

class ParallelRetrieverDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::database_url();
    if (url_.empty()) {
      GTEST_FAIL() << "DATABASE_URL is not set: run scripts/test.sh, or export "
                      "DATABASE_URL=$(scripts/pg_start.sh DIR) before ctest -L db";
    }
    auto pool = std::make_shared<DatabaseConnectionPool>(PoolConfig::from_url(url_));
    store_ = std::make_shared<PgVectorStore>(pool);
    model_ = std::make_shared<HashingModel>(32);
    const std::string suffix = std::to_string(::getpid());
    std::mt19937 rng(3);
    for (const std::string base : {"rt_alpha_", "rt_beta_", "rt_gamma_"}) {
      const std::string table = base + suffix;
      tables_.push_back(table);
      store_->drop(table);
      store_->ensure_collection(table, 32, Metric::kCosine, model_->id());
      std::vector<std::string> texts;
      std::uniform_int_distribution<size_t> pick(0, kWords.size() - 1), len(4, 9);
      for (int i = 0; i < 120; ++i) {
        std::string s;
        const size_t n = len(rng);
        for (size_t w = 0; w < n; ++w) s += (w ? " " : "") + kWords[pick(rng)];
        texts.push_back(s);
      }
      EmbeddingMatrix m = model_->embed(texts);
      std::vector<Chunk> chunks;
      for (size_t i = 0; i < texts.size(); ++i) {
        Chunk c;
        c.id = table + "-" + std::to_string(i);
        c.text = texts[i];
        c.source = "synthetic";
        c.embedding.assign(m.row(i).begin(), m.row(i).end());
        all_.emplace_back(table, c.id, c.embedding);
        chunks.push_back(std::move(c));
      }
      store_->add(table, chunks);
    }
  }

  void TearDown() override {
    if (!store_) return;
    for (const auto& t : tables_) store_->drop(t);
  }

  std::string url_;
  std::shared_ptr<PgVectorStore> store_;
  std::shared_ptr<HashingModel> model_;
  std::vector<std::string> tables_;
  std::vector<std::tuple<std::string, std::string, std::vector<float>>> all_;
};

TEST_F(ParallelRetrieverDbTest, ExactRankingEqualsBruteForceAcrossTables) {
  ParallelRetriever retriever(store_, model_, tables_, 32);
  RetrieveOptions o;
  o.top_k = 10;
  o.exact = true;
  o.deduplicate = false;
  for (const std::string query : {"index btree planner", "wal standby slot", "grant role"}) {
    RetrieveResult r = retriever.retrieve(query, o);
    EmbeddingMatrix q = model_->embed(std::vector<std::string>{query});
    std::vector<std::pair<double, std::string>> expected;
    for (const auto& [table, id, v] : all_) {
      double dot = 0;
      for (size_t d = 0; d < 32; ++d) dot += static_cast<double>(q.row(0)[d]) * v[d];
      expected.emplace_back(dot, id);  // both unit length: cosine = dot
    }
    std::sort(expected.begin(), expected.end(), std::greater<>());
    ASSERT_EQ(r.hits.size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(r.hits[i].id, expected[i].second) << query << " rank " << i;
      EXPECT_NEAR(r.hits[i].score, expected[i].first, 1e-4) << query << " rank " << i;
    }
  }
}

TEST_F(ParallelRetrieverDbTest, TableOnAnotherServerUsesItsOwnStore) {
  // The same server named by URL: the retriever opens a second store (its own pool) for it.
  const std::string far = tables_[2] + "@" + url_;
  ParallelRetriever retriever(store_, model_, {tables_[0], far}, 32, far_opener());
  RetrieveResult r = retriever.retrieve("vacuum toast tuple page", RetrieveOptions{.top_k = 8});
  ASSERT_EQ(r.hits.size(), 8u);
  const std::string far_shown = TableRef::parse(far).display();
  bool saw_far = false;
  for (const auto& h : r.hits) {
    EXPECT_TRUE(h.source_table == tables_[0] || h.source_table == far_shown) << h.source_table;
    saw_far |= h.source_table == far_shown;
  }
  EXPECT_TRUE(saw_far);
  EXPECT_EQ(far_shown.find(":ragperf@"), std::string::npos) << "password masked: " << far_shown;
}

TEST_F(ParallelRetrieverDbTest, FailingTableIsNamedUnlessPartial) {
  const std::string missing = "rt_missing_" + std::to_string(::getpid());
  ParallelRetriever retriever(store_, model_, {tables_[0], missing, tables_[1]}, 32);
  try {
    retriever.retrieve("index");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("table '" + missing + "'"), std::string::npos) << e.what();
  }
  RetrieveOptions partial;
  partial.partial_results = true;
  RetrieveResult r = retriever.retrieve("index", partial);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].table, missing);
  EXPECT_EQ(r.hits.size(), 4u);

  // A table dropped behind the retriever's back fails with its name too.
  ParallelRetriever two(store_, model_, {tables_[0], tables_[1]}, 32);
  EXPECT_EQ(two.retrieve("index").hits.size(), 4u);
  store_->drop(tables_[1]);
  try {
    two.retrieve("index");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(tables_[1]), std::string::npos) << e.what();
  }
}

TEST_F(ParallelRetrieverDbTest, UnreachableServerFailsItsTable) {
  const std::string far = "remote@postgresql://nobody:secret@127.0.0.1:1/none";
  ParallelRetriever retriever(store_, model_, {tables_[0], far}, 32, far_opener());
  try {
    retriever.retrieve("index");
    FAIL() << "expected ConnectionError";
  } catch (const ConnectionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("table 'remote@postgresql://nobody:****@127.0.0.1:1/none'"), std::string::npos)
        << m;
  }
  RetrieveOptions partial;
  partial.partial_results = true;
  RetrieveResult r = retriever.retrieve("index", partial);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].code, ErrorCode::kConnection);
  EXPECT_EQ(r.hits.size(), 4u);
}

TEST_F(ParallelRetrieverDbTest, AnotherModelIsAClearError) {
  auto other = std::make_shared<HashingModel>(32, "other");
  ParallelRetriever retriever(store_, other, {tables_[0]}, 32);
  try {
    retriever.retrieve("index");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(model_->id()), std::string::npos) << m;
    EXPECT_NE(m.find(other->id()), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ragperf
