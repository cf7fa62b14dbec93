#include "ragperf/local_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "testing/testing.h"

#if defined(__SANITIZE_ADDRESS__)
#define RAGPERF_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAGPERF_UNDER_SANITIZER 1
#endif
#endif
#ifndef RAGPERF_UNDER_SANITIZER
#define RAGPERF_UNDER_SANITIZER 0
#endif

namespace ragperf {
namespace {

using testing::TempDir;

/// "c" + n without GCC 12's false -Wrestrict positive on operator+(const char*, string&&).
std::string cat(const char* prefix, size_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

/// `n` vectors of `dim` floats around `clusters` random centres (fixed seed).
std::vector<std::vector<float>> clustered(size_t n, size_t dim, size_t clusters, uint32_t seed,
                                          float spread = 0.35f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> centres(clusters, std::vector<float>(dim));
  for (auto& c : centres)
    for (auto& x : c) x = g(rng);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  for (auto& v : out) {
    const auto& c = centres[pick(rng)];
    for (size_t j = 0; j < dim; ++j) v[j] = c[j] + spread * g(rng);
  }
  return out;
}

/// Embedding-like data: clustered points in a `latent`-dimensional space mapped linearly into
/// `dim` dimensions plus a little noise (real text embeddings have a low intrinsic dimension;
/// isotropic noise in all `dim` directions is the worst case for any ANN index). Fixed seeds:
/// the same `data_seed` gives the same space, `seed` picks the points.
std::vector<std::vector<float>> embedding_like(size_t n, size_t dim, uint32_t seed,
                                               uint32_t data_seed = 99, size_t latent = 32) {
  std::mt19937 space_rng(data_seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> map(latent * dim);
  for (auto& x : map) x = g(space_rng);
  std::vector<std::vector<float>> centres(200, std::vector<float>(latent));
  for (auto& c : centres)
    for (auto& x : c) x = g(space_rng);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, centres.size() - 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  std::vector<float> z(latent);
  for (auto& v : out) {
    const auto& c = centres[pick(rng)];
    for (size_t l = 0; l < latent; ++l) z[l] = c[l] + 0.5f * g(rng);
    for (size_t j = 0; j < dim; ++j) {
      float s = 0.05f * g(rng);
      for (size_t l = 0; l < latent; ++l) s += z[l] * map[l * dim + j];
      v[j] = s;
    }
  }
  return out;
}

std::vector<Chunk> make_chunks(const std::vector<std::vector<float>>& vecs, size_t first = 0,
                               const std::string& source = "") {
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < vecs.size(); ++i) {
    Chunk c;
    c.id = cat("c", first + i);
    c.text = cat("text ", first + i);
    c.metadata_json = R"({"n":)" + std::to_string(first + i) + "}";
    c.content_hash = cat("h", first + i);
    c.source = source;
    c.embedding = vecs[i];
    chunks.push_back(std::move(c));
  }
  return chunks;
}

/// Brute force in double precision: ids sorted by score (higher is better), ties by id.
std::vector<std::pair<std::string, double>> brute_force(const std::vector<std::vector<float>>& vecs,
                                                        const std::vector<float>& q, Metric metric,
                                                        size_t k) {
  std::vector<std::pair<std::string, double>> all;
  double qn = 0;
  for (float x : q) qn += double(x) * x;
  qn = std::sqrt(qn);
  for (size_t i = 0; i < vecs.size(); ++i) {
    double dot = 0, l2 = 0, vn = 0;
    for (size_t j = 0; j < q.size(); ++j) {
      dot += double(q[j]) * vecs[i][j];
      l2 += (double(q[j]) - vecs[i][j]) * (double(q[j]) - vecs[i][j]);
      vn += double(vecs[i][j]) * vecs[i][j];
    }
    double s = metric == Metric::kCosine ? dot / (qn * std::sqrt(vn))
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

TEST(LocalStore, ExactSearchEqualsBruteForceForEveryMetric) {
  TempDir tmp;
  LocalStore store(tmp.path());
  auto vecs = clustered(2000, 48, 20, 7);
  auto queries = clustered(20, 48, 20, 8);
  for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    std::string table = std::string("t_") + to_string(metric);
    store.ensure_collection(table, 48, metric, "test-model");
    store.add(table, make_chunks(vecs));
    EXPECT_EQ(store.count(table), 2000u);
    for (const auto& q : queries) {
      auto hits = store.search(table, q, {.top_k = 10, .exact = true});
      auto want = brute_force(vecs, q, metric, 10);
      ASSERT_EQ(hits.size(), 10u);
      for (size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(hits[i].id, want[i].first) << to_string(metric) << " rank " << i;
        EXPECT_NEAR(hits[i].score, want[i].second, 1e-3 * std::max(1.0, std::abs(want[i].second)));
        EXPECT_EQ(hits[i].source_table, table);
      }
      // The default (non-exact) search on a small collection is exact too.
      auto plain = store.search(table, q, {.top_k = 10});
      for (size_t i = 0; i < 10; ++i) EXPECT_EQ(plain[i].id, hits[i].id);
    }
  }
}

TEST(LocalStore, HitsCarryTextMetadataAndSource) {
  TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 3, Metric::kCosine, "m");
  std::vector<Chunk> chunks(2);
  chunks[0] = {"a", "alpha text", R"({"page":1})", "ha", "/f/a.txt", {1, 0, 0}};
  chunks[1] = {"b", "beta text", "", "hb", "/f/b.txt", {0, 1, 0}};
  store.add("docs", chunks);
  auto hits = store.search("docs", std::vector<float>{1, 0.1f, 0}, {.top_k = 5});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, "a");
  EXPECT_EQ(hits[0].text, "alpha text");
  EXPECT_EQ(hits[0].metadata_json, R"({"page":1})");
  EXPECT_EQ(hits[0].source, "/f/a.txt");
  EXPECT_EQ(hits[1].metadata_json, "{}");
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_NEAR(hits[0].score, 1 / std::sqrt(1.01f), 1e-6);
}

TEST(LocalStore, DataSurvivesReopen) {
  TempDir tmp;
  auto vecs = clustered(300, 16, 5, 3);
  {
    LocalStore store(tmp.path());
    store.ensure_collection("docs", 16, Metric::kL2, "m1");
    store.add("docs", make_chunks(vecs));
  }
  LocalStore store(tmp.path());
  auto info = store.collection("docs");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->dim, 16u);
  EXPECT_EQ(info->metric, Metric::kL2);
  EXPECT_EQ(info->model_id, "m1");
  EXPECT_EQ(info->count, 300u);
  auto hits = store.search("docs", vecs[42], {.top_k = 1});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, "c42");
  EXPECT_NEAR(hits[0].score, 0, 1e-5);
  auto all = store.collections();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "docs");
}

