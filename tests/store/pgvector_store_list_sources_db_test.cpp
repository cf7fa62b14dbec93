// PgVectorStore::list_sources() against a real PostgreSQL (DATABASE_URL): distinct non-empty
// sources, sorted in byte order, for owned and adopted tables; empty for an unknown table.
#include "ragperf/pgvector_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>

#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using Sources = std::vector<std::string>;

// ctest runs each case as its own process against one database: names must not collide.
std::string unique_name(const std::string& base) {
  static std::atomic<int> counter{0};
  return base + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

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

class PgListSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::database_url();
    if (url.empty()) {
      GTEST_FAIL() << "DATABASE_URL is not set: start a server with scripts/pg_start.sh DIR and "
                      "export DATABASE_URL, or run scripts/test.sh";
    }
    PoolConfig cfg = PoolConfig::from_url(url);
    cfg.min_size = 1;
    cfg.max_size = 2;
    pool_ = std::make_shared<DatabaseConnectionPool>(cfg);
    store_ = std::make_unique<PgVectorStore>(pool_);
  }
  void TearDown() override {
    if (store_) {
      for (const auto& t : tables_) store_->drop(t);
      for (const auto& t : raw_tables_) pool_->run(pool_->execute("DROP TABLE IF EXISTS " + t));
    }
    store_.reset();
    if (pool_) pool_->close();
  }
  std::string table(const std::string& base) {
    tables_.push_back(unique_name(base));
    return tables_.back();
  }

  std::shared_ptr<DatabaseConnectionPool> pool_;
  std::unique_ptr<PgVectorStore> store_;
  std::vector<std::string> tables_;
  std::vector<std::string> raw_tables_;
};

TEST_F(PgListSourcesTest, ListsEachSourceOnceSorted) {
  const std::string t = table("ls_docs");
  store_->ensure_collection(t, 3, Metric::kCosine, "m");
  EXPECT_EQ(store_->list_sources(t), Sources{});
  store_->replace_source(t, "/z/b.md", "hb", chunks("b", 3));
  store_->replace_source(t, "/a/a.md", "ha", chunks("a", 2));
  store_->replace_source(t, "/m/empty.md", "he", {});  // a file that yields no chunks
  store_->add(t, chunks("x", 2, "/y/added.txt"));      // chunks with a source, no hash
  store_->add(t, chunks("n", 2));                      // no source: not listed
  store_->replace_source(t, "/B/upper.md", "hu", chunks("u", 1));
  // Byte order ('B' < 'a'), whatever the database collation says.
  EXPECT_EQ(store_->list_sources(t),
            (Sources{"/B/upper.md", "/a/a.md", "/m/empty.md", "/y/added.txt", "/z/b.md"}));
  EXPECT_EQ(store_->remove_source(t, "/z/b.md"), 3u);
  EXPECT_EQ(store_->remove_source(t, "/m/empty.md"), 0u);
  EXPECT_EQ(store_->list_sources(t), (Sources{"/B/upper.md", "/a/a.md", "/y/added.txt"}));
}

TEST_F(PgListSourcesTest, TablesAreSeparateAndUnknownIsEmpty) {
  const std::string one = table("ls_one");
  const std::string two = table("ls_two");
  store_->ensure_collection(one, 3, Metric::kCosine, "m");
  store_->ensure_collection(two, 3, Metric::kCosine, "m");
  store_->replace_source(one, "/docs/a.md", "h", chunks("a", 1));
  store_->replace_source(two, "/docs/b.md", "h", chunks("b", 1));
  EXPECT_EQ(store_->list_sources(one), Sources{"/docs/a.md"});
  EXPECT_EQ(store_->list_sources(two), Sources{"/docs/b.md"});
  store_->drop(one);
  EXPECT_EQ(store_->list_sources(one), Sources{});
  EXPECT_EQ(store_->list_sources(two), Sources{"/docs/b.md"});
  EXPECT_EQ(store_->list_sources(unique_name("ls_missing")), Sources{});
  for (const std::string bad : {"", "1a", "x; DROP TABLE ragperf_sources", "\"q\""}) {
    EXPECT_THROW(store_->list_sources(bad), InputError) << bad;
  }
}

TEST_F(PgListSourcesTest, AdoptedTablesUseTheirSourceColumn) {
  const std::string t = unique_name("ls_legacy");
  raw_tables_.push_back(t);
  pool_->run(pool_->execute("CREATE TABLE " + t +
                            " (doc_id bigint PRIMARY KEY, body text, src text, vec vector(3))"));
  pool_->run(pool_->execute("INSERT INTO " + t +
                            " VALUES (1, 'one', '/l/x.md', '[1,0,0]'), (2, 'two', '/l/x.md', "
                            "'[0,1,0]'), (3, 'three', NULL, '[0,0,1]'), (4, 'four', '', "
                            "'[1,1,0]'), (5, 'five', '/l/a.md', '[0,1,1]')"));
  PgColumns cols;
  cols.id = "doc_id";
  cols.text = "body";
  cols.embedding = "vec";
  cols.source = "src";
  cols.metadata = cols.content_hash = "";
  store_->adopt(t, 3, Metric::kCosine, "m", cols);
  EXPECT_EQ(store_->list_sources(t), (Sources{"/l/a.md", "/l/x.md"}));  // NULL and '' left out

  // Without a source column only the recorded hashes (none here) are listed.
  cols.source = "";
  store_->adopt(t, 3, Metric::kCosine, "m", cols);
  EXPECT_EQ(store_->list_sources(t), Sources{});
  store_->drop(t);  // unregisters; the table itself is not ragperf's and stays
}

}  // namespace
}  // namespace ragperf
