#include "ragperf/pgvector_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
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

/// A table (or role) name no other test process uses: ctest runs every test case as its own
/// process, in parallel, against one database, so fixed names would collide.
std::string unique_name(const std::string& base) {
  static std::atomic<int> counter{0};
  return base + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
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
  }
  void TearDown() override {
    if (store_) {
      for (const auto& t : tables_) store_->drop(t);
    }
    store_.reset();
    if (pool_) pool_->close();
  }

  /// A fresh collection name; TearDown drops it.
  std::string table(const std::string& base) {
    tables_.push_back(unique_name(base));
    return tables_.back();
  }

  /// EXPLAIN of `sql` ($1 = q, $2 = k) after `settings` (SET LOCAL ...), in one transaction.
  std::string explain(const std::string& sql, const std::vector<float>& q, long long k,
                      const std::vector<std::string>& settings) {
    auto body = [&]() -> db::awaitable<std::string> {
      auto conn = co_await pool_->acquire();
      co_await conn.execute("BEGIN");
      for (const auto& set : settings) co_await conn.execute("SET LOCAL " + set);
      auto r = co_await conn.fetch("EXPLAIN " + sql, db::make_params(std::span<const float>(q), k));
      co_await conn.execute("COMMIT");
      std::string plan;
      for (int i = 0; i < r.rows(); ++i) plan += r[i][0].as_text() + "\n";
      co_return plan;
    };
    return pool_->run(body());
  }

  /// The name of the HNSW index on table `t` ("" when there is none or several).
  std::string hnsw_index(const std::string& t) {
    auto r =
        pool_->run(pool_->fetch("SELECT indexname::text FROM pg_indexes WHERE tablename = $1 AND "
                                "indexdef LIKE '%USING hnsw%'",
                                t));
    return r.rows() == 1 ? r[0][0].as_text() : std::string();
  }

  /// Creates table `t` (dim 3) holding one chunk of source "a.txt" (content hash "h1"), then drops
  /// the table outside the store, as someone with psql would; returns that chunk.
  Chunk store_one_chunk_then_drop(const std::string& t) {
    store_->ensure_collection(t, 3, Metric::kCosine, "m@1");
    Chunk c;
    c.id = "a";
    c.text = "alpha";
    c.source = "a.txt";
    c.embedding = {1, 0, 0};
    store_->replace_source(t, "a.txt", "h1", std::span(&c, 1));
    EXPECT_EQ(store_->count(t), 1u);
    pool_->run(pool_->execute("DROP TABLE \"" + t + "\""));  // names are plain identifiers
    return c;
  }

  std::string url_;
  std::shared_ptr<DatabaseConnectionPool> pool_;
  std::unique_ptr<PgVectorStore> store_;
  std::vector<std::string> tables_;
};

// A table ragperf created and someone dropped outside it (issue 16 item 11): the next
// ensure_collection() creates it afresh instead of leaving a registry row that makes every write
// fail with "relation does not exist"; its old sources are forgotten with it.
TEST_F(PgVectorStoreTest, ATableDroppedOutsideRagperfIsCreatedAgain) {
  const std::string t = table("dropped");
  const Chunk c = store_one_chunk_then_drop(t);
  // Another store (another process) sees the stale registration.
  PgVectorStore other(pool_);
  const CollectionInfo info = other.ensure_collection(t, 3, Metric::kCosine, "m@1");
  EXPECT_EQ(info.dim, 3u);
  EXPECT_EQ(other.count(t), 0u);
  EXPECT_FALSE(other.source_hash(t, "a.txt").has_value());
  other.replace_source(t, "a.txt", "h2", std::span(&c, 1));
  EXPECT_EQ(other.count(t), 1u);
}

