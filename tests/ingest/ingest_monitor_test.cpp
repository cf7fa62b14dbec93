// IngestPipeline with a PerformanceMonitor and a SemanticCache, against the real LocalStore and a
// real (tiny, generated) GloVe static model: "chunk" and "store" once per file written, "embed"
// once per embed() call; cache entries reading the table are dropped after each write and only
// then (another table's entries stay, an unchanged re-ingest drops nothing, a failed write drops
// them too).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>

#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/local_store.h"
#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"
#include "ragperf/static_model.h"
#include "testing/forwarding_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kWords = {"alpha", "beta",  "gamma", "delta", "epsilon", "zeta",
                                         "eta",   "theta", "the",   "is",    "and",     "notes"};

fs::path write_glove(const fs::path& folder) {
  std::string text;
  for (size_t w = 0; w < kWords.size(); ++w) {
    text += kWords[w];
    for (size_t j = 0; j < 6; ++j)
      text += fmt::format(" {:.4f}", static_cast<double>(((w + 2) * (j + 1) * 31) % 17) / 17 - 0.4);
    text += "\n";
  }
  testing::write_file(folder / "vectors.txt", text);
  return folder;
}

std::string sentences(const std::string& lead, int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += fmt::format("{}{} {} and {} is the {}.", i ? " " : "", lead, kWords[size_t(i) % 8],
                     kWords[size_t(i * 3) % 8], kWords[size_t(i * 5) % 8]);
  return s;
}

// Positive, and below a minute: a record of real work, whatever the machine.
void expect_plausible(const std::optional<StageStats>& s, const char* name) {
  ASSERT_TRUE(s.has_value()) << name << " not recorded";
  EXPECT_GT(s->sum_s, 0.0) << name;
  EXPECT_GT(s->min_s, 0.0) << name;
  EXPECT_LT(s->max_s, 60.0) << name;
}

uint64_t count_of(const PerformanceMonitor& m, std::string_view stage) {
  auto s = m.get_stats(stage);
  return s ? s->count : 0;
}

// The store, the model, three ingestible files and one the pipeline skips.
struct Fixture {
  testing::TempDir tmp;
  fs::path docs = tmp / "docs";
  std::shared_ptr<EmbeddingModel> model = load_static_model(write_glove(tmp / "model"));
  std::shared_ptr<LocalStore> store = std::make_shared<LocalStore>(tmp / "store");
  PerformanceMonitor monitor;
  SemanticCache cache{{.capacity = 100, .ttl = std::chrono::hours(1)}};

  Fixture() {
    testing::write_file(docs / "a.md", "# Guide\n\n" + sentences("Alpha", 20) + "\n");
    testing::write_file(docs / "b.txt", sentences("Gamma", 4));
    testing::write_file(docs / "c.html",
                        "<title>Notes</title><p>" + sentences("Delta", 6) + "</p>");
    testing::write_file(docs / "skip.png", "\x89PNG\r\n");
  }

  IngestStats ingest(const std::shared_ptr<VectorStore>& into, const std::string& table,
                     size_t batch) {
    IngestOptions o;
    o.table = table;
    o.chunker.max_tokens = 30;
    o.chunker.overlap_tokens = 6;
    o.embed_batch = batch;
    o.monitor = &monitor;
    o.cache = &cache;
    IngestPipeline p(model, into, o);
    return p.run({docs});
  }
  IngestStats ingest(size_t batch = 128) { return ingest(store, "docs", batch); }

  CacheScope scope(std::vector<std::string> tables) const {
    return {.tables = std::move(tables), .top_k = 4, .model_id = model->id(), .metric = "cosine"};
  }
  void cache_answers() {
    cache.store(scope({"docs"}), "what is alpha", {}, "docs answer");
    cache.store(scope({"other"}), "what is alpha", {}, "other answer");
    cache.store(scope({"other", "docs"}), "what is alpha", {}, "joined answer");
  }
  bool cached(std::vector<std::string> tables) {
    return cache.lookup_exact(scope(std::move(tables)), "what is alpha").has_value();
  }
};

TEST(IngestMonitor, RecordsChunkAndStorePerFileAndEmbedPerCall) {
  Fixture f;
  const IngestStats s = f.ingest(/*batch=*/128);  // every chunk fits one embed() call
  ASSERT_EQ(s.n_files_ingested, 3u);
  ASSERT_EQ(s.n_files_skipped, 1u);
  ASSERT_GT(s.n_chunks, 3u);
  EXPECT_EQ(count_of(f.monitor, "chunk"), 3u);
  EXPECT_EQ(count_of(f.monitor, "embed"), 1u);
  EXPECT_EQ(count_of(f.monitor, "store"), 3u);
  expect_plausible(f.monitor.get_stats("chunk"), "chunk");
  expect_plausible(f.monitor.get_stats("embed"), "embed");
  expect_plausible(f.monitor.get_stats("store"), "store");
  // The records are the run's own timings, split.
  EXPECT_NEAR(f.monitor.get_stats("store")->sum_s, s.store_s, 1e-6);
  EXPECT_LE(f.monitor.get_stats("embed")->sum_s, s.embed_s + 1e-6);
  EXPECT_LE(f.monitor.get_stats("chunk")->sum_s, s.read_s + 1e-6);
  EXPECT_EQ(f.monitor.get_stats().size(), 3u);  // nothing else is recorded

  // Unchanged files: nothing parsed, embedded or stored, so nothing recorded.
  const IngestStats again = f.ingest();
  EXPECT_EQ(again.n_files_unchanged, 3u);
  EXPECT_EQ(count_of(f.monitor, "chunk"), 3u);
  EXPECT_EQ(count_of(f.monitor, "embed"), 1u);
  EXPECT_EQ(count_of(f.monitor, "store"), 3u);
}