TEST(LocalStore, ModelOrDimensionMismatchIsAClearError) {
  TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 8, Metric::kCosine, "glove-6b-100d");
  EXPECT_NO_THROW(store.ensure_collection("docs", 8, Metric::kCosine, "glove-6b-100d"));
  try {
    store.ensure_collection("docs", 384, Metric::kCosine, "bge-small");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "table docs was ingested with model glove-6b-100d (dim 8); query it with --model "
                 "glove-6b-100d or re-ingest (this model: bge-small, dim 384)");
  }
  EXPECT_THROW(store.ensure_collection("docs", 8, Metric::kL2, "glove-6b-100d"), InputError);
  std::vector<float> q(384, 0.5f);
  try {
    store.search("docs", q, {});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--model glove-6b-100d"), std::string::npos) << e.what();
  }
  auto chunks = make_chunks({std::vector<float>(5, 1.0f)});
  EXPECT_THROW(store.add("docs", chunks), InputError);
  EXPECT_EQ(store.count("docs"), 0u);
  EXPECT_THROW(store.ensure_collection("zero", 0, Metric::kCosine, "m"), InputError);
}

TEST(LocalStore, UnknownCollectionNamesIt) {
  TempDir tmp;
  LocalStore store(tmp.path());
  std::vector<float> q(4, 1.0f);
  try {
    store.search("nope", q, {});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'nope' does not exist"), std::string::npos);
  }
  EXPECT_THROW(store.count("nope"), InputError);
  EXPECT_THROW(store.add("nope", make_chunks({q})), InputError);
  EXPECT_THROW(store.source_hash("nope", "f"), InputError);
  EXPECT_FALSE(store.collection("nope").has_value());
  EXPECT_NO_THROW(store.drop("nope"));
}

