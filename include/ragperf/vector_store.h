// ragperf/vector_store.h defines `VectorStore`, the one interface every store implements:
// `LocalStore` (embedded SQLite + hnswlib, the default when no database is configured,
// ragperf/local_store.h) and `PgVectorStore` (PostgreSQL + pgvector, ragperf/pgvector_store.h).
//
// A store holds named collections (a PostgreSQL table each). A collection records the dimension,
// the metric and the id of the model its vectors came from, so vectors of different models are
// never mixed. Chunks are grouped by `source` (a file path) so that ingest is idempotent:
//
//   auto store = ragperf::open_store(settings);            // pgvector or local, see open_store()
//   store->ensure_collection("docs", model->dim(), ragperf::Metric::kCosine, model->id());
//   if (store->source_hash("docs", path) != file_hash)
//     store->replace_source("docs", path, file_hash, chunks);  // old chunks out, new in,
//     atomically
//   std::vector<ragperf::Hit> hits = store->search("docs", query_vector, {.top_k = 4});
//   // in a coroutine (no thread waits: PostgreSQL's socket is awaited, the embedded store's
//   // scan runs on the Runtime's compute pool):
//   auto hits = co_await store->async_search("docs", query_vector, {.top_k = 4});
//   for (const std::string& source : store->list_sources("docs"))   // files the table holds
//     if (!std::filesystem::exists(source)) store->remove_source("docs", source);
//   // Many queries at once (one round trip on PostgreSQL); one result per query, in order:
//   std::vector<std::span<const float>> queries = {q1, q2, q3};
//   for (ragperf::SearchResult& r : store->search_batch("docs", queries, {.top_k = 4}))
//     if (r.ok()) use(r.hits); else report(r.error);   // or r.value(): hits, or rethrows
//
// Scores: higher is better for every metric — cosine similarity (kCosine), inner product
// (kInnerProduct), negative Euclidean distance (kL2). Hits come sorted by descending score, ties
// broken by ascending id.
//
// Identifiers: collection names (and configurable column names) come from users; they must match
// [A-Za-z_][A-Za-z0-9_]{0,62} (validate_identifier()), else InputError naming the identifier.
// No SQL is ever built from unchecked text.
//
// Awaitable and blocking forms: async_search() and async_search_batch() are the stores' own
// searches; they resume on the awaiting coroutine's executor. The blocking search() and
// search_batch() are built on them in one place (vector_store.cpp: Runtime::run_blocking on the
// shared Runtime), so they must not be called from a Runtime I/O thread (UnavailableError).
// LocalStore overrides the blocking forms to scan on the calling thread: its search is CPU work,
// and a hand-off to the compute pool and back would only add latency to a caller that waits.
//
// Thread-safety: every method may be called from any thread. Searches run concurrently; writes
// (ensure_collection, add, replace_source, remove_source, drop) are serialised per store.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf {

struct Settings;

/// Similarity used for a collection. Fixed when the collection is created.
enum class Metric { kCosine, kInnerProduct, kL2 };

/// "cosine", "ip", "l2".
const char* to_string(Metric metric);
/// Parses "cosine", "ip" / "inner_product", "l2"; throws InputError naming the text otherwise.
Metric parse_metric(std::string_view text);

/// What a store knows about one collection.
struct CollectionInfo {
  std::string name;  // collection (table) name, a valid identifier
  size_t dim = 0;    // vector dimension
  Metric metric = Metric::kCosine;
  std::string model_id;  // EmbeddingModel::id() of the model that produced the vectors
  size_t count = 0;      // chunks stored; from collections() on PostgreSQL the planner's
                         // estimate (no scan): count() is exact
};

/// One chunk to store.
struct Chunk {
  std::string id;                // unique within the collection; an existing id is replaced
  std::string text;              // the chunk's text
  std::string metadata_json;     // a JSON object as text ("" means {}); InputError when invalid
  std::string content_hash;      // hash of `text` (for deduplication and idempotent ingest)
  std::string source;            // the file (or other origin) the chunk came from; may be ""
  std::vector<float> embedding;  // [dim] floats, all finite; InputError otherwise
};

