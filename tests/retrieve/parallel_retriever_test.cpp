// ParallelRetriever over real LocalStores in temporary folders, embedding with HashingModel.
#include "ragperf/retriever.h"

#include <gtest/gtest.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "hashing_model.h"
#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/local_store.h"
#include "ragperf/monitor.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::HashingModel;
using testing::TempDir;

const std::vector<std::string> kVocabulary = {
    "index",  "vacuum",  "replication", "table",   "query",    "planner", "btree",   "hash",
    "gin",    "gist",    "wal",         "standby", "primary",  "backup",  "restore", "lock",
    "row",    "column",  "trigger",     "view",    "function", "schema",  "role",    "grant",
    "cursor", "join",    "sort",        "memory",  "disk",     "page",    "tuple",   "toast",
    "stats",  "analyze", "explain",     "cost",    "parallel", "worker",  "slot",    "archive"};

std::string random_text(std::mt19937& rng) {
  std::uniform_int_distribution<size_t> len(5, 12);
  std::uniform_int_distribution<size_t> pick(0, kVocabulary.size() - 1);
  std::string s;
  const size_t n = len(rng);
  for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + kVocabulary[pick(rng)];
  return s;
}

struct Stored {
  std::string table;
  std::string id;
  std::string text;
  std::vector<float> embedding;
};

class ParallelRetrieverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_shared<HashingModel>(32);
    store_ = std::make_shared<LocalStore>(dir_.path() / "store");
    std::mt19937 rng(7);
    for (const std::string table : {"alpha", "beta", "gamma"}) {
      std::vector<std::string> texts;
      for (int i = 0; i < 150; ++i) texts.push_back(random_text(rng));
      add(table, texts);
    }
  }

  // Stores `texts` in `table` (created with the test model) and remembers them.
  void add(const std::string& table, const std::vector<std::string>& texts,
           VectorStore* store = nullptr, HashingModel* model = nullptr) {
    store = store ? store : store_.get();
    model = model ? model : model_.get();
    store->ensure_collection(table, model->dim(), Metric::kCosine, model->id());
    EmbeddingMatrix m = model->embed(texts);
    std::vector<Chunk> chunks;
    const size_t base = store->count(table);
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = table + "-" + std::to_string(base + i);
      c.text = texts[i];
      c.metadata_json = "{\"n\": " + std::to_string(base + i) + "}";
      c.source = "synthetic";
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(c);
      if (store == store_.get() && model == model_.get()) {
        stored_.push_back(Stored{table, c.id, c.text, c.embedding});
      }
    }
    store->add(table, chunks);
  }

  // Every stored chunk of `tables` ranked by cosine similarity to `query`, best first.
  std::vector<std::tuple<float, std::string, std::string>> brute_force(
      const std::string& query, const std::vector<std::string>& tables) {
    EmbeddingMatrix q = model_->embed(std::vector<std::string>{query});
    std::vector<std::tuple<float, std::string, std::string>> all;
    for (const Stored& s : stored_) {
      auto t = std::find(tables.begin(), tables.end(), s.table);
      if (t == tables.end()) continue;
      double dot = 0, nq = 0, nv = 0;
      for (size_t d = 0; d < q.dim; ++d) {
        dot += static_cast<double>(q.row(0)[d]) * s.embedding[d];
        nq += static_cast<double>(q.row(0)[d]) * q.row(0)[d];
        nv += static_cast<double>(s.embedding[d]) * s.embedding[d];
      }
      all.emplace_back(static_cast<float>(dot / std::sqrt(nq * nv)), s.table, s.id);
    }
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
    return all;
  }

  ParallelRetriever make(std::vector<std::string> tables, ParallelRetrieverOptions options = {}) {
    return ParallelRetriever(store_, model_, std::move(tables), model_->dim(), std::move(options));
  }

  TempDir dir_;
  std::shared_ptr<HashingModel> model_;
  std::shared_ptr<LocalStore> store_;
  std::vector<Stored> stored_;
};