TEST(LocalStore, BadIdentifiersAreRejectedBeforeAnySql) {
  TempDir tmp;
  LocalStore store(tmp.path());
  for (std::string bad : std::vector<std::string>{"", "1abc", "a;drop table chunks", "a b", "x\"y",
                                                  "été", std::string(64, 'a')}) {
    try {
      store.ensure_collection(bad, 4, Metric::kCosine, "m");
      FAIL() << "expected InputError for '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("table name '" + bad.substr(0, 80) + "'"),
                std::string::npos)
          << e.what();
    }
    EXPECT_THROW(store.collection(bad), InputError);
    EXPECT_THROW(store.drop(bad), InputError);
  }
  EXPECT_NO_THROW(validate_identifier(std::string(63, 'a')));
  EXPECT_NO_THROW(validate_identifier("_Docs_2"));
  EXPECT_THROW(validate_identifier("col-1", "column"), InputError);
}

TEST(LocalStore, NonFiniteVectorsAreRejected) {
  TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 3, Metric::kCosine, "m");
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto chunks = make_chunks({{1, 2, 3}, {1, bad, 3}});
    try {
      store.add("docs", chunks);
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("chunk 1 (id 'c1') embedding has a non-finite value "
                                           "at position 1"),
                std::string::npos)
          << e.what();
    }
    EXPECT_THROW(store.search("docs", std::vector<float>{bad, 0, 0}, {}), InputError);
  }
  EXPECT_EQ(store.count("docs"), 0u);  // all or nothing
}

TEST(LocalStore, BadChunkFieldsAndOptions) {
  TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 2, Metric::kCosine, "m");
  auto chunks = make_chunks({{1, 2}});
  chunks[0].metadata_json = "[1,2]";
  EXPECT_THROW(store.add("docs", chunks), InputError);
  chunks[0].metadata_json = "{not json";
  EXPECT_THROW(store.add("docs", chunks), InputError);
  chunks[0].metadata_json = "";
  chunks[0].id = "";
  EXPECT_THROW(store.add("docs", chunks), InputError);
  chunks[0].id = "ok";
  store.add("docs", chunks);
  EXPECT_THROW(store.search("docs", std::vector<float>{1, 1}, {.top_k = 0}), InputError);
  EXPECT_THROW(store.search("docs", std::vector<float>{1, 1}, {.ef_search = -1}), InputError);
  // A zero query has no direction under cosine: no hits rather than arbitrary ones.
  EXPECT_TRUE(store.search("docs", std::vector<float>{0, 0}, {}).empty());
}

TEST(LocalStore, CorruptStoreFileNamesThePath) {
  TempDir tmp;
  testing::write_file(tmp / "store.sqlite3", std::string(8192, 'x'));
  try {
    LocalStore store(tmp.path());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find((tmp / "store.sqlite3").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a usable SQLite database"), std::string::npos) << msg;
  }
  // The file is left as it was: nothing is overwritten.
  EXPECT_EQ(testing::read_file(tmp / "store.sqlite3"), std::string(8192, 'x'));
}

TEST(LocalStore, StorePathThatIsAFileIsAClearError) {
  TempDir tmp;
  testing::write_file(tmp / "plain", "hello");
  try {
    LocalStore store(tmp / "plain");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("is a file, not a folder"), std::string::npos);
  }
}

TEST(LocalStore, ReplaceSourceIsIdempotentAndAtomic) {
  TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 4, Metric::kCosine, "m");
  auto v1 = clustered(5, 4, 2, 1);
  auto v2 = clustered(3, 4, 2, 2);
  EXPECT_FALSE(store.source_hash("docs", "/a.txt").has_value());
  store.replace_source("docs", "/a.txt", "hash1", make_chunks(v1, 0, "ignored"));
  store.replace_source("docs", "/b.txt", "hashb", make_chunks(v2, 100));
  EXPECT_EQ(store.source_hash("docs", "/a.txt"), "hash1");
  EXPECT_EQ(store.count("docs"), 8u);
  auto hits = store.search("docs", v1[0], {.top_k = 1, .exact = true});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].source, "/a.txt");  // the source argument wins over Chunk::source
  // The file changed: its 5 chunks become 2; /b.txt is untouched.
  store.replace_source("docs", "/a.txt", "hash2", make_chunks(clustered(2, 4, 1, 9), 50));
  EXPECT_EQ(store.source_hash("docs", "/a.txt"), "hash2");
  EXPECT_EQ(store.count("docs"), 5u);
  // A failing replacement (bad vector) leaves the old state.
  auto bad = make_chunks({{1, 2, 3}}, 70);
  EXPECT_THROW(store.replace_source("docs", "/a.txt", "hash3", bad), InputError);
  EXPECT_EQ(store.source_hash("docs", "/a.txt"), "hash2");
  EXPECT_EQ(store.count("docs"), 5u);
  EXPECT_EQ(store.remove_source("docs", "/a.txt"), 2u);
  EXPECT_FALSE(store.source_hash("docs", "/a.txt").has_value());
  EXPECT_EQ(store.count("docs"), 3u);
  // The same id added again replaces the chunk.
  auto again = make_chunks({{9, 9, 9, 9}}, 100);
  again[0].text = "new text";
  store.add("docs", again);
  EXPECT_EQ(store.count("docs"), 3u);
  auto h = store.search("docs", std::vector<float>{9, 9, 9, 9}, {.top_k = 1});
  EXPECT_EQ(h[0].id, "c100");
  EXPECT_EQ(h[0].text, "new text");
  store.drop("docs");
  EXPECT_FALSE(store.collection("docs").has_value());
}

