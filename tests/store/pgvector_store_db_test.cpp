#include "ragperf/pgvector_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

std::string cat(const char* prefix, size_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

std::vector<std::vector<float>> random_vectors(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out)
    for (auto& x : v) x = g(rng);
  return out;
}

std::vector<Chunk> make_chunks(const std::vector<std::vector<float>>& vecs, size_t first = 0) {
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < vecs.size(); ++i) {
    Chunk c;
    c.id = cat("c", first + i);
    c.text = cat("text ", first + i);
    c.metadata_json = R"({"n": )" + std::to_string(first + i) + "}";
    c.content_hash = cat("h", first + i);
    c.embedding = vecs[i];
    chunks.push_back(std::move(c));
  }
  return chunks;
}

std::vector<std::pair<std::string, double>> brute_force(const std::vector<std::vector<float>>& vecs,
                                                        const std::vector<float>& q, Metric metric,
                                                        size_t k) {
  std::vector<std::pair<std::string, double>> all;
  double qn = 0;
  for (float x : q) qn += double(x) * x;
  for (size_t i = 0; i < vecs.size(); ++i) {
    double dot = 0, l2 = 0, vn = 0;
    for (size_t j = 0; j < q.size(); ++j) {
      dot += double(q[j]) * vecs[i][j];
      l2 += (double(q[j]) - vecs[i][j]) * (double(q[j]) - vecs[i][j]);
      vn += double(vecs[i][j]) * vecs[i][j];
    }
    double s = metric == Metric::kCosine ? dot / std::sqrt(qn * vn)
               : metric == Metric::kL2   ? -std::sqrt(l2)
                                         : dot;
    all.emplace_back(cat("c", i), s);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  all.resize(std::min(k, all.size()));
  return all;
}

class PgVectorStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::database_url();
    if (url_.empty()) {
      GTEST_FAIL() << "DATABASE_URL is not set: start a server with scripts/pg_start.sh DIR and "
                      "export DATABASE_URL, or run scripts/test.sh";
    }
    PoolConfig cfg = PoolConfig::from_url(url_);
    cfg.min_size = 1;
    cfg.max_size = 4;
    pool_ = std::make_shared<DatabaseConnectionPool>(cfg);
    store_ = std::make_unique<PgVectorStore>(pool_);
    for (const char* t : {"st_cos", "st_ip", "st_l2", "st_src", "st_dim", "st_conc"}) {
      store_->drop(t);
    }
  }
  void TearDown() override {
    store_.reset();
    if (pool_) pool_->close();
  }
  std::string url_;
  std::shared_ptr<DatabaseConnectionPool> pool_;
  std::unique_ptr<PgVectorStore> store_;
};

TEST_F(PgVectorStoreTest, ExactSearchEqualsBruteForceForEveryMetric) {
  auto vecs = random_vectors(600, 24, 1);
  auto queries = random_vectors(10, 24, 2);
  for (auto [table, metric] :
       {std::pair{"st_cos", Metric::kCosine}, std::pair{"st_ip", Metric::kInnerProduct},
        std::pair{"st_l2", Metric::kL2}}) {
    store_->ensure_collection(table, 24, metric, "test-model");
    store_->add(table, make_chunks(vecs));
    EXPECT_EQ(store_->count(table), 600u);
    for (const auto& q : queries) {
      auto hits = store_->search(table, q, {.top_k = 10, .exact = true});
      auto want = brute_force(vecs, q, metric, 10);
      ASSERT_EQ(hits.size(), 10u);
      for (size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(hits[i].id, want[i].first) << table << " rank " << i;
        EXPECT_NEAR(hits[i].score, want[i].second, 1e-3 * std::max(1.0, std::abs(want[i].second)));
        EXPECT_EQ(hits[i].source_table, table);
      }
      // The HNSW path with a generous ef finds the same best hit.
      auto ann = store_->search(table, q, {.top_k = 10, .ef_search = 400});
      ASSERT_FALSE(ann.empty());
      EXPECT_EQ(ann[0].id, hits[0].id);
    }
    auto h = store_->search(table, vecs[5], {.top_k = 1, .exact = true});
    EXPECT_EQ(h[0].text, "text 5");
    EXPECT_EQ(h[0].metadata_json, R"({"n": 5})");
  }
  auto all = store_->collections();
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [](const CollectionInfo& c) {
    return c.name == "st_ip" && c.metric == Metric::kInnerProduct && c.count == 600;
  }));
}