TEST_F(ParallelRetrieverTest, ExactRankingEqualsBruteForceAcrossTables) {
  const std::vector<std::string> tables = {"alpha", "beta", "gamma"};
  ParallelRetriever retriever = make(tables);
  RetrieveOptions options;
  options.top_k = 10;
  options.exact = true;
  options.deduplicate = false;
  for (const std::string query : {"index vacuum planner", "wal standby replication slot",
                                  "grant role schema", "toast tuple page memory disk"}) {
    RetrieveResult r = retriever.retrieve(query, options);
    auto expected = brute_force(query, tables);
    ASSERT_EQ(r.hits.size(), 10u) << query;
    for (size_t i = 0; i < r.hits.size(); ++i) {
      EXPECT_EQ(r.hits[i].id, std::get<2>(expected[i])) << query << " rank " << i;
      EXPECT_EQ(r.hits[i].source_table, std::get<1>(expected[i])) << query << " rank " << i;
      EXPECT_NEAR(r.hits[i].score, std::get<0>(expected[i]), 1e-5) << query << " rank " << i;
      EXPECT_EQ(r.hits[i].score, r.hits[i].similarity);
      EXPECT_EQ(r.hits[i].source_tables, std::vector<std::string>{r.hits[i].source_table});
    }
    EXPECT_GT(r.timings.total_s, 0);
    EXPECT_GE(r.timings.total_s, r.timings.query_s);
    ASSERT_EQ(r.timings.table_s.size(), 3u);
  }
}

TEST_F(ParallelRetrieverTest, HitsCarryTextMetadataAndSource) {
  ParallelRetriever retriever = make({"beta"});
  RetrieveResult r = retriever.retrieve_parallel("index vacuum", 3, true).get();
  ASSERT_EQ(r.hits.size(), 3u);
  for (const RetrievedHit& h : r.hits) {
    auto it =
        std::find_if(stored_.begin(), stored_.end(), [&](const Stored& s) { return s.id == h.id; });
    ASSERT_NE(it, stored_.end()) << h.id;
    EXPECT_EQ(h.text, it->text);
    EXPECT_EQ(h.source_table, "beta");
    EXPECT_EQ(h.source, "synthetic");
    EXPECT_NE(h.metadata_json.find("\"n\""), std::string::npos) << h.metadata_json;
  }
  EXPECT_GE(r.hits[0].score, r.hits[1].score);
  EXPECT_GE(r.hits[1].score, r.hits[2].score);
}

TEST_F(ParallelRetrieverTest, DeduplicatesKeepingBestCopyAndListingEveryTable) {
  const std::string shared = "vacuum freeze toast tuple archive";
  add("alpha", {shared});
  add("gamma", {shared});
  ParallelRetriever retriever = make({"alpha", "beta", "gamma"});
  RetrieveOptions options;
  options.top_k = 5;
  options.exact = true;
  RetrieveResult r = retriever.retrieve(shared, options);
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits[0].text, shared);
  EXPECT_NEAR(r.hits[0].score, 1.0f, 1e-5);
  // Equal scores: the earlier table's copy is kept, both tables are listed.
  EXPECT_EQ(r.hits[0].source_table, "alpha");
  EXPECT_EQ(r.hits[0].source_tables, (std::vector<std::string>{"alpha", "gamma"}));
  for (size_t i = 1; i < r.hits.size(); ++i) EXPECT_NE(r.hits[i].text, shared);

  options.deduplicate = false;
  RetrieveResult dup = retriever.retrieve(shared, options);
  ASSERT_GE(dup.hits.size(), 2u);
  EXPECT_EQ(dup.hits[0].text, shared);
  EXPECT_EQ(dup.hits[1].text, shared);
  EXPECT_EQ(dup.hits[0].source_table, "alpha");
  EXPECT_EQ(dup.hits[1].source_table, "gamma");
}

TEST_F(ParallelRetrieverTest, ReciprocalRankFusionSumsRanksOverTables) {
  const std::string shared = "explain analyze cost parallel worker";
  add("alpha", {shared});
  add("beta", {shared});
  const std::vector<std::string> tables = {"alpha", "beta", "gamma"};
  ParallelRetriever retriever = make(tables);
  RetrieveOptions options;
  options.top_k = 6;
  options.exact = true;
  options.fusion = Fusion::kRrf;
  options.candidates_per_table = 8;
  RetrieveResult r = retriever.retrieve(shared, options);
  // Expected: per-table exact rankings, fused by hand.
  std::map<std::string, double> fused;
  EmbeddingMatrix q = model_->embed(std::vector<std::string>{shared});
  for (const std::string& t : tables) {
    auto hits = store_->search(t, q.row(0), SearchOptions{.top_k = 8, .exact = true});
    std::set<std::string> seen;
    for (size_t i = 0; i < hits.size(); ++i) {
      if (seen.insert(hits[i].text).second) fused[hits[i].text] += 1.0 / (60.0 + double(i + 1));
    }
  }
  ASSERT_EQ(r.hits.size(), 6u);
  EXPECT_EQ(r.hits[0].text, shared);
  EXPECT_NEAR(r.hits[0].score, 2.0 / 61.0, 1e-6);
  EXPECT_NEAR(r.hits[0].similarity, 1.0, 1e-5);
  for (const RetrievedHit& h : r.hits) EXPECT_NEAR(h.score, fused[h.text], 1e-6) << h.text;
  for (size_t i = 1; i < r.hits.size(); ++i) EXPECT_GE(r.hits[i - 1].score, r.hits[i].score);
}