TEST(LocalStore, WritesFromAnotherInstanceAreSeen) {
  TempDir tmp;
  LocalStore reader(tmp.path());
  LocalStore writer(tmp.path());
  writer.ensure_collection("docs", 8, Metric::kCosine, "m");
  auto vecs = clustered(50, 8, 3, 4);
  writer.add("docs", make_chunks(vecs));
  EXPECT_EQ(reader.search("docs", vecs[7], {.top_k = 1})[0].id, "c7");
  auto more = clustered(10, 8, 3, 5);
  writer.add("docs", make_chunks(more, 50));
  EXPECT_EQ(reader.search("docs", more[3], {.top_k = 1})[0].id, "c53");
  writer.remove_source("docs", "");  // every chunk above has source ""
  EXPECT_TRUE(reader.search("docs", more[3], {.top_k = 1}).empty());
}

// recall@10 of the HNSW index against exact search on clustered data, default settings.
TEST(LocalStore, AnnRecallAtTenIsAtLeast095) {
  const size_t n = RAGPERF_UNDER_SANITIZER ? 4000 : 50000;
  const size_t dim = RAGPERF_UNDER_SANITIZER ? 32 : 100;
  TempDir tmp;
  LocalStoreOptions opts;
  if (RAGPERF_UNDER_SANITIZER) opts.ann_threshold = 2000;
  auto vecs = embedding_like(n, dim, 11);
  auto queries = embedding_like(100, dim, 12);
  {
    LocalStore store(tmp.path(), opts);
    store.ensure_collection("big", dim, Metric::kCosine, "m");
    for (size_t i = 0; i < n; i += 5000) {
      std::vector<std::vector<float>> part(vecs.begin() + i, vecs.begin() + std::min(n, i + 5000));
      store.add("big", make_chunks(part, i));
    }
    size_t found = 0;
    for (const auto& q : queries) {
      auto exact = store.search("big", q, {.top_k = 10, .exact = true});
      auto ann = store.search("big", q, {.top_k = 10});
      ASSERT_EQ(ann.size(), 10u);
      for (const auto& h : ann) {
        found +=
            std::count_if(exact.begin(), exact.end(), [&](const Hit& e) { return e.id == h.id; });
      }
    }
    double recall = double(found) / (10.0 * queries.size());
    EXPECT_GE(recall, 0.95) << "n=" << n;
  }
  // The index was persisted: reopening uses it (the file is not rewritten) and still answers.
  auto index = tmp / "big.hnsw";
  ASSERT_TRUE(std::filesystem::exists(index));
  auto stamp = std::filesystem::last_write_time(index);
  {
    LocalStore store(tmp.path(), opts);
    auto hits = store.search("big", vecs[123], {.top_k = 1});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, "c123");
  }
  EXPECT_EQ(std::filesystem::last_write_time(index), stamp);
}

