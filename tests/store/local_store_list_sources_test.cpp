// LocalStore::list_sources(): every distinct non-empty source of a collection, sorted, including
// sources whose replacement left no chunks; empty for an unknown collection.
#include "ragperf/local_store.h"

#include <gtest/gtest.h>

#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using Sources = std::vector<std::string>;

std::vector<Chunk> chunks(const std::string& prefix, size_t n, const std::string& source = "") {
  std::vector<Chunk> out;
  for (size_t i = 0; i < n; ++i) {
    Chunk c;
    c.id = prefix + std::to_string(i);
    c.text = "text " + c.id;
    c.content_hash = "h" + c.id;
    c.source = source;
    c.embedding = {1.0f + static_cast<float>(i), 0.5f, -0.25f};
    out.push_back(std::move(c));
  }
  return out;
}

TEST(LocalStoreListSources, ListsEachSourceOnceSorted) {
  testing::TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("docs", 3, Metric::kCosine, "m");
  EXPECT_EQ(store.list_sources("docs"), Sources{});
  store.replace_source("docs", "/z/b.md", "hb", chunks("b", 3));
  store.replace_source("docs", "/a/a.md", "ha", chunks("a", 2));
  store.replace_source("docs", "/m/empty.md", "he", {});  // a file that yields no chunks
  store.add("docs", chunks("x", 2, "/y/added.txt"));      // chunks with a source, no hash
  store.add("docs", chunks("n", 2));                      // no source: not listed
  EXPECT_EQ(store.list_sources("docs"),
            (Sources{"/a/a.md", "/m/empty.md", "/y/added.txt", "/z/b.md"}));

  EXPECT_EQ(store.remove_source("docs", "/z/b.md"), 3u);
  EXPECT_EQ(store.remove_source("docs", "/m/empty.md"), 0u);
  EXPECT_EQ(store.list_sources("docs"), (Sources{"/a/a.md", "/y/added.txt"}));
}

TEST(LocalStoreListSources, CollectionsAreSeparate) {
  testing::TempDir tmp;
  LocalStore store(tmp.path());
  store.ensure_collection("one", 3, Metric::kCosine, "m");
  store.ensure_collection("two", 3, Metric::kCosine, "m");
  store.replace_source("one", "/docs/a.md", "h", chunks("a", 1));
  store.replace_source("two", "/docs/b.md", "h", chunks("b", 1));
  EXPECT_EQ(store.list_sources("one"), Sources{"/docs/a.md"});
  EXPECT_EQ(store.list_sources("two"), Sources{"/docs/b.md"});
  store.drop("one");
  EXPECT_EQ(store.list_sources("one"), Sources{});
  EXPECT_EQ(store.list_sources("two"), Sources{"/docs/b.md"});
}

TEST(LocalStoreListSources, UnknownCollectionIsEmptyAndBadNamesAreRejected) {
  testing::TempDir tmp;
  LocalStore store(tmp.path());
  EXPECT_EQ(store.list_sources("missing"), Sources{});
  for (const std::string bad : {"", "1a", "x; DROP TABLE chunks", "a-b"}) {
    try {
      store.list_sources(bad);
      ADD_FAILURE() << "expected InputError for '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("is not a valid identifier"), std::string::npos)
          << e.what();
    }
  }
}

TEST(LocalStoreListSources, SeesWritesOfAnotherInstance) {
  testing::TempDir tmp;
  LocalStore reader(tmp.path());
  LocalStore writer(tmp.path());
  writer.ensure_collection("docs", 3, Metric::kCosine, "m");
  writer.replace_source("docs", "/d/a.md", "h", chunks("a", 2));
  EXPECT_EQ(reader.list_sources("docs"), Sources{"/d/a.md"});
  writer.remove_source("docs", "/d/a.md");
  EXPECT_EQ(reader.list_sources("docs"), Sources{});
}

}  // namespace
}  // namespace ragperf