TEST_F(ParallelRetrieverTest, MissingTableFailsNamingIt) {
  ParallelRetriever retriever = make({"alpha", "nosuch", "gamma"});
  try {
    retriever.retrieve("index");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("table 'nosuch'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ragperf ingest"), std::string::npos) << e.what();
  }
}

TEST_F(ParallelRetrieverTest, TableDroppedAfterFirstUseFailsNamingIt) {
  ParallelRetriever retriever = make({"alpha", "beta"});
  EXPECT_EQ(retriever.retrieve("index").hits.size(), 4u);
  store_->drop("beta");
  try {
    retriever.retrieve("index");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("table 'beta'"), std::string::npos) << e.what();
  }
}

TEST_F(ParallelRetrieverTest, PartialResultsReportTheFailingTable) {
  ParallelRetriever retriever = make({"alpha", "nosuch", "gamma"});
  RetrieveOptions options;
  options.partial_results = true;
  options.top_k = 5;
  RetrieveResult r = retriever.retrieve("index vacuum", options);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].table, "nosuch");
  EXPECT_EQ(r.failures[0].code, ErrorCode::kInput);
  EXPECT_NE(r.failures[0].message.find("nosuch"), std::string::npos);
  ASSERT_EQ(r.hits.size(), 5u);
  for (const RetrievedHit& h : r.hits) {
    EXPECT_TRUE(h.source_table == "alpha" || h.source_table == "gamma") << h.source_table;
  }
}

TEST_F(ParallelRetrieverTest, SeveralFailingTablesAreAllNamed) {
  ParallelRetriever retriever = make({"nosuch1", "alpha", "nosuch2"});
  try {
    retriever.retrieve("index");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("table 'nosuch1' (and 1 more: nosuch2)"), std::string::npos) << m;
  }
}

TEST_F(ParallelRetrieverTest, TableOfAnotherModelIsAClearError) {
  HashingModel other(32, "other");
  add("othermodel", {"index vacuum"}, store_.get(), &other);
  HashingModel wide(48, "wide");
  add("widemodel", {"index vacuum"}, store_.get(), &wide);
  for (const std::string table : {"othermodel", "widemodel"}) {
    ParallelRetriever retriever = make({"alpha", table});
    try {
      retriever.retrieve("index");
      FAIL() << "expected InputError for " << table;
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("table '" + table + "'"), std::string::npos) << m;
      EXPECT_NE(m.find(model_->id()), std::string::npos) << m;
      const std::string their = table == "othermodel" ? other.id() : wide.id();
      EXPECT_NE(m.find(their), std::string::npos) << m;
    }
  }
}

TEST_F(ParallelRetrieverTest, RejectsBadConstructionAndOptions) {
  try {
    ParallelRetriever(store_, model_, {"alpha"}, 31);
    FAIL() << "expected ConfigError for embed_dim 31";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("embed_dim=31"), std::string::npos) << m;
    EXPECT_NE(m.find(std::to_string(model_->dim())), std::string::npos) << m;
    // The retriever's argument is not EMBED_DIM: its message must not send users there.
    EXPECT_EQ(m.find("EMBED_DIM"), std::string::npos) << m;
  }
  EXPECT_THROW(make({}), InputError);
  EXPECT_THROW(make({"bad-name"}), InputError);
  EXPECT_THROW(make({"alpha; DROP TABLE x"}), InputError);
  EXPECT_THROW(make({"alpha@"}), InputError);
  EXPECT_THROW(ParallelRetriever(store_, std::shared_ptr<EmbeddingModel>(), {"alpha"}, 32),
               ConfigError);

  ParallelRetriever retriever = make({"alpha"});
  RetrieveOptions zero;
  zero.top_k = 0;
  EXPECT_THROW(retriever.retrieve("index", zero), InputError);
  RetrieveOptions bad_rrf;
  bad_rrf.rrf_k = 0;
  EXPECT_THROW(retriever.retrieve("index", bad_rrf), InputError);
  EXPECT_THROW(retriever.retrieve_by_vector(std::vector<float>(7, 0.1f)).get(), InputError);
}

