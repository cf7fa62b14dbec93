// ragperf/pgvector_store.h defines `PgVectorStore`, the `VectorStore` on PostgreSQL + pgvector,
// built on DatabaseConnectionPool (ragperf/db_pool.h).
//
//   auto pool = std::make_shared<ragperf::DatabaseConnectionPool>(
//       ragperf::PoolConfig::from_settings(settings));
//   pool->initialize();
//   ragperf::PgVectorStore store(pool);
//   store.ensure_collection("docs", 384, ragperf::Metric::kCosine, model->id());
//   store.add("docs", chunks);                         // binary COPY, upsert by id
//   auto hits = store.search("docs", query, {.top_k = 4, .ef_search = 200});
//   auto results = store.search_batch("docs", queries, {.top_k = 4});  // one round trip
//   // In a coroutine (any executor): co_await store.async_search("docs", query, opts);
//
// Layout: one table per collection,
//   "<name>"(id text PRIMARY KEY, text text, metadata jsonb, content_hash text, source text,
//            embedding vector(D))
// with an HNSW index using the metric's operator class (vector_cosine_ops, vector_ip_ops,
// vector_l2_ops) and an index on source. `ragperf_collections` records each collection's
// dimension, metric, model id and column names; `ragperf_sources` the content hash per source
// file (idempotent ingest). Writes go through a temporary table filled by binary COPY and an
// upsert, inside one transaction. Searches run `SET LOCAL hnsw.ef_search` in their own
// transaction (search_batch(): one transaction and one round trip for the whole batch) and ORDER
// BY the distance alone, so the planner can use the HNSW index (ties are
// broken by id in C++, among the rows returned); `exact` disables index scans and orders by
// distance then id, so the ranking is a full sort. The registry tables are created safely when
// several processes open stores at once (advisory lock; a creation race is retried).
//
// Existing tables: adopt() registers a table ragperf did not create, with its own column names
// (validated identifiers; metadata, content_hash and source may be absent). Adopted tables are
// never dropped by drop(), which only forgets them.
//
// A table dropped outside ragperf (DROP TABLE by hand) while its registration stays: the next
// ensure_collection() (every ingest) creates a table ragperf made afresh, forgetting its old
// sources, and refuses an adopted one with an InputError saying what to do; a search of it fails
// with an InputError naming the table and the remedy, never the raw "relation does not exist".
//
// Thread-safety: every method may be called from any thread except the pool's own; the blocking
// methods run their work on the pool (pool.run) and many may run at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ragperf/db_pool.h"
#include "ragperf/vector_store.h"

namespace ragperf {

/// Column names of a collection's table. Empty metadata / content_hash / source: absent.
struct PgColumns {
  std::string id = "id";
  std::string text = "text";
  std::string metadata = "metadata";
  std::string content_hash = "content_hash";
  std::string source = "source";
  std::string embedding = "embedding";
};

struct PgVectorStoreOptions {
  int hnsw_m = 16;                // HNSW graph degree of created indexes
  int hnsw_ef_construction = 64;  // build-time candidate list of created indexes
  int ef_search = 100;  // hnsw.ef_search when SearchOptions::ef_search is 0 (server default: 40)
  /// hnsw.ef_search of a filtered search (SearchOptions::where) when SearchOptions::ef_search is
  /// 0: the index scan yields its candidates ef_search at a time and the filter keeps a fraction
  /// of them, so a larger list keeps recall up (measured: `ragperf bench filter`).
  int filtered_ef_search = 200;
  /// Text search configuration of the tsvector column enable_text_search() adds (a name from
  /// pg_ts_config: english, simple, german, ...). Fixed per table when it is added.
  std::string text_search_config = "english";
  /// Element type of the embedding column of tables this store creates: "vector" (float32) or
  /// "halfvec" (float16: half the table and index memory; RAGPERF_PG_STORAGE, `ragperf ingest
  /// --storage`). Existing tables keep theirs; searches read each table's type.
  std::string storage = "vector";
  /// statement_timeout of every search (SET LOCAL in its transaction; index builds, COPY and
  /// the registry's statements are not bounded by it). A search past it fails with TimeoutError
  /// naming the table. Zero: no limit. Default 30 s.
  std::chrono::duration<double> search_timeout = std::chrono::seconds(30);
};

class PgVectorStore : public VectorStore {
 public:
  /// Uses `pool` (initialised or not; initialize() is called). Creates the registry tables and
  /// the `vector` extension when missing. Throws ConnectionError / QueryError.
  explicit PgVectorStore(std::shared_ptr<DatabaseConnectionPool> pool,
                         PgVectorStoreOptions options = {});
  ~PgVectorStore() override;

