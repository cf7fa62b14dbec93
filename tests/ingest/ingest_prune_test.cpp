// IngestPipeline pruning (IngestOptions::prune) against the real LocalStore and a tiny generated
// GloVe model: vanished files lose their chunks, everything else keeps them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/local_store.h"
#include "ragperf/semantic_cache.h"
#include "ragperf/static_model.h"
#include "testing/forwarding_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;
using Sources = std::vector<std::string>;

const std::vector<std::string> kWords = {"alpha", "beta",  "gamma", "delta", "epsilon", "zeta",
                                         "eta",   "theta", "the",   "is",    "and",     "notes"};

fs::path write_glove(const fs::path& folder) {
  std::string text;
  for (size_t w = 0; w < kWords.size(); ++w) {
    text += kWords[w];
    for (size_t j = 0; j < 6; ++j) {
      text +=
          fmt::format(" {:.4f}", static_cast<double>(((w + 3) * (j + 1) * 37) % 19) / 19.0 - 0.45);
    }
    text += "\n";
  }
  testing::write_file(folder / "vectors.txt", text);
  return folder;
}

std::string sentences(const std::string& lead, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += (i ? " " : "") + lead + " " + kWords[static_cast<size_t>(i) % 8] + " and the " +
         kWords[static_cast<size_t>(i * 5) % 8] + ".";
  }
  return s;
}

std::string source_of(const fs::path& p) {
  return fs::weakly_canonical(p).string();
}

// Delegates to a real store; replace_source() of `failing` throws after committing, and
// list_sources() is the VectorStore default (throws) unless `can_list`.
class TestStore : public testing::ForwardingStore {
 public:
  TestStore(VectorStore& real, std::string failing, bool can_list)
      : ForwardingStore(real), failing_(std::move(failing)), can_list_(can_list) {}
  void replace_source(const std::string& c, const std::string& s, const std::string& hash,
                      std::span<const Chunk> chunks) override {
    real_.replace_source(c, s, hash, chunks);
    if (s == failing_) throw ConnectionError("connection lost while writing " + s + " (test)");
  }
  std::vector<std::string> list_sources(const std::string& c) override {
    return can_list_ ? real_.list_sources(c) : VectorStore::list_sources(c);
  }
  std::string describe() const override { return "test store over " + real_.describe(); }

 private:
  std::string failing_;
  bool can_list_;
};

struct Fixture {
  testing::TempDir tmp;
  fs::path docs = tmp / "docs";
  std::shared_ptr<EmbeddingModel> model = load_static_model(write_glove(tmp / "model"));
  std::shared_ptr<LocalStore> store = std::make_shared<LocalStore>(tmp / "store");
  SemanticCache* cache = nullptr;

  Fixture() {
    testing::write_file(docs / "a.md", "# Alpha\n\n" + sentences("Alpha", 12) + "\n");
    testing::write_file(docs / "b.txt", sentences("Beta", 6));
    testing::write_file(docs / "c.html",
                        "<title>Notes</title><p>" + sentences("Gamma", 6) + "</p>");
    testing::write_file(docs / "sub" / "d.md", sentences("Delta", 4));
  }

  IngestStats ingest(std::vector<fs::path> roots, bool prune = true,
                     std::shared_ptr<VectorStore> into = nullptr) {
    IngestOptions o;
    o.table = "docs";
    o.chunker.max_tokens = 24;
    o.chunker.overlap_tokens = 4;
    o.embed_batch = 4;
    o.prune = prune;
    o.cache = cache;
    if (!into) into = store;
    IngestPipeline p(model, std::move(into), o);
    return p.run(roots);
  }
  IngestStats ingest() { return ingest({docs}); }

  // Chunk ids by source.
  std::map<std::string, std::set<std::string>> chunks() {
    std::map<std::string, std::set<std::string>> out;
    const size_t n = store->count("docs");
    if (n == 0) return out;
    std::vector<float> q(model->dim(), 0.0f);
    q[0] = 1;
    for (const Hit& h : store->search("docs", q, {.top_k = n, .exact = true})) {
      out[h.source].insert(h.id);
    }
    return out;
  }
  Sources sources() { return store->list_sources("docs"); }
};

