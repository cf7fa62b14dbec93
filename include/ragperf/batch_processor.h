// ragperf/batch_processor.h defines BatchProcessor, the guide's query batcher: concurrent queries
// against one table are queued, embedded together in one forward pass, searched together, and
// answered through futures (or coroutines).
//
//   auto store = std::shared_ptr<ragperf::VectorStore>(ragperf::open_store(settings));
//   auto embedder = std::make_shared<ragperf::AsyncEmbedding>(settings);  // EMBED_MODEL
//   ragperf::BatchProcessor processor(embedder, store, "docs", /*batch_size=*/32,
//                                     /*timeout=*/std::chrono::milliseconds(50));
//   std::future<std::vector<ragperf::Hit>> f1 = processor.add_query("what is pgvector?");
//   std::future<std::vector<ragperf::Hit>> f2 = processor.add_query("how do I tune HNSW?");
//   processor.process_batch();                      // optional: run now instead of waiting
//   std::vector<ragperf::Hit> hits = f1.get();      // best first, options.search.top_k of them
//   // in a coroutine:  auto hits = co_await processor.async_query("what is pgvector?");
//
// When a batch runs: as soon as `batch_size` queries wait, when the oldest has waited `timeout`
// (BATCH_SIZE, BATCH_TIMEOUT), on process_batch(), and (only with `flush_when_idle`) whenever the
// embedding stage is idle. A batch is at most `batch_size` queries. While a batch is embedded and
// searched, new queries keep queueing and form the next one; the searches of one batch overlap
// the embedding of the next. With `sequential` (ENABLE_ASYNC=0) there is no batching and no
// overlap: queries run one at a time, in arrival order, each to completion.
//
// Batching is a policy on the one query path (ragperf/query_pipeline.h: exact cache -> embed ->
// semantic cache -> search -> store in the cache, with its epoch rule): this class decides when
// queries are embedded together and how their searches are grouped; QueryPipeline does the rest.
// Per batch: queries whose caller gave up (QueryOptions::stop requested, or past
// QueryOptions::deadline) are dropped before any work is spent on them; the rest are embedded in
// ONE model call; each vector then goes through the pipeline (semantic cache when one is given,
// search of the misses, see "Search modes", answers stored into the cache). A query whose
// embedding is all zeros fails with UnknownWordsError (an InputError).
// A query answered by the cache's exact tier never enters a batch: add_query() looks it up first
// and returns a ready future.
//
// Search modes (BatchProcessorOptions::search_mode): kSpread awaits one
// QueryPipeline::async_answer_embedded() (one VectorStore::async_search()) per query, all at once
// on the Runtime (a PgVectorStore search takes
// a pooled connection each, so this spreads them over the pool; the embedded store scans on the
// compute pool). kPipelined splits the batch into at most `search_threads` groups of
// consecutive queries and awaits one QueryPipeline::async_answer_group() per group (one
// async_search_batch() for the group's cache misses), the groups concurrently
// (PgVectorStore: one round trip and one
// transaction per group, on one pooled connection each; LocalStore: each group's queries one
// after another). kAuto, the default, takes kPipelined when the store prefers_search_batch()
// (PgVectorStore) and kSpread otherwise (LocalStore: its search_batch() is a loop of search()).
// Pipelining a whole batch on ONE connection would serialise it on one server backend, hence
// kPipelined's groups: each sends n + 3 statements instead of 4 per query and takes one pooled
// connection instead of one per query. kSpread balances uneven queries over the threads.
// `ragperf bench batch --store pg|local` (row batch_search_spread_vs_pipelined) measures the
// modes; README.md ("Batch search modes" under Performance) has the figures behind kAuto.
//
// Errors: add_query() itself throws only when the query is not admitted: OverloadedError when
// `max_queue` queries are already admitted and unanswered (fail fast, retry later), and
// UnavailableError after close(). Everything about one query reaches only that query's future:
// InputError (invalid UTF-8; its batch still runs for the others), CancelledError (stop requested
// while queued), TimeoutError (deadline passed while queued), the store's errors (QueryError,
// PoolExhaustedError ...). If the model rejects a whole batch, each text is embedded alone so
// that only the bad one fails.
//
// Shutdown: close() (and the destructor) refuses new queries, then by default runs every queued
// query at once (no waiting for the timeout) and waits for every answer; close(kFailPending)
// fails the queued ones with UnavailableError instead (queries already being embedded or
// searched still finish). No future is ever left without a value or an exception.
//
// Monitor stages (when a PerformanceMonitor is given): "queue" (enqueue -> batch start), "embed"
// (one per batch), "query" (one search; in kPipelined mode the batch's search_batch() call,
// recorded for each of its queries), "total" (enqueue -> answer, cache misses); counters
// batch_batches, batch_queries, batch_rejected, batch_cancelled, batch_cache_hits.
//
// Threads: none of its own. Batches are formed when a query arrives, when process_batch() is
// called, when a batch's embedding ends and when a timer on the Runtime's I/O executor
// (ragperf/runtime.h) reaches the oldest query's timeout; one batch is embedded at a time (on the
// compute pool, or joined with the AsyncEmbedding's other callers), and its searches are
// awaitables on the Runtime, so no thread waits for a model or a database.
// Thread-safety: every public method may be called from any thread, except close() and the
// destructor, which must not run inside a result callback (they wait for the searches).
// Ownership: the processor shares ownership of the embedder (or model) and the store it is given;
// the cache and the monitor (BatchProcessorOptions) are not owned and must outlive it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/retriever.h"
#include "ragperf/vector_store.h"