// Searching a registered table that was dropped outside ragperf names the table and the remedy
// (ingest again) instead of the raw 42P01 and its SQL, alone and in a batch.
TEST_F(PgVectorStoreTest, SearchingATableDroppedOutsideRagperfSaysWhatToDo) {
  const std::string t = table("dropped_search");
  store_one_chunk_then_drop(t);
  const std::vector<float> q = {1, 0, 0};
  const auto expect_clear = [&](const std::function<void()>& f) {
    try {
      f();
      ADD_FAILURE() << "searching a dropped table succeeded";
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("table " + t + " is registered but no longer exists"), std::string::npos)
          << m;
      EXPECT_NE(m.find("ragperf ingest --table " + t), std::string::npos) << m;
      EXPECT_EQ(m.find("SELECT"), std::string::npos) << m;
      EXPECT_EQ(m.find("SQLSTATE"), std::string::npos) << m;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an InputError: " << e.what();
    }
  };
  expect_clear([&] { store_->search(t, q, {.top_k = 1}); });
  const std::vector<float> q2 = {0, 1, 0};
  const std::vector<std::span<const float>> two = {q, q2};
  const std::vector<SearchResult> got = store_->search_batch(t, two, {.top_k = 1});
  ASSERT_EQ(got.size(), 2u);
  for (const SearchResult& r : got) {
    expect_clear([&] {
      if (r.error) std::rethrow_exception(r.error);
    });
  }
}

// Every search carries a statement_timeout (issue 16 item 4): a search that runs past it is
// cancelled by the server and fails with TimeoutError naming the table, alone or in a batch
// (which fails at once instead of retrying each query). The slow "table" is a view that sleeps
// 20 ms per row, adopted like a user's own table.
TEST_F(PgVectorStoreTest, ASearchPastSearchTimeoutIsATimeoutError) {
  const std::string base = table("slow_base");
  store_->ensure_collection(base, 3, Metric::kCosine, "m@1");
  std::vector<Chunk> chunks(10);
  for (size_t i = 0; i < chunks.size(); ++i) {
    chunks[i].id = std::string("c").append(std::to_string(i));  // not "lit" + to_string: GCC 12
    chunks[i].text = std::string("text ").append(std::to_string(i));
    chunks[i].embedding = {1.0f, static_cast<float>(i), 0.5f};
  }
  store_->add(base, chunks);
  const std::string view = unique_name("slow_view");
  // pg_sleep in the WHERE clause runs once per row (it is volatile): 10 rows take 200 ms.
  pool_->run(pool_->execute("CREATE VIEW \"" + view +
                            "\" AS SELECT b.id, b.text, b.embedding FROM \"" + base +
                            "\" b WHERE pg_sleep(0.02)::text = ''"));
  struct DropView {  // before TearDown drops the table the view reads
    DatabaseConnectionPool& pool;
    std::string name;
    ~DropView() { pool.run(pool.execute("DROP VIEW IF EXISTS \"" + name + "\"")); }
  } drop_view{*pool_, view};
  PgVectorStoreOptions o;
  o.search_timeout = std::chrono::milliseconds(50);
  PgVectorStore slow(pool_, o);
  PgColumns cols;
  cols.metadata = "";
  cols.content_hash = "";
  cols.source = "";
  slow.adopt(view, 3, Metric::kCosine, "m@1", cols);
  const std::vector<float> q = {1, 0, 0};
  try {
    slow.search(view, q, {.top_k = 3, .exact = true});
    ADD_FAILURE() << "a 200 ms search passed a 50 ms search_timeout";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find(view), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("search_timeout"), std::string::npos) << e.what();
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::span<const float>> qs(4, std::span<const float>(q));
  const auto results = slow.search_batch(view, qs, {.top_k = 3, .exact = true});
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.error);
    EXPECT_THROW(std::rethrow_exception(r.error), TimeoutError);
  }
  // One cancelled statement, not five (the batch, then each query alone: 250 ms and more).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(240));
  // The same search with the default 30 s answers.
  EXPECT_EQ(store_->search(base, q, {.top_k = 3, .exact = true}).size(), 3u);
  slow.drop(view);
}