TEST(IngestPrune, DeletedFileLosesItsChunksOthersAreUntouched) {
  Fixture f;
  const IngestStats first = f.ingest();
  EXPECT_TRUE(first.prune_ran);
  EXPECT_EQ(first.n_sources_pruned, 0u);
  EXPECT_EQ(first.n_chunks_pruned, 0u);
  auto before = f.chunks();
  ASSERT_EQ(before.size(), 4u);
  const std::string b = source_of(f.docs / "b.txt");
  ASSERT_GT(before[b].size(), 0u);

  fs::remove(f.docs / "b.txt");
  const IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_seen, 3u);
  EXPECT_EQ(s.n_files_unchanged, 3u);
  EXPECT_EQ(s.n_files_ingested, 0u);
  EXPECT_EQ(s.n_sources_pruned, 1u);
  EXPECT_EQ(s.n_chunks_pruned, before[b].size());
  EXPECT_EQ(s.pruned, Sources{b});
  auto after = f.chunks();
  EXPECT_EQ(after.count(b), 0u);
  before.erase(b);
  EXPECT_EQ(after, before);  // the other files keep exactly their chunks
  EXPECT_FALSE(f.store->source_hash("docs", b).has_value());
  EXPECT_EQ(f.store->count("docs"), first.n_chunks - s.n_chunks_pruned);

  const std::string line = format_summary(s);
  EXPECT_NE(line.find("ingested 0 of 3 files (3 unchanged, 0 skipped)"), std::string::npos);
  EXPECT_NE(line.find(fmt::format("; pruned 1 file ({} chunk", s.n_chunks_pruned)),
            std::string::npos)
      << line;

  // Nothing left to prune: the next run removes nothing.
  const IngestStats again = f.ingest();
  EXPECT_EQ(again.n_sources_pruned, 0u);
  EXPECT_NE(format_summary(again).find("; pruned 0 files (0 chunks)"), std::string::npos);
}

TEST(IngestPrune, RenamedFileMovesToItsNewName) {
  Fixture f;
  f.ingest();
  const size_t n_a = f.chunks()[source_of(f.docs / "a.md")].size();
  fs::rename(f.docs / "a.md", f.docs / "sub" / "renamed.md");
  const IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_ingested, 1u);
  EXPECT_EQ(s.pruned, Sources{source_of(f.docs / "a.md")});
  EXPECT_EQ(s.n_chunks_pruned, n_a);
  auto after = f.chunks();
  EXPECT_EQ(after.count(source_of(f.docs / "a.md")), 0u);
  EXPECT_EQ(after[source_of(f.docs / "sub" / "renamed.md")].size(), n_a);
  EXPECT_EQ(f.sources().size(), 4u);
}

TEST(IngestPrune, OnlyTheGivenRootsArePruned) {
  Fixture f;
  // "docs2" shares a name prefix with "docs": it is not inside it.
  const fs::path other = f.tmp / "docs2";
  testing::write_file(other / "x.md", sentences("Epsilon", 4));
  testing::write_file(other / "y.txt", sentences("Zeta", 4));
  f.ingest({f.docs});
  f.ingest({other});
  ASSERT_EQ(f.sources().size(), 6u);
  fs::remove(other / "x.md");
  fs::remove(f.docs / "c.html");

  const IngestStats s = f.ingest({f.docs});
  EXPECT_EQ(s.pruned, Sources{source_of(f.docs / "c.html")});
  EXPECT_EQ(f.chunks().count(source_of(other / "x.md")), 1u) << "docs2 was not given: untouched";

  const IngestStats s2 = f.ingest({other});
  EXPECT_EQ(s2.pruned, Sources{source_of(other / "x.md")});
  EXPECT_EQ(f.sources().size(), 4u);

  // Both roots in one run: each prunes its own.
  fs::remove(f.docs / "b.txt");
  fs::remove(other / "y.txt");
  const IngestStats both = f.ingest({f.docs, other});
  EXPECT_EQ(both.pruned, (Sources{source_of(f.docs / "b.txt"), source_of(other / "y.txt")}));
}