TEST_F(ParallelRetrieverTest, RetrieveByVectorSkipsEmbedding) {
  ParallelRetriever retriever = make({"alpha", "beta"});
  EmbeddingMatrix q = model_->embed(std::vector<std::string>{"wal standby"});
  RetrieveResult by_vector =
      retriever.retrieve_by_vector(std::vector<float>(q.data.begin(), q.data.end())).get();
  RetrieveResult by_text = retriever.retrieve("wal standby");
  ASSERT_EQ(by_vector.hits.size(), by_text.hits.size());
  for (size_t i = 0; i < by_text.hits.size(); ++i)
    EXPECT_EQ(by_vector.hits[i].id, by_text.hits[i].id);
  EXPECT_EQ(by_vector.timings.embed_s, 0);
}

TEST_F(ParallelRetrieverTest, TableAtAnotherLocationUsesItsOwnStore) {
  TempDir other_dir;
  auto other = std::make_shared<LocalStore>(other_dir.path());
  add("remote", {"replication slot standby wal", "grant role"}, other.get());
  other.reset();  // the retriever opens the folder itself
  const std::string remote = "remote@" + other_dir.path().string();
  // Without an opener a table elsewhere is refused: the retriever never reads the environment.
  try {
    make({"alpha", remote});
    FAIL() << "expected ConfigError without open_location";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("open_location"), std::string::npos) << e.what();
  }
  ParallelRetrieverOptions ro;
  ro.open_location = default_store_opener(load_settings({}, {}));
  ParallelRetriever retriever = make({"alpha", remote}, ro);
  RetrieveOptions options;
  options.top_k = 3;
  options.exact = true;
  RetrieveResult r = retriever.retrieve("replication slot standby wal", options);
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits[0].source_table, remote);
  EXPECT_EQ(r.hits[0].text, "replication slot standby wal");
  // A second call reuses the opened store.
  EXPECT_EQ(retriever.retrieve("grant role", options).hits[0].source_table, remote);
}

TEST_F(ParallelRetrieverTest, UnreachableLocationFailsOnlyItsTableInPartialMode) {
  ParallelRetrieverOptions ro;
  ro.open_location = [](const std::string& location) -> std::shared_ptr<VectorStore> {
    throw ConnectionError("cannot connect to " + location);
  };
  ParallelRetriever retriever = make({"alpha", "far@postgresql://u:secret@nowhere/db"}, ro);
  try {
    retriever.retrieve("index");
    FAIL() << "expected ConnectionError";
  } catch (const ConnectionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("table 'far@postgresql://u:****@nowhere/db'"), std::string::npos) << m;
  }
  RetrieveOptions partial;
  partial.partial_results = true;
  RetrieveResult r = retriever.retrieve("index", partial);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].code, ErrorCode::kConnection);
  EXPECT_EQ(r.hits.size(), 4u);
}

TEST_F(ParallelRetrieverTest, AwaitableFormMatchesFutureForm) {
  ParallelRetriever retriever = make({"alpha", "beta", "gamma"});
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<RetrieveResult> {
        RetrieveOptions o;
        o.top_k = 6;
        co_return co_await retriever.async_retrieve_parallel("index btree gin", o);
      },
      boost::asio::use_future);
  io.run();
  RetrieveResult awaited = fut.get();
  RetrieveResult blocking = retriever.retrieve("index btree gin", RetrieveOptions{.top_k = 6});
  ASSERT_EQ(awaited.hits.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(awaited.hits[i].id, blocking.hits[i].id);

  // Errors arrive as exceptions at the co_await.
  ParallelRetriever broken = make({"nosuch"});
  boost::asio::io_context io2;
  auto failed = boost::asio::co_spawn(
      io2,
      [&]() -> boost::asio::awaitable<RetrieveResult> {
        co_return co_await broken.async_retrieve_parallel("index");
      },
      boost::asio::use_future);
  io2.run();
  EXPECT_THROW(failed.get(), InputError);
}

TEST_F(ParallelRetrieverTest, ConcurrentCallsAgreeWithSequentialOnes) {
  ParallelRetriever retriever = make({"alpha", "beta", "gamma"});
  std::vector<std::string> queries = {"index", "vacuum wal", "grant role", "join sort memory"};
  std::vector<std::future<RetrieveResult>> futures;
  for (int round = 0; round < 5; ++round) {
    for (const auto& q : queries) futures.push_back(retriever.retrieve_parallel(q, 5, true));
  }
  for (size_t i = 0; i < futures.size(); ++i) {
    RetrieveResult r = futures[i].get();
    RetrieveResult again = retriever.retrieve(queries[i % queries.size()], {.top_k = 5});
    ASSERT_EQ(r.hits.size(), again.hits.size());
    for (size_t j = 0; j < r.hits.size(); ++j) EXPECT_EQ(r.hits[j].id, again.hits[j].id);
  }
}