TEST_F(PgVectorStoreTest, ExactSearchEqualsBruteForceForEveryMetric) {
  auto vecs = random_vectors(600, 24, 1);
  auto queries = random_vectors(10, 24, 2);
  const std::string ip_table = table("st_ip");
  for (auto [name, metric] :
       {std::pair{table("st_cos"), Metric::kCosine}, std::pair{ip_table, Metric::kInnerProduct},
        std::pair{table("st_l2"), Metric::kL2}}) {
    store_->ensure_collection(name, 24, metric, "test-model");
    store_->add(name, make_chunks(vecs));
    EXPECT_EQ(store_->count(name), 600u);
    for (const auto& q : queries) {
      auto hits = store_->search(name, q, {.top_k = 10, .exact = true});
      auto want = brute_force(vecs, q, metric, 10);
      ASSERT_EQ(hits.size(), 10u);
      for (size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(hits[i].id, want[i].first) << name << " rank " << i;
        EXPECT_NEAR(hits[i].score, want[i].second, 1e-3 * std::max(1.0, std::abs(want[i].second)));
        EXPECT_EQ(hits[i].source_table, name);
      }
      // The HNSW path with a generous ef finds the same best hit.
      auto ann = store_->search(name, q, {.top_k = 10, .ef_search = 400});
      ASSERT_FALSE(ann.empty());
      EXPECT_EQ(ann[0].id, hits[0].id);
      for (size_t i = 1; i < ann.size(); ++i) EXPECT_GE(ann[i - 1].score, ann[i].score);
    }
    auto h = store_->search(name, vecs[5], {.top_k = 1, .exact = true});
    EXPECT_EQ(h[0].text, "text 5");
    EXPECT_EQ(h[0].metadata_json, R"({"n": 5})");
  }
  auto all = store_->collections();
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [&](const CollectionInfo& c) {
    return c.name == ip_table && c.metric == Metric::kInnerProduct;
  }));
  EXPECT_EQ(store_->count(ip_table), 600u);
  // collections() reads no rows: its counts are the planner's estimates, right after ANALYZE.
  pool_->run(pool_->execute("ANALYZE \"" + ip_table + "\""));
  all = store_->collections();
  for (const CollectionInfo& c : all) {
    if (c.name == ip_table) {
      EXPECT_EQ(c.count, 600u);
    }
  }
}

TEST_F(PgVectorStoreTest, AnnQueryUsesTheHnswIndexAndExactQueryDoesNot) {
  auto vecs = random_vectors(2000, 24, 11);
  auto q = random_vectors(1, 24, 12)[0];
  for (auto [name, metric] : {std::pair{table("st_plan_cos"), Metric::kCosine},
                              std::pair{table("st_plan_ip"), Metric::kInnerProduct},
                              std::pair{table("st_plan_l2"), Metric::kL2}}) {
    store_->ensure_collection(name, 24, metric, "m");
    store_->add(name, make_chunks(vecs));
    pool_->run(pool_->execute("ANALYZE " + name));
    const std::string index = hnsw_index(name);
    ASSERT_FALSE(index.empty()) << name << " has no HNSW index";
    const std::string ann_sql = store_->search_sql(name, false);
    // With sequential scans priced out, an ANN query that the index can serve must use it;
    // an extra sort key (ORDER BY distance, id) would make that impossible.
    std::string plan = explain(ann_sql, q, 10, {"enable_seqscan = off", "hnsw.ef_search = 100"});
    EXPECT_NE(plan.find("Index Scan using " + index), std::string::npos) << ann_sql << "\n" << plan;
    // The exact query stays a full sort even then (index scans off, as search() sets).
    const std::string exact_sql = store_->search_sql(name, true);
    plan = explain(exact_sql, q, 10, {"enable_seqscan = off", "enable_indexscan = off"});
    EXPECT_EQ(plan.find(index), std::string::npos) << exact_sql << "\n" << plan;
    EXPECT_NE(plan.find("Sort"), std::string::npos) << plan;
  }
  // At default settings on 2000 rows the planner picks the index by itself.
  const std::string name = tables_.front();
  std::string plan = explain(store_->search_sql(name, false), q, 10, {});
  EXPECT_NE(plan.find("Index Scan using " + hnsw_index(name)), std::string::npos) << plan;
  EXPECT_THROW(store_->search_sql(unique_name("st_missing"), false), InputError);
}

TEST_F(PgVectorStoreTest, AnnTiesAreBrokenById) {
  const std::string name = table("st_ties");
  store_->ensure_collection(name, 4, Metric::kL2, "m");
  // Five identical vectors (ids inserted in descending order) and one far away.
  auto chunks = make_chunks(
      {{1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {-5, 3, 9, 1}});
  std::reverse(chunks.begin(), chunks.end() - 1);
  store_->add(name, chunks);
  for (bool exact : {false, true}) {
    auto hits = store_->search(name, std::vector<float>{1, 1, 0, 0}, {.top_k = 6, .exact = exact});
    ASSERT_EQ(hits.size(), 6u) << exact;
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(hits[i].id, cat("c", i)) << "exact " << exact << " rank " << i;
      EXPECT_FLOAT_EQ(hits[i].score, 0.0f);
    }
    EXPECT_EQ(hits[5].id, "c5");
  }
}