TEST(IngestPrune, NoPruneKeepsVanishedFiles) {
  Fixture f;
  f.ingest({f.docs}, /*prune=*/false);
  fs::remove(f.docs / "b.txt");
  fs::remove_all(f.docs / "sub");
  const IngestStats s = f.ingest({f.docs}, /*prune=*/false);
  EXPECT_FALSE(s.prune_ran);
  EXPECT_EQ(s.n_sources_pruned, 0u);
  EXPECT_EQ(f.sources().size(), 4u);
  EXPECT_EQ(format_summary(s).find("pruned"), std::string::npos) << format_summary(s);
  // Turning it on later removes both.
  const IngestStats on = f.ingest({f.docs});
  EXPECT_EQ(on.pruned, (Sources{source_of(f.docs / "b.txt"), source_of(f.docs / "sub" / "d.md")}));
}

TEST(IngestPrune, FailedRunDoesNotPrune) {
  Fixture f;
  f.ingest();
  fs::remove(f.docs / "b.txt");
  testing::write_file(f.docs / "a.md", "# Alpha\n\n" + sentences("Eta", 5) + "\n");
  auto flaky = std::make_shared<TestStore>(*f.store, source_of(f.docs / "a.md"), /*can_list=*/true);
  EXPECT_THROW(f.ingest({f.docs}, true, flaky), ConnectionError);
  EXPECT_EQ(f.sources().size(), 4u) << "b.txt must survive a failed run";
  EXPECT_EQ(f.chunks().count(source_of(f.docs / "b.txt")), 1u);
  // A run that finishes prunes it.
  EXPECT_EQ(f.ingest().pruned, Sources{source_of(f.docs / "b.txt")});
}

TEST(IngestPrune, MissingRootFailsBeforeAnythingIsPruned) {
  Fixture f;
  f.ingest();
  fs::remove(f.docs / "b.txt");
  EXPECT_THROW(f.ingest({f.docs, f.tmp / "no_such_folder"}), InputError);
  EXPECT_EQ(f.sources().size(), 4u);
}

TEST(IngestPrune, FileRootPrunesOnlyThatFile) {
  Fixture f;
  f.ingest();
  fs::remove(f.docs / "a.md");
  // A file root covers that file alone: a.md (deleted, same folder) is not touched.
  const IngestStats s = f.ingest({f.docs / "b.txt"});
  EXPECT_TRUE(s.prune_ran);
  EXPECT_EQ(s.n_files_seen, 1u);
  EXPECT_EQ(s.n_sources_pruned, 0u);
  EXPECT_EQ(f.sources().size(), 4u);
  // A file root that is now binary is skipped for an error and keeps its chunks.
  testing::write_file(f.docs / "b.txt", std::string("beta\0eta", 8));
  const IngestStats bin = f.ingest({f.docs / "b.txt"});
  EXPECT_EQ(bin.n_files_skipped, 1u);
  EXPECT_EQ(bin.n_sources_pruned, 0u);
  EXPECT_EQ(f.chunks().count(source_of(f.docs / "b.txt")), 1u);
  // The folder as root: a.md goes, b.txt (binary, still there) stays.
  EXPECT_EQ(f.ingest().pruned, Sources{source_of(f.docs / "a.md")});
  EXPECT_EQ(f.chunks().count(source_of(f.docs / "b.txt")), 1u);
}

TEST(IngestPrune, FilesSkippedForErrorsKeepTheirChunks) {
  Fixture f;
  f.ingest();
  testing::write_file(f.docs / "b.txt", std::string("beta\0eta", 8));  // binary now
  testing::write_file(f.docs / "c.html", "<p>caf\xE9</p>");            // invalid UTF-8 now
  const IngestStats s = f.ingest();
  EXPECT_EQ(s.n_files_skipped, 2u);
  EXPECT_EQ(s.n_sources_pruned, 0u);
  auto after = f.chunks();
  EXPECT_EQ(after.count(source_of(f.docs / "b.txt")), 1u);
  EXPECT_EQ(after.count(source_of(f.docs / "c.html")), 1u);
}

