// ragperf/query_pipeline.h defines QueryPipeline, the one path a query takes through ragperf:
//
//   exact cache -> embed -> semantic cache -> search every table -> merge -> [rerank] -> store in
//   the cache
//
// The HTTP server's /query, BatchProcessor and `ragperf query` all run it; none of them writes
// the flow again. Batching is a policy on top: BatchProcessor embeds many queries in one model
// call and then hands each vector to async_answer_embedded() (or a group of them to
// async_answer_group()), which runs the rest of the path.
//
//   ragperf::QueryPipeline pipeline(store, embedder, {.cache = cache.get()});
//   ragperf::QueryTarget target{.tables = {"docs", "faq"}, .options = {.top_k = 5}};
//   ragperf::QueryAnswer a = pipeline.query(target, "what is MVCC?");    // blocking form
//   // in a coroutine:  auto a = co_await pipeline.async_query(target, "what is MVCC?");
//   for (const ragperf::RetrievedHit& h : a.result.hits) std::cout << h.text << "\n";
//
// The cache rule: an answer is stored under a CacheScope made of the tables, top_k, the model,
// the tables' metric and every retrieve option that changes the hits (exact, fusion, rrf_k,
// deduplicate, ef_search, candidates_per_table), so an answer is only reused for an identical
// question. The cache's epoch is read before the tables are searched and the answer is stored
// with SemanticCache::store_if_current(): an ingest that invalidates the tables while the search
// runs makes the (possibly stale) answer be dropped instead of cached. An answer with failed
// tables (RetrieveOptions::partial_results) is never cached.
//
// Errors: those of ParallelRetriever (InputError for unknown tables or another model's tables,
// the stores' errors); InputError for rerank candidates outside 1..1000; UnknownWordsError (an
// InputError) when the query's embedding is all zeros (a static model that knows none of its words:
// nothing can be similar to it).
//
// Threads: none of its own. Every call is a coroutine on the caller's executor; the embedding and
// the searches are awaited on the Runtime (ragperf/runtime.h). query() is the blocking form (not
// on a Runtime I/O thread: UnavailableError there).
// Thread-safety: every method may be called from any thread, concurrently. The store, embedder,
// cache and monitor must outlive the pipeline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/retriever.h"
#include "ragperf/runtime.h"
#include "ragperf/vector_store.h"