TEST_F(PgVectorStoreTest, ReplaceSourceAndUpsert) {
  const std::string t = table("st_src");
  store_->ensure_collection(t, 4, Metric::kCosine, "m");
  EXPECT_FALSE(store_->source_hash(t, "/a.txt").has_value());
  store_->replace_source(t, "/a.txt", "h1", make_chunks(random_vectors(5, 4, 3)));
  store_->replace_source(t, "/b.txt", "hb", make_chunks(random_vectors(3, 4, 4), 100));
  EXPECT_EQ(store_->source_hash(t, "/a.txt"), "h1");
  EXPECT_EQ(store_->count(t), 8u);
  store_->replace_source(t, "/a.txt", "h2", make_chunks(random_vectors(2, 4, 5), 50));
  EXPECT_EQ(store_->count(t), 5u);
  EXPECT_EQ(store_->source_hash(t, "/a.txt"), "h2");
  // A bad replacement changes nothing.
  auto bad = make_chunks({{1, 2, 3}}, 70);
  EXPECT_THROW(store_->replace_source(t, "/a.txt", "h3", bad), InputError);
  EXPECT_EQ(store_->count(t), 5u);
  EXPECT_EQ(store_->remove_source(t, "/a.txt"), 2u);
  EXPECT_EQ(store_->count(t), 3u);
  // Duplicate ids in one batch: the last wins; an existing id is replaced.
  auto dup = make_chunks({{1, 0, 0, 0}, {0, 1, 0, 0}}, 100);
  dup[1].id = dup[0].id;
  dup[1].text = "second";
  store_->add(t, dup);
  EXPECT_EQ(store_->count(t), 3u);
  auto h = store_->search(t, std::vector<float>{0, 1, 0, 0}, {.top_k = 1, .exact = true});
  EXPECT_EQ(h[0].id, "c100");
  EXPECT_EQ(h[0].text, "second");
  store_->drop(t);
  EXPECT_FALSE(store_->collection(t).has_value());
}