TEST_F(ParallelRetrieverTest, RecordsStagesInTheMonitor) {
  PerformanceMonitor monitor;
  ParallelRetrieverOptions ro;
  ro.monitor = &monitor;
  ParallelRetriever retriever = make({"alpha", "beta"}, ro);
  for (int i = 0; i < 3; ++i) retriever.retrieve("index");
  for (const char* stage : {"embed", "query", "merge", "total"}) {
    auto s = monitor.get_stats(stage);
    ASSERT_TRUE(s.has_value()) << stage;
    EXPECT_EQ(s->count, 3u) << stage;
  }
}

TEST_F(ParallelRetrieverTest, EmbedsThroughAsyncEmbedding) {
  auto embedder = std::make_shared<AsyncEmbedding>(model_, "cpu", 8);
  ParallelRetriever retriever(store_, embedder, {"alpha", "gamma"}, 32);
  RetrieveResult r = retriever.retrieve("index vacuum", {.top_k = 3});
  RetrieveResult direct = make({"alpha", "gamma"}).retrieve("index vacuum", {.top_k = 3});
  ASSERT_EQ(r.hits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r.hits[i].id, direct.hits[i].id);
  EXPECT_GE(embedder->get_stats().embeddings, 1u);
}

TEST_F(ParallelRetrieverTest, ApproximateSearchRecallsTheExactTopTen) {
  TempDir ann_dir;
  LocalStoreOptions lo;
  lo.ann_threshold = 500;
  auto ann_store = std::make_shared<LocalStore>(ann_dir.path(), lo);
  std::mt19937 rng(11);
  std::vector<std::string> texts;
  for (int i = 0; i < 3000; ++i) texts.push_back(random_text(rng));
  add("big", texts, ann_store.get());
  ParallelRetriever retriever(ann_store, model_, {"big"}, 32);
  size_t found = 0, wanted = 0;
  for (int q = 0; q < 20; ++q) {
    const std::string query = random_text(rng);
    RetrieveOptions o;
    o.top_k = 10;
    o.deduplicate = false;
    RetrieveResult approx = retriever.retrieve(query, o);
    o.exact = true;
    RetrieveResult exact = retriever.retrieve(query, o);
    std::set<std::string> truth;
    for (const auto& h : exact.hits) truth.insert(h.id);
    for (const auto& h : approx.hits) found += truth.count(h.id);
    wanted += truth.size();
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(wanted), 0.95);
}

TEST(MergeHits, BreaksTiesByTableThenId) {
  std::vector<std::vector<Hit>> per_table(2);
  per_table[0] = {Hit{"b", "x", 0.5f, "{}", "", "t0"}, Hit{"a", "y", 0.5f, "{}", "", "t0"}};
  per_table[1] = {Hit{"a", "z", 0.5f, "", "", "t1"}};
  const std::vector<std::string> names = {"t0", "t1"};
  RetrieveOptions o;
  o.top_k = 3;
  auto hits = merge_hits(per_table, names, o);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, "a");
  EXPECT_EQ(hits[0].source_table, "t0");
  EXPECT_EQ(hits[1].id, "b");
  EXPECT_EQ(hits[2].source_table, "t1");
  EXPECT_EQ(hits[2].metadata_json, "{}");
  o.top_k = 0;
  EXPECT_THROW(merge_hits(per_table, names, o), InputError);
}

TEST(TableRefTest, ParsesNamesAndLocations) {
  TableRef plain = TableRef::parse("docs");
  EXPECT_EQ(plain.name, "docs");
  EXPECT_EQ(plain.location, "");
  TableRef far = TableRef::parse("docs@postgresql://me:pw@h:5433/db");
  EXPECT_EQ(far.name, "docs");
  EXPECT_EQ(far.location, "postgresql://me:pw@h:5433/db");
  EXPECT_EQ(far.display(), "docs@postgresql://me:****@h:5433/db");
  EXPECT_THROW(TableRef::parse("@postgresql://h/db"), InputError);
  EXPECT_THROW(TableRef::parse("1docs"), InputError);
  EXPECT_THROW(TableRef::parse("docs@ "), InputError);
  EXPECT_EQ(parse_fusion("rrf"), Fusion::kRrf);
  EXPECT_THROW(parse_fusion("best"), InputError);
}

}  // namespace
}  // namespace ragperf