TEST(IngestPrune, FilesNoLongerIngestibleArePruned) {
  Fixture f;
  // A hidden file ingested as a file root; the folder walk skips hidden names.
  testing::write_file(f.docs / ".drafts" / "h.md", sentences("Theta", 3));
  f.ingest();
  f.ingest({f.docs / ".drafts" / "h.md"});
  ASSERT_EQ(f.sources().size(), 5u);
  // Chunks another tool stored for a file the pipeline does not read (.pdf), and for a path
  // that is now a folder.
  testing::write_file(f.docs / "manual.pdf", "%PDF-1.4");
  Chunk c;
  c.id = "pdf#0";
  c.text = "alpha";
  c.content_hash = "h";
  c.embedding = std::vector<float>(f.model->dim(), 0.5f);
  c.source = source_of(f.docs / "manual.pdf");
  f.store->add("docs", std::vector<Chunk>{c});
  fs::remove(f.docs / "b.txt");
  fs::create_directories(f.docs / "b.txt");
  // A file outside the root with the same kind of leftovers is not touched.
  testing::write_file(f.tmp / "elsewhere.pdf", "%PDF-1.4");
  c.id = "pdf#1";
  c.source = source_of(f.tmp / "elsewhere.pdf");
  f.store->add("docs", std::vector<Chunk>{c});

  const IngestStats s = f.ingest();
  EXPECT_EQ(s.pruned, (Sources{source_of(f.docs / ".drafts" / "h.md"), source_of(f.docs / "b.txt"),
                               source_of(f.docs / "manual.pdf")}));
  const Sources left = f.sources();
  EXPECT_NE(std::find(left.begin(), left.end(), source_of(f.tmp / "elsewhere.pdf")), left.end());
  EXPECT_EQ(left.size(), 4u);
}

TEST(IngestPrune, SymlinkedAndRelativeRootsMatchCanonicalSources) {
  Fixture f;
  f.ingest();
  // The same folder through a symlink.
  fs::create_directory_symlink(f.docs, f.tmp / "link");
  fs::remove(f.docs / "b.txt");
  const IngestStats s = f.ingest({f.tmp / "link"});
  EXPECT_EQ(s.n_files_unchanged, 3u);
  EXPECT_EQ(s.pruned, Sources{source_of(f.docs / "b.txt")});

  // A relative root, with a trailing slash.
  const fs::path cwd = fs::current_path();
  fs::current_path(f.tmp.path());
  fs::remove(f.docs / "c.html");
  IngestStats rel;
  try {
    rel = f.ingest({fs::path("docs/")});
  } catch (...) {
    fs::current_path(cwd);
    throw;
  }
  fs::current_path(cwd);
  EXPECT_EQ(rel.n_files_unchanged, 2u);
  EXPECT_EQ(rel.pruned, Sources{source_of(f.docs / "c.html")});

  // A file linked into the folder from outside it is skipped by default. With follow_symlinks
  // it is stored under the link's name (inside the root), so removing the link prunes it.
  testing::write_file(f.tmp / "outside" / "ext.md", sentences("Zeta", 3));
  fs::create_symlink(f.tmp / "outside" / "ext.md", f.docs / "ext.md");
  f.ingest();
  const std::string target = source_of(f.tmp / "outside" / "ext.md");
  const std::string link = source_of(f.docs) + "/ext.md";
  EXPECT_EQ(f.chunks().count(target), 0u);
  EXPECT_EQ(f.chunks().count(link), 0u);
  IngestOptions follow;
  follow.table = "docs";
  follow.chunker.max_tokens = 24;
  follow.chunker.overlap_tokens = 4;
  follow.prune = true;
  follow.follow_symlinks = true;
  IngestPipeline(f.model, f.store, follow).run({f.docs});
  EXPECT_EQ(f.chunks().count(target), 0u);
  EXPECT_EQ(f.chunks().count(link), 1u);
  fs::remove(f.docs / "ext.md");
  EXPECT_EQ(f.ingest().pruned, Sources{link});
  EXPECT_EQ(f.chunks().count(link), 0u);
}