TEST(IngestMonitor, OneEmbedRecordPerEmbedCall) {
  Fixture f;
  const IngestStats s = f.ingest(/*batch=*/1);  // one embed() call per chunk
  EXPECT_EQ(count_of(f.monitor, "embed"), s.n_chunks);
  EXPECT_EQ(count_of(f.monitor, "chunk"), s.n_files_ingested);
  EXPECT_EQ(count_of(f.monitor, "store"), s.n_files_ingested);
}

TEST(IngestMonitor, ChangedFileInvalidatesEntriesReadingTheTableOnly) {
  Fixture f;
  f.ingest();
  f.cache_answers();
  ASSERT_TRUE(f.cached({"docs"}));

  // Nothing written: nothing invalidated.
  const IngestStats unchanged = f.ingest();
  EXPECT_EQ(unchanged.n_files_ingested, 0u);
  EXPECT_EQ(unchanged.n_cache_invalidated, 0u);
  EXPECT_TRUE(f.cached({"docs"}));

  testing::write_file(f.docs / "b.txt", "Zeta is the new eta.");
  const IngestStats changed = f.ingest();
  EXPECT_EQ(changed.n_files_ingested, 1u);
  EXPECT_FALSE(f.cached({"docs"})) << "a stale answer for 'docs' survived the ingest";
  EXPECT_FALSE(f.cached({"docs", "other"})) << "a join reading 'docs' survived the ingest";
  EXPECT_TRUE(f.cached({"other"})) << "another table's entry was dropped";
  EXPECT_EQ(changed.n_cache_invalidated, 2u);
  EXPECT_EQ(f.cache.get_stats().invalidations, 2u);
  EXPECT_EQ(f.cache.size(), 1u);
}

TEST(IngestMonitor, EmptiedFileIsAWriteAndInvalidates) {
  Fixture f;
  f.ingest();
  f.cache_answers();
  testing::write_file(f.docs / "b.txt", "");  // its chunks are removed
  const IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_ingested, 1u);
  EXPECT_EQ(s.n_chunks, 0u);
  EXPECT_FALSE(f.cached({"docs"}));
  EXPECT_TRUE(f.cached({"other"}));
}

TEST(IngestMonitor, IngestIntoAnotherTableKeepsThisTablesEntries) {
  Fixture f;
  f.ingest();
  f.cache_answers();
  const IngestStats s = f.ingest(f.store, "other", 128);
  EXPECT_EQ(s.n_files_ingested, 3u);
  EXPECT_TRUE(f.cached({"docs"}));
  EXPECT_FALSE(f.cached({"other"}));
  EXPECT_FALSE(f.cached({"docs", "other"}));
}

TEST(IngestMonitor, RunThatFailsBeforeWritingKeepsTheCache) {
  Fixture f;
  f.ingest();
  f.cache_answers();
  // Another model for the same table: refused before anything is written.
  testing::write_file(f.tmp / "other_model" / "vectors.txt", "alpha 1 0\nbeta 0 1\n");
  std::shared_ptr<EmbeddingModel> other = load_static_model(f.tmp / "other_model");
  IngestOptions o;
  o.table = "docs";
  o.monitor = &f.monitor;
  o.cache = &f.cache;
  IngestPipeline p(other, f.store, o);
  testing::write_file(f.docs / "b.txt", "Zeta is the new eta.");
  EXPECT_THROW(p.run({f.docs}), InputError);
  EXPECT_TRUE(f.cached({"docs"}));
  EXPECT_EQ(count_of(f.monitor, "store"), 3u);  // only the first run's writes
}

// A store whose replace_source() of one file commits on the real LocalStore and then reports a
// lost connection, as a PostgreSQL COMMIT whose answer never arrived does.
class CommitThenFailStore : public testing::ForwardingStore {
 public:
  CommitThenFailStore(VectorStore& real, std::string failing_source)
      : ForwardingStore(real), failing_(std::move(failing_source)) {}
  void replace_source(const std::string& c, const std::string& s, const std::string& hash,
                      std::span<const Chunk> chunks) override {
    real_.replace_source(c, s, hash, chunks);
    if (s == failing_)
      throw ConnectionError("connection lost while committing " + s + " (test store)");
  }
  std::string describe() const override { return "commit-then-fail over " + real_.describe(); }

 private:
  std::string failing_;
};

TEST(IngestMonitor, WriteThatFailsAfterCommittingStillInvalidates) {
  Fixture f;
  f.ingest();
  f.cache_answers();
  testing::write_file(f.docs / "b.txt", "Zeta is the new eta.");
  auto flaky = std::make_shared<CommitThenFailStore>(
      *f.store, fs::weakly_canonical(f.docs / "b.txt").string());
  EXPECT_THROW(f.ingest(flaky, "docs", 128), ConnectionError);
  EXPECT_FALSE(f.cached({"docs"})) << "the new rows may be committed; the old answer is stale";
  EXPECT_TRUE(f.cached({"other"}));
  EXPECT_EQ(count_of(f.monitor, "store"), 3u);  // a failed write is not a "store" record
}

}  // namespace
}  // namespace ragperf