namespace ragperf {

class AsyncEmbedding;
class CrossEncoder;
class EmbeddingModel;
class PerformanceMonitor;
class SemanticCache;
struct CacheScope;

/// Reranking with a cross-encoder: the search fetches max(candidates, top_k) hits, the model
/// scores each against the query text in one batch (on the Runtime's compute pool), and the
/// top_k by that score are returned; each keeps its retrieval score in
/// RetrievedHit::retrieval_score. Stage "rerank" in the monitor, timings.rerank_s.
struct RerankOptions {
  std::shared_ptr<const CrossEncoder> model{};  // null: no reranking
  size_t candidates = 50;                       // hits scored, 1..kMaxCandidates
  static constexpr size_t kMaxCandidates = 1000;
};

/// What a query searches and how.
struct QueryTarget {
  std::vector<std::string> tables;  // as ParallelRetriever takes them ("name", "name@location")
  RetrieveOptions options{};
  /// The tables' metric ("cosine", or "cosine+l2" for mixed tables; metric_of()): part of the
  /// cache scope.
  std::string metric{};
  RerankOptions rerank{};  // part of the cache scope (the model's id and candidates)
};

/// How the semantic cache took part in an answer.
enum class CacheOutcome {
  kOff,          // the pipeline has no cache
  kMiss,         // searched; the answer was offered to the cache
  kExactHit,     // answered by the exact tier (no embedding, no search)
  kSemanticHit,  // answered by the similarity tier (embedded, not searched)
};
/// "off", "miss", "exact", "semantic".
const char* to_string(CacheOutcome outcome);

struct QueryAnswer {
  /// hits (best first) and timings. A cache hit has hits and timings.total_s (and embed_s for a
  /// semantic hit); the search stages stay 0.
  RetrieveResult result;
  CacheOutcome cache = CacheOutcome::kOff;
  float cache_similarity = 0;  // a hit's similarity to the stored query (1 for an exact hit)
};

/// The query's embedding is all zeros: no word of it is known to the model.
class UnknownWordsError : public InputError {
 public:
  using InputError::InputError;
};

struct QueryPipelineOptions {
  /// Optional, not owned: answers repeated queries (both tiers) and stores the misses.
  SemanticCache* cache = nullptr;
  /// Optional, not owned: records "embed" (async_query's embedding) and "rerank"; the retrievers
  /// record query, merge and total (the search and merge) of each search.
  PerformanceMonitor* monitor = nullptr;
  /// Where the embedding and the searches are awaited; null: Runtime::shared().
  std::shared_ptr<Runtime> runtime = nullptr;
  /// Opens the store of "name@location" tables (see ParallelRetrieverOptions::open_location).
  StoreOpener open_location{};
  /// Retrievers kept (one per distinct table list); beyond it the oldest set is dropped. >= 1.
  size_t max_retrievers = 64;
};

class QueryPipeline {
 public:
  /// `store`: where plain table names live. The embedder batches this pipeline's queries with
  /// its other callers; a bare EmbeddingModel is run on the Runtime's compute pool.
  /// ConfigError when the embedder is null or max_retrievers is 0.
  QueryPipeline(std::shared_ptr<VectorStore> store, std::shared_ptr<AsyncEmbedding> embedder,
                QueryPipelineOptions options = {});
  QueryPipeline(std::shared_ptr<VectorStore> store, std::shared_ptr<EmbeddingModel> model,
                QueryPipelineOptions options = {});
  ~QueryPipeline();
  QueryPipeline(const QueryPipeline&) = delete;
  QueryPipeline& operator=(const QueryPipeline&) = delete;

  /// The whole path for one query text.
  boost::asio::awaitable<QueryAnswer> async_query(QueryTarget target, std::string text);
  /// Blocking form of async_query().
  QueryAnswer query(QueryTarget target, std::string text);

  /// Makes (and keeps) the retriever for `tables` now, so that a bad table name is reported here
  /// (InputError) instead of at the first query; returns the tables as the retriever names them.
  std::vector<std::string> prepare(const std::vector<std::string>& tables);

  /// The first stage alone: the exact tier's answer, or nullopt (also when there is no cache).
  std::optional<QueryAnswer> lookup_exact(const QueryTarget& target, std::string_view text);
  /// Everything after the embedding: `vector` is `text`'s embedding ([dim()] floats).
  boost::asio::awaitable<QueryAnswer> async_answer_embedded(QueryTarget target, std::string text,
                                                            std::vector<float> vector);
  /// async_answer_embedded() for a group of queries, one Outcome each, in order. When the target
  /// is one plain table the group's cache misses are searched in ONE
  /// VectorStore::async_search_batch() call (PgVectorStore: one round trip on one connection);
  /// otherwise each is answered on its own, all at once.
  boost::asio::awaitable<std::vector<Outcome<QueryAnswer>>> async_answer_group(
      QueryTarget target, std::vector<std::string> texts, std::vector<std::vector<float>> vectors);

  /// The cache scope answers for `target` are stored under.
  CacheScope scope(const QueryTarget& target) const;
  size_t dim() const;
  const std::string& model_id() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// QueryTarget::metric for these tables: their distinct metrics, sorted and joined by '+'
/// ("cosine", "cosine+l2"). The one rule every caller (server, BatchProcessor, Python) uses.
std::string metric_of(const std::vector<CollectionInfo>& tables);

/// The hits of a one-table answer as the store's hits (score = the store's similarity).
std::vector<Hit> to_hits(std::vector<RetrievedHit> hits);

}  // namespace ragperf