  /// Registers an existing table `name` (not created by ragperf) with its column names, so
  /// that search() works on it. Validates every identifier and checks that the columns exist
  /// and that the embedding column is a vector of `dim`. Throws InputError naming what is
  /// wrong.
  CollectionInfo adopt(const std::string& name, size_t dim, Metric metric,
                       const std::string& model_id, const PgColumns& columns);

  CollectionInfo ensure_collection(const std::string& name, size_t dim, Metric metric,
                                   const std::string& model_id) override;
  std::optional<CollectionInfo> collection(const std::string& name) override;
  std::vector<CollectionInfo> collections() override;
  std::optional<std::string> source_hash(const std::string& collection,
                                         const std::string& source) override;
  void replace_source(const std::string& collection, const std::string& source,
                      const std::string& source_hash, std::span<const Chunk> chunks) override;
  size_t remove_source(const std::string& collection, const std::string& source) override;
  std::vector<std::string> list_sources(const std::string& collection) override;
  void add(const std::string& collection, std::span<const Chunk> chunks) override;
  /// Runs on the pool's executor (a pooled connection's socket is awaited, no thread waits) and
  /// resumes on the awaiting coroutine's executor.
  boost::asio::awaitable<std::vector<Hit>> async_search(std::string collection,
                                                        std::vector<float> query,
                                                        SearchOptions options) override;
  /// The whole batch in one round trip on one pooled connection (libpq pipeline mode): one
  /// transaction with the search settings once and one SELECT per query. A query rejected before
  /// any SQL (dimension, non-finite values) fails alone; if the server fails one SELECT, the
  /// others are re-run one by one so that only that query gets the error.
  boost::asio::awaitable<std::vector<SearchResult>> async_search_batch(
      std::string collection, std::vector<std::vector<float>> queries,
      SearchOptions options) override;
  /// True: see search_batch() and the figures in ragperf/batch_processor.h.
  bool prefers_search_batch() const override;
  size_t count(const std::string& collection) override;
  void drop(const std::string& collection) override;
  std::vector<std::string> create_filter_indexes(const std::string& collection) override;
  /// websearch_to_tsquery (ANDs made ORs) against a GIN-indexed generated tsvector column,
  /// ranked by ts_rank_cd.
  boost::asio::awaitable<std::vector<Hit>> async_text_search(std::string collection,
                                                             std::string text,
                                                             SearchOptions options) override;
  /// Adds `ragperf_tsv tsvector GENERATED ALWAYS AS (to_tsvector(config, text)) STORED` (a table
  /// rewrite) and its GIN index, and records the configuration in the registry.
  bool enable_text_search(const std::string& collection) override;
  bool has_text_search(const std::string& collection) override;
  std::string describe() const override;

  /// The SELECT that search() runs on `collection` ($1: the query vector, $2: top_k), for
  /// EXPLAIN and diagnostics. ANN (`exact` false) orders by the distance alone so that the HNSW
  /// index can serve it; exact search orders by distance and id, with index scans off.
  /// Throws InputError for an unknown collection.
  std::string search_sql(const std::string& collection, bool exact);

  /// The plan (EXPLAIN) of the SELECT search() runs for `query` with `options`, filter and
  /// planner settings included, one plan line per line: tests and diagnostics use it to see
  /// whether the HNSW index, the filter's GIN index or a sequential scan serves a search.
  std::string explain_search(const std::string& collection, std::span<const float> query,
                             const SearchOptions& options);

  DatabaseConnectionPool& pool();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// PgVectorStore on a new pool from the settings (DATABASE_URL or PG* variables, pool sizes).
std::unique_ptr<VectorStore> open_pgvector_store(const Settings& settings);

}  // namespace ragperf
