// IngestPipeline against the real LocalStore and a real (tiny, generated) GloVe static model:
// stats, skipped files, idempotent re-ingest, replacement of changed files, deleted files.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/local_store.h"
#include "ragperf/static_model.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kWords = {
    "alpha", "beta",    "gamma", "delta", "epsilon", "zeta",    "eta",    "theta",  "iota",
    "kappa", "lambda",  "mu",    "nu",    "xi",      "omicron", "pi",     "rho",    "sigma",
    "tau",   "upsilon", "phi",   "chi",   "psi",     "omega",   "the",    "a",      "is",
    "and",   "guide",   "part",  "index", "table",   "query",   "vector", "search", "notes"};

// Writes a GloVe text model (dim 8, deterministic values) with every word of kWords.
fs::path write_glove(const fs::path& folder, int seed = 1, size_t dim = 8) {
  std::string text;
  for (size_t w = 0; w < kWords.size(); ++w) {
    text += kWords[w];
    for (size_t j = 0; j < dim; ++j) {
      double v = static_cast<double>(((w + 3) * (j + seed) * 37) % 19) / 19.0 - 0.45;
      text += fmt::format(" {:.6f}", v);
    }
    text += "\n";
  }
  testing::write_file(folder / "vectors.txt", text);
  return folder;
}

std::string sentences(const std::string& lead, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += (i ? " " : "") + lead + " " + kWords[static_cast<size_t>(i) % 24] + " and " +
         kWords[static_cast<size_t>(i * 7) % 24] + " is the " +
         kWords[static_cast<size_t>(i * 5) % 24] + ".";
  }
  return s;
}

struct Fixture {
  testing::TempDir tmp;
  fs::path docs = tmp / "docs";
  std::shared_ptr<EmbeddingModel> model = load_static_model(write_glove(tmp / "model"));
  std::shared_ptr<LocalStore> store = std::make_shared<LocalStore>(tmp / "store");

  Fixture() {
    testing::write_file(docs / "a.md", "# Guide\n\n" + sentences("Alpha", 30) + "\n\n## Part\n\n" +
                                           sentences("Beta", 10) + "\n");
    testing::write_file(docs / "b.txt", sentences("Gamma", 5));
    testing::write_file(docs / "c.html", "<title>Index</title><nav>menu</nav><h1>Table</h1><p>" +
                                             sentences("Delta", 8) + "</p>");
    testing::write_file(docs / "sub" / "d.md", sentences("Epsilon", 3));
    testing::write_file(docs / ".hidden" / "e.md", "never read");
    testing::write_file(docs / "image.png", "\x89PNG\r\n");
    testing::write_file(docs / "bin.txt", std::string("zeta\0eta", 8));
    testing::write_file(docs / "latin1.txt", "caf\xE9");
  }

  IngestStats ingest(size_t chunk_tokens = 40, size_t batch = 4) {
    IngestOptions o;
    o.table = "docs";
    o.chunker.max_tokens = chunk_tokens;
    o.chunker.overlap_tokens = 8;
    o.embed_batch = batch;
    IngestPipeline p(model, store, o);
    return p.run({docs});
  }

  // Every stored chunk, by id.
  std::map<std::string, Hit> all_chunks() {
    std::map<std::string, Hit> out;
    size_t n = store->count("docs");
    if (n == 0) return out;
    std::vector<float> q(model->dim(), 0.0f);
    q[0] = 1;
    for (auto& h : store->search("docs", q, {.top_k = n, .exact = true})) out[h.id] = h;
    return out;
  }
};

std::string source_of(const fs::path& p) {
  return fs::weakly_canonical(p).string();
}