/// One search result.
struct Hit {
  std::string id;
  std::string text;
  float score = 0;            // higher is better (see the file comment)
  std::string metadata_json;  // a JSON object as text ("{}" when none)
  std::string source;         // Chunk::source
  std::string source_table;   // the collection the hit came from
  /// Hybrid search (ragperf/retriever.h): the hit's 1-based rank in the vector list and in the
  /// text list, 0 when it was not in that list. A plain search leaves both 0.
  size_t vector_rank = 0;
  size_t text_rank = 0;
};

struct SearchOptions {
  size_t top_k = 4;    // hits wanted (>= 1); fewer come back when the collection is smaller
  bool exact = false;  // true: brute force over every vector (the ranking equals a full sort)
  int ef_search = 0;   // ANN candidate list size; 0: the store's default (>= top_k is enforced)
  /// A metadata filter (ragperf/filter.h), "" for none: only chunks it accepts are returned,
  /// top_k of them whenever top_k match. InputError naming the part when it does not parse.
  std::string where{};
};

/// What one query of VectorStore::search_batch() produced: its hits, or the error search() would
/// have thrown for it.
struct SearchResult {
  std::vector<Hit> hits;     // best first; empty when `error` is set
  std::exception_ptr error;  // non-null: this query failed (InputError, QueryError, ...)
  bool ok() const { return !error; }
  /// The hits; rethrows `error` when the query failed.
  std::vector<Hit>& value() {
    if (error) std::rethrow_exception(error);
    return hits;
  }
};

/// Throws InputError naming `what` and `name` unless `name` matches [A-Za-z_][A-Za-z0-9_]{0,62}.
/// `what` is e.g. "table" or "column".
void validate_identifier(std::string_view name, std::string_view what = "table");

class VectorStore {
 public:
  virtual ~VectorStore() = default;

  /// Creates the collection if missing; returns its info. Throws InputError when it exists with
  /// another dimension, metric or model: "table T was ingested with model X (dim D); query it
  /// with --model X or re-ingest".
  virtual CollectionInfo ensure_collection(const std::string& name, size_t dim, Metric metric,
                                           const std::string& model_id) = 0;

  /// Info for `name`, or nullopt when it does not exist. Validates the name.
  virtual std::optional<CollectionInfo> collection(const std::string& name) = 0;

  /// Every collection, sorted by name, without reading the tables' rows (PgVectorStore's counts
  /// are estimates, see CollectionInfo::count).
  virtual std::vector<CollectionInfo> collections() = 0;

  /// The hash recorded by the last replace_source() for `source`, or nullopt. Throws InputError
  /// for an unknown collection (as every method below does).
  virtual std::optional<std::string> source_hash(const std::string& collection,
                                                 const std::string& source) = 0;

  /// Atomically removes every chunk of `source` and adds `chunks` (whose `source` is set to
  /// `source`), recording `source_hash`. A crash leaves either the old or the new state.
  virtual void replace_source(const std::string& collection, const std::string& source,
                              const std::string& source_hash, std::span<const Chunk> chunks) = 0;

  /// Removes every chunk of `source` and its recorded hash; returns the chunks removed.
  virtual size_t remove_source(const std::string& collection, const std::string& source) = 0;

  /// Every distinct non-empty source of the collection: each source with a recorded hash
  /// (replace_source(), even one that left no chunks) and each Chunk::source of its chunks,
  /// sorted (byte order) without duplicates. Empty for an unknown collection; InputError for an
  /// invalid name. IngestPipeline uses it to prune files that vanished (IngestOptions::prune).
  /// The default throws UnavailableError (a store that cannot list its sources cannot prune).
  virtual std::vector<std::string> list_sources(const std::string& collection);

  // ---- full-text search (hybrid retrieval, ragperf/retriever.h) ----