// Writes after the index exists reach it incrementally, in this instance and in a later one.
TEST(LocalStore, AnnIndexFollowsWritesAndReopens) {
  TempDir tmp;
  LocalStoreOptions opts;
  opts.ann_threshold = 500;
  auto vecs = clustered(1000, 16, 10, 21);
  auto extra = clustered(20, 16, 10, 22);
  {
    LocalStore store(tmp.path(), opts);
    store.ensure_collection("docs", 16, Metric::kInnerProduct, "m");
    store.add("docs", make_chunks(vecs));
    store.warm("docs");
    EXPECT_TRUE(std::filesystem::exists(tmp / "docs.hnsw"));
    store.add("docs", make_chunks(extra, 1000));
    EXPECT_EQ(store.search("docs", extra[5], {.top_k = 3, .ef_search = 200})[0].id, "c1005");
  }
  {
    LocalStore other(tmp.path(), opts);
    std::vector<Chunk> replaced = make_chunks({extra[5]}, 0);  // c0 now holds extra[5]'s vector
    other.add("docs", replaced);
  }
  LocalStore store(tmp.path(), opts);
  auto hits = store.search("docs", extra[5], {.top_k = 2, .ef_search = 200});
  ASSERT_EQ(hits.size(), 2u);
  std::vector<std::string> ids{hits[0].id, hits[1].id};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"c0", "c1005"}));
  EXPECT_EQ(store.count("docs"), 1020u);
}

TEST(LocalStore, CorruptIndexFileIsRebuiltNotTrusted) {
  TempDir tmp;
  LocalStoreOptions opts;
  opts.ann_threshold = 200;
  auto vecs = clustered(400, 8, 4, 31);
  {
    LocalStore store(tmp.path(), opts);
    store.ensure_collection("docs", 8, Metric::kL2, "m");
    store.add("docs", make_chunks(vecs));
    store.warm("docs");
  }
  auto size = std::filesystem::file_size(tmp / "docs.hnsw");
  testing::write_file(tmp / "docs.hnsw", std::string(size / 2, '\x7f'));
  LocalStore store(tmp.path(), opts);
  EXPECT_EQ(store.search("docs", vecs[9], {.top_k = 1})[0].id, "c9");
}

TEST(LocalStore, ConcurrentSearchesWithOneWriter) {
  TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 16, Metric::kCosine, "m");
  auto vecs = clustered(400, 16, 8, 41);
  store.add("docs", make_chunks(vecs));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      size_t i = t;
      while (!stop) {
        auto hits = store.search("docs", vecs[i % 400], {.top_k = 1});
        if (hits.empty() || hits[0].id != cat("c", i % 400)) ++errors;
        i += 7;
      }
    });
  }
  for (size_t b = 0; b < 20; ++b) {
    store.add("docs", make_chunks(clustered(10, 16, 8, 100 + b), 1000 + 10 * b));
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store.count("docs"), 600u);
}

// A process killed in the middle of an ingest loses at most the batch it was writing.
TEST(LocalStore, KilledWriterLeavesOnlyWholeBatches) {
  TempDir tmp;
  {
    LocalStore store(tmp.path());
    store.ensure_collection("docs", 32, Metric::kCosine, "m");
  }
  auto vecs = clustered(200, 32, 4, 51);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    LocalStore store(tmp.path());
    for (size_t b = 0;; ++b) store.add("docs", make_chunks(vecs, b * 200));
    _exit(0);
  }
  // Let it write a few batches, then kill it without warning.
  for (int i = 0; i < 200; ++i) {
    usleep(10000);
    LocalStore probe(tmp.path());
    if (probe.count("docs") >= 1000) break;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  LocalStore store(tmp.path());
  size_t n = store.count("docs");
  EXPECT_GE(n, 200u);
  EXPECT_EQ(n % 200, 0u) << "a partial batch was stored";
  auto hits = store.search("docs", vecs[17], {.top_k = 1, .exact = true});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
  store.add("docs", make_chunks({vecs[0]}, 999999));  // still writable
  EXPECT_EQ(store.count("docs"), n + 1);
}

TEST(OpenStore, UsesTheLocalStoreUnderRagperfHomeWithoutADatabase) {
  TempDir tmp;
  auto settings = load_settings({{"RAGPERF_HOME", tmp.path().string()}}, tmp / "missing.env");
  auto store = open_store(settings);
  EXPECT_EQ(store->describe(), "local store at " + (tmp / "store").string());
  EXPECT_TRUE(std::filesystem::exists(tmp / "store" / "store.sqlite3"));
}

TEST(Metric, NamesRoundTrip) {
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    EXPECT_EQ(parse_metric(to_string(m)), m);
  }
  EXPECT_EQ(parse_metric("inner_product"), Metric::kInnerProduct);
  EXPECT_THROW(parse_metric("manhattan"), InputError);
}

}  // namespace
}  // namespace ragperf