TEST(IngestPipeline, IngestsSupportedFilesAndReportsSkippedOnes) {
  Fixture f;
  IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_seen, 7u);  // .hidden/ is not visited
  EXPECT_EQ(s.n_files_ingested, 4u);
  EXPECT_EQ(s.n_files_unchanged, 0u);
  EXPECT_EQ(s.n_files_skipped, 3u);
  std::map<std::string, std::string> reasons;
  for (const auto& k : s.skipped) reasons[k.path.filename().string()] = k.reason;
  EXPECT_NE(reasons["image.png"].find("unsupported file type '.png'"), std::string::npos);
  EXPECT_NE(reasons["bin.txt"].find("NUL bytes"), std::string::npos);
  EXPECT_NE(reasons["latin1.txt"].find("invalid UTF-8"), std::string::npos);
  EXPECT_GT(s.n_chunks, 8u);
  EXPECT_EQ(f.store->count("docs"), s.n_chunks);
  EXPECT_GT(s.n_tokens, s.n_chunks);
  EXPECT_GE(s.total_s, s.embed_s);
  EXPECT_GE(s.total_s, s.store_s);  // the writer thread overlaps the rest

  auto chunks = f.all_chunks();
  ASSERT_EQ(chunks.size(), s.n_chunks);
  std::set<std::string> sources;
  for (const auto& [id, h] : chunks) {
    sources.insert(h.source);
    auto meta = nlohmann::json::parse(h.metadata_json);
    EXPECT_EQ(meta["source"], h.source);
    EXPECT_EQ(id, fmt::format("{}#{}", h.source, meta["chunk"].get<size_t>()));
    EXPECT_LE(meta["tokens"].get<size_t>(), 40u);
    EXPECT_EQ(h.text.find("menu"), std::string::npos) << "nav text stored";
    if (h.source == source_of(f.docs / "a.md") && h.text.find("Beta") != std::string::npos) {
      EXPECT_EQ(meta["heading"], "Guide > Part");
      EXPECT_EQ(h.text.rfind("Guide > Part\n", 0), 0u) << h.text;
    }
  }
  EXPECT_EQ(sources, (std::set<std::string>{source_of(f.docs / "a.md"), source_of(f.docs / "b.txt"),
                                            source_of(f.docs / "c.html"),
                                            source_of(f.docs / "sub" / "d.md")}));
  EXPECT_TRUE(f.store->source_hash("docs", source_of(f.docs / "b.txt"))->starts_with("sha256:"));
}

TEST(IngestPipeline, ReingestingUnchangedFilesAddsNothing) {
  Fixture f;
  IngestStats first = f.ingest();
  auto before = f.all_chunks();
  IngestStats again = f.ingest();
  EXPECT_EQ(again.n_files_ingested, 0u);
  EXPECT_EQ(again.n_files_unchanged, 4u);
  EXPECT_EQ(again.n_files_skipped, 3u);
  EXPECT_EQ(again.n_chunks, 0u);
  EXPECT_EQ(f.store->count("docs"), first.n_chunks);
  auto after = f.all_chunks();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [id, h] : before) EXPECT_EQ(after.at(id).text, h.text);
}

TEST(IngestPipeline, ChangedFileReplacesItsChunks) {
  Fixture f;
  f.ingest();
  testing::write_file(f.docs / "b.txt", "Omega is the new chi.");
  IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_ingested, 1u);
  EXPECT_EQ(s.n_files_unchanged, 3u);
  EXPECT_EQ(s.n_chunks, 1u);
  std::vector<std::string> b_texts;
  for (const auto& [id, h] : f.all_chunks()) {
    if (h.source == source_of(f.docs / "b.txt")) b_texts.push_back(h.text);
    EXPECT_EQ(h.text.find("Gamma"), std::string::npos) << "old chunk left: " << h.text;
  }
  EXPECT_EQ(b_texts, (std::vector<std::string>{"b\nOmega is the new chi."}));
}

TEST(IngestPipeline, EmptiedFileLosesItsChunksDeletedFileKeepsThem) {
  Fixture f;
  f.ingest();
  size_t with_d = 0;
  for (const auto& [id, h] : f.all_chunks())
    with_d += h.source == source_of(f.docs / "sub" / "d.md");
  ASSERT_GT(with_d, 0u);
  testing::write_file(f.docs / "b.txt", "  \n");
  fs::remove(f.docs / "sub" / "d.md");
  IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_ingested, 1u);  // b.txt, now without chunks
  EXPECT_EQ(s.n_files_seen, 6u);
  size_t b = 0;
  size_t d = 0;
  for (const auto& [id, h] : f.all_chunks()) {
    b += h.source == source_of(f.docs / "b.txt");
    d += h.source == source_of(f.docs / "sub" / "d.md");
  }
  EXPECT_EQ(b, 0u);
  EXPECT_EQ(d, with_d);  // documented: the pipeline only sees the files it is given
}

TEST(IngestPipeline, NewChunkingParametersReingestEverything) {
  Fixture f;
  f.ingest(40);
  IngestStats s = f.ingest(64);
  EXPECT_EQ(s.n_files_ingested, 4u);
  EXPECT_EQ(s.n_files_unchanged, 0u);
}