TEST_F(PgVectorStoreTest, BadInputIsAClearError) {
  const std::string t = table("st_dim");
  store_->ensure_collection(t, 8, Metric::kCosine, "glove");
  try {
    store_->ensure_collection(t, 16, Metric::kCosine, "bge");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("table " + t + " was ingested with model glove (dim 8)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(store_->search(t, std::vector<float>(16, 1.0f), {}), InputError);
  EXPECT_THROW(store_->search(t, std::vector<float>{1, 2, 3, 4, 5, 6, 7, NAN}, {}), InputError);
  EXPECT_THROW(store_->add(t, make_chunks(random_vectors(1, 7, 1))), InputError);
  EXPECT_THROW(store_->search(unique_name("st_missing"), std::vector<float>(8, 1.0f), {}),
               InputError);
  for (const std::string bad : {"x; DROP TABLE ragperf_collections", "\"q\"", "1a", ""}) {
    EXPECT_THROW(store_->ensure_collection(bad, 8, Metric::kCosine, "m"), InputError) << bad;
    EXPECT_THROW(store_->search(bad, std::vector<float>(8, 1.0f), {}), InputError) << bad;
    EXPECT_THROW(store_->search_sql(bad, false), InputError) << bad;
  }
  PgColumns cols;
  cols.embedding = "emb; --";
  EXPECT_THROW(store_->adopt(t, 8, Metric::kCosine, "m", cols), InputError);
  EXPECT_TRUE(store_->search(t, std::vector<float>(8, 0.0f), {}).empty());
}

TEST_F(PgVectorStoreTest, AdoptsAnExistingTableWithItsOwnColumnNames) {
  const std::string t = unique_name("st_legacy");
  pool_->run(pool_->execute("DROP TABLE IF EXISTS " + t));
  pool_->run(pool_->execute("CREATE TABLE " + t +
                            " (doc_id bigint PRIMARY KEY, body text, vec vector(3))"));
  pool_->run(pool_->execute("INSERT INTO " + t +
                            " VALUES (1, 'one', '[1,0,0]'), (2, 'two', '[0,1,0]'), "
                            "(3, 'three', '[0,0,1]')"));
  // A table ragperf did not create is not taken over silently.
  EXPECT_THROW(store_->ensure_collection(t, 3, Metric::kCosine, "m"), InputError);
  PgColumns cols;
  cols.id = "doc_id";
  cols.text = "body";
  cols.embedding = "vec";
  cols.metadata = cols.content_hash = cols.source = "";
  cols.text = "missing_col";
  EXPECT_THROW(store_->adopt(t, 3, Metric::kCosine, "m", cols), InputError);
  cols.text = "body";
  EXPECT_THROW(store_->adopt(t, 4, Metric::kCosine, "m", cols), InputError);
  auto info = store_->adopt(t, 3, Metric::kCosine, "m", cols);
  EXPECT_EQ(info.count, 3u);
  auto hits = store_->search(t, std::vector<float>{0.1f, 1, 0}, {.top_k = 2});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, "2");
  EXPECT_EQ(hits[0].text, "two");
  EXPECT_EQ(hits[0].metadata_json, "{}");
  store_->drop(t);  // forgets it, keeps the table
  auto left = pool_->run(pool_->fetch("SELECT count(*) FROM " + t));
  EXPECT_EQ(left[0][0].as_int(), 3);
  pool_->run(pool_->execute("DROP TABLE " + t));
}

TEST_F(PgVectorStoreTest, ConcurrentSearchesFromSeveralThreads) {
  auto vecs = random_vectors(300, 16, 9);
  const std::string t = table("st_conc");
  store_->ensure_collection(t, 16, Metric::kL2, "m");
  store_->add(t, make_chunks(vecs));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = k; i < 300; i += 15) {
        auto h = store_->search(t, vecs[i], {.top_k = 1, .exact = true});
        if (h.empty() || h[0].id != cat("c", i)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(store_->describe().rfind("postgresql://", 0), 0u);
  EXPECT_EQ(store_->describe().find("ragperf:ragperf@"), std::string::npos);  // no password
}

// Several processes opening stores on a database without the `vector` extension and the
// registry tables (the first run of several workers) all succeed and create them once, as do
// several creating the same collection at once. One pool per "process", on a fresh database.
TEST_F(PgVectorStoreTest, StoresOpenedConcurrentlyOnAFreshDatabaseCreateTheRegistryOnce) {
  const std::string db_name = unique_name("st_db");
  pool_->run(pool_->execute("CREATE DATABASE " + db_name));
  constexpr int kStores = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  std::mutex mu;
  std::string first_error;
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&] {
      try {
        PoolConfig cfg = PoolConfig::from_url(url_);
        cfg.database = db_name;
        cfg.min_size = 1;
        cfg.max_size = 2;
        auto pool = std::make_shared<DatabaseConnectionPool>(cfg);
        PgVectorStore store(pool);
        auto info = store.ensure_collection("st_shared", 4, Metric::kCosine, "m");
        if (info.dim != 4 || info.name != "st_shared") ++failed;
        pool->close();
      } catch (const std::exception& e) {
        ++failed;
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0) << first_error;
  {
    PoolConfig cfg = PoolConfig::from_url(url_);
    cfg.database = db_name;
    cfg.min_size = 1;
    cfg.max_size = 1;
    DatabaseConnectionPool fresh(cfg);
    fresh.initialize();
    auto n = fresh.run(
        fresh.fetchrow("SELECT count(*) FROM pg_class WHERE relname IN ('ragperf_collections', "
                       "'ragperf_sources', 'st_shared') AND relkind = 'r'"));
    EXPECT_EQ((*n)[0].as_int(), 3);
    auto rows = fresh.run(fresh.fetchrow("SELECT count(*) FROM ragperf_collections"));
    EXPECT_EQ((*rows)[0].as_int(), 1);
    fresh.close();
  }
  pool_->run(pool_->execute("DROP DATABASE " + db_name + " WITH (FORCE)"));
}

}  // namespace
}  // namespace ragperf