TEST_F(PgVectorStoreTest, ReplaceSourceAndUpsert) {
  store_->ensure_collection("st_src", 4, Metric::kCosine, "m");
  EXPECT_FALSE(store_->source_hash("st_src", "/a.txt").has_value());
  store_->replace_source("st_src", "/a.txt", "h1", make_chunks(random_vectors(5, 4, 3)));
  store_->replace_source("st_src", "/b.txt", "hb", make_chunks(random_vectors(3, 4, 4), 100));
  EXPECT_EQ(store_->source_hash("st_src", "/a.txt"), "h1");
  EXPECT_EQ(store_->count("st_src"), 8u);
  store_->replace_source("st_src", "/a.txt", "h2", make_chunks(random_vectors(2, 4, 5), 50));
  EXPECT_EQ(store_->count("st_src"), 5u);
  EXPECT_EQ(store_->source_hash("st_src", "/a.txt"), "h2");
  // A bad replacement changes nothing.
  auto bad = make_chunks({{1, 2, 3}}, 70);
  EXPECT_THROW(store_->replace_source("st_src", "/a.txt", "h3", bad), InputError);
  EXPECT_EQ(store_->count("st_src"), 5u);
  EXPECT_EQ(store_->remove_source("st_src", "/a.txt"), 2u);
  EXPECT_EQ(store_->count("st_src"), 3u);
  // Duplicate ids in one batch: the last wins; an existing id is replaced.
  auto dup = make_chunks({{1, 0, 0, 0}, {0, 1, 0, 0}}, 100);
  dup[1].id = dup[0].id;
  dup[1].text = "second";
  store_->add("st_src", dup);
  EXPECT_EQ(store_->count("st_src"), 3u);
  auto h = store_->search("st_src", std::vector<float>{0, 1, 0, 0}, {.top_k = 1, .exact = true});
  EXPECT_EQ(h[0].id, "c100");
  EXPECT_EQ(h[0].text, "second");
  store_->drop("st_src");
  EXPECT_FALSE(store_->collection("st_src").has_value());
}

TEST_F(PgVectorStoreTest, BadInputIsAClearError) {
  store_->ensure_collection("st_dim", 8, Metric::kCosine, "glove");
  try {
    store_->ensure_collection("st_dim", 16, Metric::kCosine, "bge");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("table st_dim was ingested with model glove (dim 8)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(store_->search("st_dim", std::vector<float>(16, 1.0f), {}), InputError);
  EXPECT_THROW(store_->search("st_dim", std::vector<float>{1, 2, 3, 4, 5, 6, 7, NAN}, {}),
               InputError);
  EXPECT_THROW(store_->add("st_dim", make_chunks(random_vectors(1, 7, 1))), InputError);
  EXPECT_THROW(store_->search("st_missing", std::vector<float>(8, 1.0f), {}), InputError);
  for (const std::string bad : {"x; DROP TABLE ragperf_collections", "\"q\"", "1a", ""}) {
    EXPECT_THROW(store_->ensure_collection(bad, 8, Metric::kCosine, "m"), InputError) << bad;
    EXPECT_THROW(store_->search(bad, std::vector<float>(8, 1.0f), {}), InputError) << bad;
  }
  PgColumns cols;
  cols.embedding = "emb; --";
  EXPECT_THROW(store_->adopt("st_dim", 8, Metric::kCosine, "m", cols), InputError);
  EXPECT_TRUE(store_->search("st_dim", std::vector<float>(8, 0.0f), {}).empty());
}

TEST_F(PgVectorStoreTest, AdoptsAnExistingTableWithItsOwnColumnNames) {
  pool_->run(pool_->execute("DROP TABLE IF EXISTS st_legacy"));
  pool_->run(pool_->execute(
      "CREATE TABLE st_legacy (doc_id bigint PRIMARY KEY, body text, vec vector(3))"));
  pool_->run(
      pool_->execute("INSERT INTO st_legacy VALUES (1, 'one', '[1,0,0]'), "
                     "(2, 'two', '[0,1,0]'), (3, 'three', '[0,0,1]')"));
  // A table ragperf did not create is not taken over silently.
  EXPECT_THROW(store_->ensure_collection("st_legacy", 3, Metric::kCosine, "m"), InputError);
  PgColumns cols;
  cols.id = "doc_id";
  cols.text = "body";
  cols.embedding = "vec";
  cols.metadata = cols.content_hash = cols.source = "";
  cols.text = "missing_col";
  EXPECT_THROW(store_->adopt("st_legacy", 3, Metric::kCosine, "m", cols), InputError);
  cols.text = "body";
  EXPECT_THROW(store_->adopt("st_legacy", 4, Metric::kCosine, "m", cols), InputError);
  auto info = store_->adopt("st_legacy", 3, Metric::kCosine, "m", cols);
  EXPECT_EQ(info.count, 3u);
  auto hits = store_->search("st_legacy", std::vector<float>{0.1f, 1, 0}, {.top_k = 2});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, "2");
  EXPECT_EQ(hits[0].text, "two");
  EXPECT_EQ(hits[0].metadata_json, "{}");
  store_->drop("st_legacy");  // forgets it, keeps the table
  auto left = pool_->run(pool_->fetch("SELECT count(*) FROM st_legacy"));
  EXPECT_EQ(left[0][0].as_int(), 3);
  pool_->run(pool_->execute("DROP TABLE st_legacy"));
}

TEST_F(PgVectorStoreTest, ConcurrentSearchesFromSeveralThreads) {
  auto vecs = random_vectors(300, 16, 9);
  store_->ensure_collection("st_conc", 16, Metric::kL2, "m");
  store_->add("st_conc", make_chunks(vecs));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < 300; i += 15) {
        auto h = store_->search("st_conc", vecs[i], {.top_k = 1, .exact = true});
        if (h.empty() || h[0].id != cat("c", i)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(store_->describe().rfind("postgresql://", 0), 0u);
  EXPECT_EQ(store_->describe().find("ragperf:ragperf@"), std::string::npos);  // no password
}

}  // namespace
}  // namespace ragperf