// A link followed once (follow_symlinks) and refused by a later run without the option loses its
// chunks: the table holds nothing from outside the folders the default run reads.
TEST(IngestPrune, LinkRefusedByALaterRunIsPruned) {
  Fixture f;
  testing::write_file(f.tmp / "outside" / "secret.txt", sentences("Omega", 3));
  fs::create_symlink(f.tmp / "outside" / "secret.txt", f.docs / "sub" / "leak.txt");
  IngestOptions follow;
  follow.table = "docs";
  follow.chunker.max_tokens = 24;
  follow.chunker.overlap_tokens = 4;
  follow.prune = true;
  follow.follow_symlinks = true;
  IngestPipeline(f.model, f.store, follow).run({f.docs});
  const std::string link = source_of(f.docs / "sub") + "/leak.txt";
  ASSERT_EQ(f.chunks().count(link), 1u);
  const IngestStats s = f.ingest();
  EXPECT_EQ(s.pruned, Sources{link});
  EXPECT_EQ(f.chunks().count(link), 0u);
  EXPECT_EQ(f.chunks().size(), 4u);  // a.md, b.txt, c.html, sub/d.md
}

// A link inside the folder to a file inside it is stored under the link's name too; removing
// the link prunes its chunks and leaves the target's.
TEST(IngestPrune, LinkInsideTheFolderIsPrunedWhenItGoes) {
  Fixture f;
  fs::create_symlink(f.docs / "b.txt", f.docs / "sub" / "alias.txt");
  f.ingest();
  const std::string alias = source_of(f.docs / "sub") + "/alias.txt";
  ASSERT_EQ(f.chunks().count(alias), 1u);
  ASSERT_EQ(f.chunks().count(source_of(f.docs / "b.txt")), 1u);
  fs::remove(f.docs / "sub" / "alias.txt");
  EXPECT_EQ(f.ingest().pruned, Sources{alias});
  EXPECT_EQ(f.chunks().count(source_of(f.docs / "b.txt")), 1u);
}

TEST(IngestPrune, PruningInvalidatesTheCache) {
  Fixture f;
  SemanticCache cache{{.capacity = 10, .ttl = std::chrono::hours(1)}};
  f.cache = &cache;
  f.ingest();
  const CacheScope scope{
      .tables = {"docs"}, .top_k = 4, .model_id = f.model->id(), .metric = "cosine"};
  cache.store(scope, "what is alpha", {}, "old answer");
  // Nothing written and nothing pruned: the answer stays.
  EXPECT_EQ(f.ingest().n_cache_invalidated, 0u);
  EXPECT_TRUE(cache.lookup_exact(scope, "what is alpha").has_value());
  // A pruned file: the answer may cite it, so it goes.
  fs::remove(f.docs / "b.txt");
  const IngestStats s = f.ingest();
  EXPECT_EQ(s.n_sources_pruned, 1u);
  EXPECT_EQ(s.n_cache_invalidated, 1u);
  EXPECT_FALSE(cache.lookup_exact(scope, "what is alpha").has_value());
}

TEST(IngestPrune, StoreThatCannotListSourcesFailsClearly) {
  Fixture f;
  auto plain = std::make_shared<TestStore>(*f.store, "", /*can_list=*/false);
  try {
    f.ingest({f.docs}, true, plain);
    FAIL() << "expected UnavailableError";
  } catch (const UnavailableError& e) {
    EXPECT_NE(std::string(e.what()).find("--no-prune"), std::string::npos) << e.what();
  }
  const IngestStats s = f.ingest({f.docs}, /*prune=*/false, plain);
  EXPECT_EQ(s.n_files_unchanged, 4u);  // the failed run wrote every file before pruning
}

}  // namespace
}  // namespace ragperf