namespace ragperf {

struct Settings;
class AsyncEmbedding;
class EmbeddingModel;
class PerformanceMonitor;
class Runtime;
class SemanticCache;

/// How the searches of one batch run (see "Search modes" in the file comment).
enum class BatchSearchMode {
  kAuto,       // kPipelined when the store prefers_search_batch(), else kSpread
  kSpread,     // one search() per query, all of a batch's awaited at once
  kPipelined,  // one search_batch() per group of the batch (<= search_threads groups; on
               // PgVectorStore one round trip on one connection per group)
};

struct BatchProcessorOptions {
  /// Most queries per batch (BATCH_SIZE); a batch runs as soon as this many wait. >= 1.
  size_t batch_size = 32;
  /// Longest the oldest queued query waits before its batch runs (BATCH_TIMEOUT). >= 0.
  std::chrono::duration<double> timeout = std::chrono::duration<double>(1.0);
  /// Also run a batch whenever the embedding stage is idle (continuous batching, as TEI does):
  /// a lone query runs at once, and queries arriving meanwhile form the next batch. Off by
  /// default: the guide's contract is size-or-timeout.
  bool flush_when_idle = false;
  /// Queries admitted and not yet answered (queued, embedding or searching); beyond it
  /// add_query() throws OverloadedError. >= 1.
  size_t max_queue = 10000;
  /// top_k, exact, ef_search and the metadata filter (`where`) of every search.
  SearchOptions search{};
  /// vector (the default; a batch's searches go to the store together), text or hybrid (each
  /// query's searches run on their own, at once; the table needs full-text search).
  SearchMode mode = SearchMode::kVector;
  /// How a batch's searches run: spread over the threads, or pipelined in one search_batch().
  BatchSearchMode search_mode = BatchSearchMode::kAuto;
  /// kPipelined: the most groups a batch is split into (one search_batch() call and one pooled
  /// connection each). 0: std::thread::hardware_concurrency(). (kSpread awaits every search of
  /// a batch at once; the connection pool's max_size bounds them.)
  size_t search_threads = 0;
  /// ENABLE_ASYNC=0: each query runs to completion (embedded alone, searched, answered) before
  /// the next one starts: at most one query is embedded or searched at any time. batch_size,
  /// timeout, flush_when_idle and search_threads are then not used.
  bool sequential = false;
  /// Optional, not owned: answers repeated queries; misses are stored after their search.
  SemanticCache* cache = nullptr;
  /// Optional, not owned: receives the stages and counters listed in the file comment.
  PerformanceMonitor* monitor = nullptr;
  /// Where the searches are awaited; null: Runtime::shared().
  std::shared_ptr<Runtime> runtime = nullptr;