  /// The best options.top_k chunks for the words of `text`, best first, by the store's text
  /// ranking (score higher = better): BM25 of SQLite FTS5 (LocalStore) or ts_rank_cd over a
  /// GIN-indexed tsvector (PgVectorStore). Any text is accepted: words are OR-ed (a chunk needs
  /// one of them; more and rarer ones rank higher), punctuation is ignored, no query syntax can
  /// fail. options.where applies; exact and ef_search do not. InputError when the collection has
  /// no full-text index ("run ragperf migrate --table T"). The default: UnavailableError.
  virtual boost::asio::awaitable<std::vector<Hit>> async_text_search(std::string collection,
                                                                     std::string text,
                                                                     SearchOptions options);
  /// Blocking async_text_search() (never on a Runtime I/O thread).
  virtual std::vector<Hit> text_search(const std::string& collection, const std::string& text,
                                       const SearchOptions& options);
  /// The migration that adds full-text search to an existing collection (index + backfill):
  /// true when it was added, false when the collection had it. Run by `ragperf migrate` and by
  /// ingest (IngestOptions::text_search), never by a query. The default: UnavailableError.
  virtual bool enable_text_search(const std::string& collection);
  /// Whether the collection has full-text search. The default: false.
  virtual bool has_text_search(const std::string& collection);

  /// Creates what lets the planner serve filtered searches (SearchOptions::where) on
  /// `collection` from an index instead of the vector index alone, and returns the names of the
  /// indexes it created (none when they exist). Never called by a search: an explicit command
  /// (`ragperf ingest --filter-index`). PgVectorStore: a GIN (jsonb_path_ops) index on the
  /// metadata (serves `=` and `in`) and a text_pattern_ops index on the source (serves `^=`);
  /// the default (LocalStore, whose filters run over SQLite rows) creates nothing.
  virtual std::vector<std::string> create_filter_indexes(const std::string& collection);

  /// Adds (or replaces, by id) chunks in one transaction: all or nothing.
  virtual void add(const std::string& collection, std::span<const Chunk> chunks) = 0;

  /// The best `options.top_k` chunks for `query` ([dim] floats), best first. Throws InputError on
  /// a dimension mismatch or non-finite values. Awaitable; resumes on the awaiting coroutine's
  /// executor.
  virtual boost::asio::awaitable<std::vector<Hit>> async_search(std::string collection,
                                                                std::vector<float> query,
                                                                SearchOptions options) = 0;

  /// Runs every query of `queries` (each [dim] floats) with the same `options`. Returns one
  /// SearchResult per query, in order: result i holds exactly what
  /// search(collection, queries[i], options) returns or throws (same hits and scores, same error
  /// types and messages), so an error concerns only its own query; an error that concerns every
  /// query (unknown collection, top_k 0, a database that cannot be reached) is put into every
  /// result. Does not throw for those; an empty batch returns an empty vector without touching
  /// the store. The default awaits async_search() once per query, one after another;
  /// PgVectorStore sends the whole batch in one round trip on one pooled connection (libpq
  /// pipeline mode), LocalStore scans them in one compute task.
  virtual boost::asio::awaitable<std::vector<SearchResult>> async_search_batch(
      std::string collection, std::vector<std::vector<float>> queries, SearchOptions options);

  /// Blocking async_search(): waits on the calling thread (never a Runtime I/O thread).
  virtual std::vector<Hit> search(const std::string& collection, std::span<const float> query,
                                  const SearchOptions& options);

  /// Blocking async_search_batch().
  virtual std::vector<SearchResult> search_batch(const std::string& collection,
                                                 std::span<const std::span<const float>> queries,
                                                 const SearchOptions& options);

  /// True when search_batch() is cheaper than spreading search() calls over threads
  /// (PgVectorStore; see "Search modes" in ragperf/batch_processor.h). BatchProcessor's kAuto
  /// mode follows it.
  virtual bool prefers_search_batch() const { return false; }

  /// Number of chunks in the collection.
  virtual size_t count(const std::string& collection) = 0;

  /// Deletes the collection and everything in it; a missing collection is not an error.
  virtual void drop(const std::string& collection) = 0;

  /// Where the data lives, safe to print: "local store at PATH" or "postgresql://u:****@h/db".
  virtual std::string describe() const = 0;

 protected:
  /// search() once per query on the calling thread, each error kept in its own result.
  std::vector<SearchResult> search_each(const std::string& collection,
                                        std::span<const std::span<const float>> queries,
                                        const SearchOptions& options);
};

/// The store the settings select: PgVectorStore when DATABASE_URL (or libpq's PGHOST /
/// PGDATABASE / PGSERVICE) is set, else LocalStore under RAGPERF_HOME/store (created if
/// missing). Throws ConnectionError / InputError naming the location when it cannot be opened.
std::unique_ptr<VectorStore> open_store(const Settings& settings);

}  // namespace ragperf