TEST(IngestPipeline, BatchSizeDoesNotChangeWhatIsStored) {
  Fixture one;
  Fixture many;
  one.ingest(40, 1);
  many.ingest(40, 1000);
  auto a = one.all_chunks();
  auto b = many.all_chunks();
  ASSERT_EQ(a.size(), b.size());
  auto rel = [&](const std::string& id, const Fixture& fx) {
    return id.substr(fs::weakly_canonical(fx.docs).string().size());
  };
  auto ia = a.begin();
  auto ib = b.begin();
  for (; ia != a.end(); ++ia, ++ib) {
    EXPECT_EQ(rel(ia->first, one), rel(ib->first, many));
    EXPECT_EQ(ia->second.text, ib->second.text);
  }
}

TEST(IngestPipeline, MissingPathFailsBeforeWriting) {
  Fixture f;
  IngestOptions o;
  o.table = "docs";
  IngestPipeline p(f.model, f.store, o);
  try {
    p.run({f.docs / "a.md", f.tmp / "nope"});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(f.store->collection("docs").has_value());
}

TEST(IngestPipeline, AnotherModelForTheSameTableIsAnError) {
  Fixture f;
  f.ingest();
  std::shared_ptr<EmbeddingModel> other = load_static_model(write_glove(f.tmp / "other", 2, 6));
  IngestOptions o;
  o.table = "docs";
  IngestPipeline p(other, f.store, o);
  EXPECT_THROW(p.run({f.docs}), InputError);
}

TEST(IngestPipeline, InvalidOptionsAreRejected) {
  Fixture f;
  IngestOptions o;
  EXPECT_THROW(IngestPipeline(f.model, f.store, o), ConfigError);  // no table
  o.table = "bad name;";
  EXPECT_THROW(IngestPipeline(f.model, f.store, o), InputError);
  o.table = "ok";
  o.embed_batch = 0;
  EXPECT_THROW(IngestPipeline(f.model, f.store, o), ConfigError);
  o.embed_batch = 8;
  o.chunker.max_tokens = 64;
  o.chunker.overlap_tokens = 40;
  EXPECT_THROW(IngestPipeline(f.model, f.store, o), ConfigError);
}

TEST(IngestPipeline, NullModelOrStoreIsAConfigError) {
  Fixture f;
  IngestOptions o;
  o.table = "docs";
  try {
    IngestPipeline(nullptr, f.store, o);
    FAIL() << "a null model was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("`model` is null"), std::string::npos) << e.what();
  }
  try {
    IngestPipeline(f.model, nullptr, o);
    FAIL() << "a null store was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("`store` is null"), std::string::npos) << e.what();
  }
}

TEST(IngestPipeline, ProgressSeesEveryFile) {
  struct Counting : IngestProgress {
    size_t total = 0;
    size_t files = 0;
    bool finished = false;
    void on_start(size_t n) override { total = n; }
    void on_file(const fs::path&, const IngestStats&) override { ++files; }
    void on_finish(const IngestStats&) override { finished = true; }
  } progress;
  Fixture f;
  IngestOptions o;
  o.table = "docs";
  IngestPipeline p(f.model, f.store, o);
  IngestStats s = p.run({f.docs}, &progress);
  EXPECT_EQ(progress.total, 7u);
  EXPECT_EQ(progress.files, 7u);
  EXPECT_TRUE(progress.finished);
  std::string line = format_summary(s);
  EXPECT_NE(line.find("ingested 4 of 7 files (0 unchanged, 3 skipped)"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(CollectFiles, SortedRecursiveWithoutHiddenOrDuplicates) {
  testing::TempDir tmp;
  testing::write_file(tmp / "b.md", "x");
  testing::write_file(tmp / "a" / "z.txt", "x");
  testing::write_file(tmp / "a" / ".git" / "config", "x");
  testing::write_file(tmp / ".env", "x");
  std::vector<fs::path> paths = {tmp.path(), tmp / "b.md"};
  auto files = collect_files(paths);
  EXPECT_EQ(files, (std::vector<fs::path>{tmp / "a" / "z.txt", tmp / "b.md"}));
}

// A symbolic link inside the folder that leads outside it is skipped with the reason (it used to
// be read: a link to /etc/passwd was stored and served); one that stays inside is read, and
// --follow-symlinks reads the outside one too. A file named directly is always read.
TEST(IngestPipeline, SymlinksThatLeaveTheFolderAreSkippedUnlessFollowed) {
  Fixture f;
  testing::write_file(f.tmp / "outside" / "secret.txt", sentences("Omega", 3));
  fs::create_symlink(f.tmp / "outside" / "secret.txt", f.docs / "leak.txt");
  fs::create_symlink(f.docs / "b.txt", f.docs / "sub" / "alias.txt");  // inside: fine
  IngestStats s = f.ingest();
  std::map<std::string, std::string> reasons;
  for (const auto& k : s.skipped) reasons[k.path.filename().string()] = k.reason;
  ASSERT_TRUE(reasons.count("leak.txt"));
  EXPECT_NE(reasons["leak.txt"].find("outside the folders given"), std::string::npos)
      << reasons["leak.txt"];
  EXPECT_NE(reasons["leak.txt"].find("--follow-symlinks"), std::string::npos);
  EXPECT_FALSE(reasons.count("alias.txt"));
  EXPECT_FALSE(f.store->source_hash("docs", source_of(f.tmp / "outside" / "secret.txt")));

  IngestOptions o;
  o.table = "docs";
  o.follow_symlinks = true;
  IngestStats followed = IngestPipeline(f.model, f.store, o).run({f.docs});
  for (const auto& k : followed.skipped) EXPECT_NE(k.path.filename(), "leak.txt") << k.reason;
  // Stored under the link's name, not its target's.
  EXPECT_TRUE(f.store->source_hash("docs", source_of(f.docs) + "/leak.txt"));
  EXPECT_FALSE(f.store->source_hash("docs", source_of(f.tmp / "outside" / "secret.txt")));

  // Named directly (not found in a folder): read without the option.
  IngestOptions direct;
  direct.table = "direct";
  IngestStats named = IngestPipeline(f.model, f.store, direct).run({f.docs / "leak.txt"});
  EXPECT_EQ(named.n_files_ingested, 1u);
  EXPECT_TRUE(f.store->source_hash("direct", source_of(f.docs) + "/leak.txt"));
}

// A file over max_file_bytes is skipped with the reason (it used to be read whole: 200 MB took
// 1.8 GB); one ingested before keeps its chunks when it grows over the limit.
TEST(IngestPipeline, FilesOverTheSizeLimitAreSkippedAndKeepTheirChunks) {
  Fixture f;
  ASSERT_EQ(f.ingest().n_files_ingested, 4u);
  const auto before = f.store->source_hash("docs", source_of(f.docs / "b.txt"));
  ASSERT_TRUE(before);
  testing::write_file(f.docs / "b.txt", sentences("Gamma", 400));  // over 4 KB now
  IngestOptions o;
  o.table = "docs";
  o.prune = true;
  o.max_file_bytes = 4096;
  IngestStats s = IngestPipeline(f.model, f.store, o).run({f.docs});
  std::map<std::string, std::string> reasons;
  for (const auto& k : s.skipped) reasons[k.path.filename().string()] = k.reason;
  ASSERT_TRUE(reasons.count("b.txt"));
  EXPECT_NE(reasons["b.txt"].find("over the per-file limit of 4096 bytes"), std::string::npos)
      << reasons["b.txt"];
  EXPECT_EQ(f.store->source_hash("docs", source_of(f.docs / "b.txt")), before);  // not pruned
  o.max_file_bytes = 0;
  EXPECT_THROW(IngestPipeline(f.model, f.store, o), ConfigError);
}

// The limit holds for what is read, not only for the size the file states: a file that grows
// while it is read, or a kernel file that states 0 bytes (here /proc/self/status, about 1.4 KB,
// through a link named directly), is skipped once the read passes the limit (it used to be read
// whole).
TEST(IngestPipeline, SizeLimitHoldsForFilesLongerThanTheyState) {
  Fixture f;
  fs::create_symlink("/proc/self/status", f.tmp / "status.txt");
  IngestOptions o;
  o.table = "docs";
  o.max_file_bytes = 256;
  IngestStats s = IngestPipeline(f.model, f.store, o).run({f.tmp / "status.txt"});
  EXPECT_EQ(s.n_files_ingested, 0u);
  ASSERT_EQ(s.skipped.size(), 1u);
  EXPECT_NE(s.skipped[0].reason.find("over the per-file limit of 256 bytes"), std::string::npos)
      << s.skipped[0].reason;
}

// A FIFO with a text file's name is refused at once, never waited on.
TEST(IngestPipeline, FifoIsSkippedWithoutBlocking) {
  Fixture f;
  ASSERT_EQ(::mkfifo((f.docs / "pipe.txt").c_str(), 0600), 0);
  IngestStats s = f.ingest();
  std::map<std::string, std::string> reasons;
  for (const auto& k : s.skipped) reasons[k.path.filename().string()] = k.reason;
  EXPECT_EQ(reasons["pipe.txt"], "not a regular file");
  EXPECT_EQ(s.n_files_ingested, 4u);
}

}  // namespace
}  // namespace ragperf