  /// batch_size = BATCH_SIZE, timeout = BATCH_TIMEOUT, sequential = !ENABLE_ASYNC; the rest keep
  /// their defaults.
  static BatchProcessorOptions from_settings(const Settings& settings);
};

/// How one query may be abandoned by its caller.
struct QueryOptions {
  /// When stop is requested while the query is still queued (or before its search starts), it
  /// is dropped and its future throws CancelledError.
  std::stop_token stop{};
  /// When the query is still queued at this time (or has not started its search), it is dropped
  /// and its future throws TimeoutError.
  std::optional<std::chrono::steady_clock::time_point> deadline{};
};

struct BatchStats {
  uint64_t queries = 0;              // admitted by add_query() (cache hits included)
  uint64_t completed = 0;            // answered with hits
  uint64_t failed = 0;               // answered with an error (cancelled/expired included)
  uint64_t cancelled = 0;            // dropped: stop requested or deadline passed
  uint64_t rejected = 0;             // OverloadedError thrown by add_query()
  uint64_t cache_exact_hits = 0;     // answered in add_query() by the exact tier
  uint64_t cache_semantic_hits = 0;  // answered after embedding by the similarity tier
  uint64_t batches = 0;              // embedding passes (one per batch)
  uint64_t batched_queries = 0;      // queries embedded in those batches
  size_t largest_batch = 0;
  size_t queued = 0;     // waiting for a batch now
  size_t in_flight = 0;  // admitted and not yet answered now (queued included)
  double mean_batch_size() const {
    return batches ? static_cast<double>(batched_queries) / static_cast<double>(batches) : 0.0;
  }
};

class BatchProcessor {
 public:
  /// Result callback: exactly one of `error` / `hits` is meaningful.
  using Callback = std::function<void(std::exception_ptr error, std::vector<Hit> hits)>;

  /// Queries `table` of `store` with vectors from `embed_model`; the processor shares ownership
  /// of both. AsyncEmbedding: each batch joins the passes of its other callers. EmbeddingModel:
  /// each batch is one embed() call, run as a task on the Runtime's compute pool.
  /// Throws ConfigError when `embed_model` or `store` is null or an option is out of range;
  /// InputError when `table` is not a valid identifier, does not exist in `store`, or was
  /// ingested with another model or dimension.
  BatchProcessor(std::shared_ptr<AsyncEmbedding> embed_model, std::shared_ptr<VectorStore> store,
                 std::string table, BatchProcessorOptions options = {});
  BatchProcessor(std::shared_ptr<EmbeddingModel> embed_model, std::shared_ptr<VectorStore> store,
                 std::string table, BatchProcessorOptions options = {});
  /// The guide's form: batch_size and timeout given, the rest defaulted.
  BatchProcessor(std::shared_ptr<AsyncEmbedding> embed_model, std::shared_ptr<VectorStore> store,
                 std::string table, size_t batch_size, std::chrono::duration<double> timeout);
  BatchProcessor(std::shared_ptr<EmbeddingModel> embed_model, std::shared_ptr<VectorStore> store,
                 std::string table, size_t batch_size, std::chrono::duration<double> timeout);
  /// close(kFinishPending).
  ~BatchProcessor();
  BatchProcessor(const BatchProcessor&) = delete;
  BatchProcessor& operator=(const BatchProcessor&) = delete;

  /// Queues `text`; the future yields its hits (best first) or its error (see the file comment).
  /// Throws OverloadedError / UnavailableError when the query is not admitted.
  std::future<std::vector<Hit>> add_query(std::string text, QueryOptions options = {});
  /// Awaitable form; resumes on the awaiting coroutine's executor. Throws as the future would.
  boost::asio::awaitable<std::vector<Hit>> async_query(std::string text, QueryOptions options = {});
  /// Callback form: `done` runs exactly once, on a Runtime thread (or inline in
  /// submit() for an exact cache hit or an invalid text); keep it short. Throws as add_query()
  /// does.
  void submit(std::string text, QueryOptions options, Callback done);

  /// Runs every query queued now without waiting for batch_size or the timeout (in batches of
  /// at most batch_size). Does not wait for the answers. Returns how many queries it released.
  size_t process_batch();

  enum class CloseMode { kFinishPending, kFailPending };
  /// Stops admitting queries, then finishes (or fails) every pending one and waits for its
  /// coroutines and its timer. Idempotent; blocking (not on a Runtime I/O thread).
  void close(CloseMode mode = CloseMode::kFinishPending);

  BatchStats get_stats() const;
  const BatchProcessorOptions& options() const;
  /// The search mode in use: kSpread or kPipelined (kAuto resolved for this store).
  BatchSearchMode search_mode() const;
  const std::string& table() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragperf
