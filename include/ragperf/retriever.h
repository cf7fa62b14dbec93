// ragperf/retriever.h defines ParallelRetriever, the guide's multi-table retrieval: the query is
// embedded once, every table is searched at the same time, and the hits are merged, deduplicated
// and ranked.
//
//   auto store = std::shared_ptr<ragperf::VectorStore>(ragperf::open_store(settings));
//   std::shared_ptr<ragperf::EmbeddingModel> model = ragperf::load_embedding_model(name, settings);
//   ragperf::ParallelRetriever retriever(store, model, {"docs", "faq", "notes@postgresql://h2/db"},
//                                        model->dim());
//   ragperf::RetrieveResult r = retriever.retrieve_parallel("what is MVCC?", 4, true).get();
//   for (const ragperf::RetrievedHit& h : r.hits) std::cout << h.score << " " << h.text << "\n";
//   // in a coroutine:  auto r = co_await retriever.async_retrieve_parallel("query", options);
//
// Tables: "name" lives in the store given to the constructor; "name@location" lives elsewhere:
// a PostgreSQL URL or libpq conninfo ("postgresql://u:p@host/db", "host=h dbname=d") or a
// LocalStore folder ("/path", "./path", "file:/path"). Each location gets its own store (and so
// its own connection pool), opened on first use and kept for the retriever's lifetime.
//
// Merge: by score (every store's score is "higher is better", see vector_store.h; hits of one
// table and of tables with the same metric compare directly), or by reciprocal-rank fusion
// (score = sum over the tables holding the text of 1 / (rrf_k + rank), rank from 1), which needs
// no comparable scores. Ties are broken by table order, then id. With deduplication a text
// found more than once keeps its best copy, and `source_tables` lists every table holding it.
// With exact search and deduplicate=false the ranking equals a brute-force ranking of the same
// vectors across all tables.
//
// Checks: a table must exist and must have been ingested with the query model (same
// EmbeddingModel::id() and dimension); otherwise the call fails with InputError naming the
// table, its model and the query model. A failing table fails the whole call with an error of
// the same kind naming the table, unless RetrieveOptions::partial_results is set: then the hits
// of the other tables come back and the failure is listed in RetrieveResult::failures.
//
// Threads: none of its own. A call is one coroutine on the Runtime (ragperf/runtime.h): the
// query is embedded on the compute pool (or by the AsyncEmbedding given, batched with its other
// callers), every table's VectorStore::async_search() is awaited at once (when_all: PostgreSQL
// waits on sockets, the embedded store scans on the compute pool), and the merge runs where the
// last search resumed it. The awaitable forms run on the awaiting coroutine's executor; the
// future, blocking and callback forms start the call on the Runtime's I/O executor.
// Thread-safety: every method may be called from any thread, concurrently. Do not block on a
// future (or call retrieve()) on a Runtime I/O thread (retrieve() throws UnavailableError there);
// the destructor waits for calls in flight, so it must not run on one either.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/vector_store.h"

namespace ragperf {

class EmbeddingModel;
class AsyncEmbedding;
class PerformanceMonitor;
class Runtime;
struct Settings;

/// How hits of several tables are ranked together.
enum class Fusion {
  kScore,  // by the stores' similarity scores (comparable when tables share a metric)
  kRrf,    // reciprocal-rank fusion: sum of 1 / (rrf_k + rank) over the tables holding the text
};

/// "score" / "rrf"; parse_fusion throws InputError naming the text otherwise.
const char* to_string(Fusion fusion);
Fusion parse_fusion(std::string_view text);

/// What a query is matched with in each table.
enum class SearchMode {
  kVector,  // the embedding's nearest neighbours (VectorStore::search)
  kText,    // full-text search on the query's words (VectorStore::text_search)
  kHybrid,  // both at once, fused per table (HybridFusion)
};
/// "vector" / "text" / "hybrid"; parse_search_mode throws InputError naming the text otherwise.
const char* to_string(SearchMode mode);
SearchMode parse_search_mode(std::string_view text);

/// How a table's vector and text lists become one in kHybrid.
enum class HybridFusion {
  kRrf,       // sum of 1 / (rrf_k + rank) over the two lists
  kWeighted,  // text_weight * text + (1 - text_weight) * vector, each min-max scaled to [0, 1]
};
/// "rrf" / "weighted"; parse_hybrid_fusion throws InputError naming the text otherwise.
const char* to_string(HybridFusion fusion);
HybridFusion parse_hybrid_fusion(std::string_view text);

struct RetrieveOptions {
  size_t top_k = 4;         // hits wanted after merging (>= 1)
  bool deduplicate = true;  // one hit per distinct text (best copy kept, all tables listed)
  Fusion fusion = Fusion::kScore;
  double rrf_k = 60;                // RRF constant (> 0): larger flattens the rank weights
  bool exact = false;               // brute-force search in every table (see SearchOptions::exact)
  int ef_search = 0;                // ANN candidate list per table; 0: each store's default
  size_t candidates_per_table = 0;  // hits fetched per table; 0: top_k, 2*top_k when deduplicating
  bool partial_results = false;     // a failing table is reported in `failures` instead of throwing
  /// A metadata filter (ragperf/filter.h) applied in every table; "" for none. Part of the
  /// semantic cache's scope (by its canonical text).
  std::string where{};
  /// vector (the default), text or hybrid; text and hybrid need the tables' full-text index
  /// (`ragperf migrate`) and the query's text (not retrieve_by_vector() alone).
  SearchMode mode = SearchMode::kVector;
  HybridFusion hybrid_fusion = HybridFusion::kRrf;  // uses rrf_k too
  double text_weight = 0.5;                         // kWeighted: in [0, 1]
};

/// The SearchOptions each table is searched with: candidates_per_table hits (0: 2 * top_k when
/// deduplicating, else top_k), and exact, ef_search and where as given.
SearchOptions per_table_search_options(const RetrieveOptions& options);

/// One merged hit.
struct RetrievedHit {
  std::string id;
  std::string text;
  float score = 0;            // ranking score: the similarity (kScore), the fused RRF score (kRrf),
                              // or the cross-encoder's score when reranked (QueryTarget::rerank)
  float similarity = 0;       // the store's score of the copy kept (higher is better)
  std::string metadata_json;  // a JSON object as text
  std::string source;         // Chunk::source (e.g. the file) of the copy kept
  std::string source_table;   // the table of the copy kept, as named in `tables`
  std::vector<std::string> source_tables;  // every table holding this text, best copy first
  /// Set when the hit was reranked: the retrieval ranking score it had before.
  std::optional<float> retrieval_score{};
  /// kHybrid: the kept copy's 1-based rank in its table's vector list and text list (0: not in
  /// that list); kText: text_rank; kVector: both 0.
  size_t vector_rank = 0;
  size_t text_rank = 0;
};

/// A table that failed in a partial_results call.
struct TableFailure {
  std::string table;  // as named in `tables` ("name" or "name@location", secrets masked)
  ErrorCode code = ErrorCode::kQuery;
  std::string message;
};

/// Seconds spent in each stage of one call.
struct RetrieveTimings {
  double embed_s = 0;           // embedding the query (0 for retrieve_by_vector)
  double query_s = 0;           // from the first table search started to the last one finished
  double merge_s = 0;           // merge, deduplication and ranking
  double rerank_s = 0;          // cross-encoder scoring of the candidates (0 without reranking)
  double total_s = 0;           // the whole call
  std::vector<double> table_s;  // [tables().size()] each table's own search time (0 if failed)
};

struct RetrieveResult {
  std::vector<RetrievedHit> hits;      // best first, at most top_k
  std::vector<TableFailure> failures;  // only with partial_results
  RetrieveTimings timings;
};

/// Opens the store for a "name@location" table's location (see the file comment).
using StoreOpener = std::function<std::shared_ptr<VectorStore>(const std::string& location)>;

/// The default opener: PostgreSQL URLs / conninfo through open_store() with DATABASE_URL set to
/// the location (pool sizes and the rest from `settings`), folders as a LocalStore.
StoreOpener default_store_opener(const Settings& settings);

/// "docs@postgresql://h/db" -> {"docs", "postgresql://h/db"}; "docs" -> {"docs", ""}. Throws
/// InputError naming the text when the table part is not a valid identifier or the location is
/// empty.
struct TableRef {
  std::string name;
  std::string location;  // "" : the retriever's own store
  static TableRef parse(std::string_view text);
  std::string display() const;  // "name" or "name@location" with passwords masked
};

struct ParallelRetrieverOptions {
  PerformanceMonitor* monitor = nullptr;  // receives embed, query, merge, total (not owned)
  /// Where calls run; null: Runtime::shared().
  std::shared_ptr<Runtime> runtime = nullptr;
  /// Opens the store of each "name@location" table; typically default_store_opener(settings).
  /// Empty: only plain table names are accepted (ConfigError in the constructor otherwise). The
  /// retriever never reads the environment itself.
  StoreOpener open_location;
};

class ParallelRetriever {
 public:
  /// `store`: where plain table names live (may be null when every table names a location).
  /// `embed_dim` must equal model->dim() (ConfigError naming both otherwise). Table names are
  /// validated here (InputError), and a "name@location" table needs options.open_location
  /// (ConfigError otherwise); tables are checked against the model on first use.
  ParallelRetriever(std::shared_ptr<VectorStore> store, std::shared_ptr<EmbeddingModel> model,
                    std::vector<std::string> tables, size_t embed_dim,
                    ParallelRetrieverOptions options = {});
  /// Same, embedding through `embedder` (batched with its other callers).
  ParallelRetriever(std::shared_ptr<VectorStore> store, std::shared_ptr<AsyncEmbedding> embedder,
                    std::vector<std::string> tables, size_t embed_dim,
                    ParallelRetrieverOptions options = {});
  ~ParallelRetriever();  // waits for calls in flight
  ParallelRetriever(const ParallelRetriever&) = delete;
  ParallelRetriever& operator=(const ParallelRetriever&) = delete;

  /// The guide's call: embed `query` once, search every table concurrently, merge.
  std::future<RetrieveResult> retrieve_parallel(std::string query, size_t top_k = 4,
                                                bool deduplicate = true);
  std::future<RetrieveResult> retrieve_parallel(std::string query, RetrieveOptions options);
  /// Blocking form of the above.
  RetrieveResult retrieve(std::string query, RetrieveOptions options = {});
  /// With a query vector already computed ([embed_dim] floats): no embedding stage.
  std::future<RetrieveResult> retrieve_by_vector(std::vector<float> query,
                                                 RetrieveOptions options = {});

  /// Awaitable forms; they run on the awaiting coroutine's executor.
  /// (Overloads rather than a defaulted `RetrieveOptions options = {}`: GCC 12 destroys a
  /// default argument's temporary twice when it is created inside a co_await expression.)
  boost::asio::awaitable<RetrieveResult> async_retrieve_parallel(std::string query,
                                                                 RetrieveOptions options);
  boost::asio::awaitable<RetrieveResult> async_retrieve_parallel(std::string query);
  boost::asio::awaitable<RetrieveResult> async_retrieve_by_vector(std::vector<float> query,
                                                                  RetrieveOptions options);
  boost::asio::awaitable<RetrieveResult> async_retrieve_by_vector(std::vector<float> query);
  /// The query's text and its embedding (computed by the caller): no embedding stage; the text
  /// serves text and hybrid modes.
  boost::asio::awaitable<RetrieveResult> async_retrieve_embedded(std::string text,
                                                                 std::vector<float> query,
                                                                 RetrieveOptions options);

  /// The embedding stage alone: `query` embedded with the retriever's model ([dim()] floats),
  /// for callers that need the vector before searching (QueryPipeline's semantic cache).
  boost::asio::awaitable<std::vector<float>> async_embed(std::string query);
  /// Callback form: `done(error, result)` runs on a Runtime I/O thread; keep it short.
  using Callback = std::function<void(std::exception_ptr, RetrieveResult)>;
  void submit(std::string query, RetrieveOptions options, Callback done);
  void submit_vector(std::vector<float> query, RetrieveOptions options, Callback done);

  /// The tables as given to the constructor.
  const std::vector<std::string>& tables() const;
  size_t dim() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Ranks per-table hit lists together (the merge stage, exposed for BatchProcessor and tests).
/// `per_table[i]` holds table i's hits best first; `table_names[i]` is written into the hits.
std::vector<RetrievedHit> merge_hits(std::vector<std::vector<Hit>> per_table,
                                     std::span<const std::string> table_names,
                                     const RetrieveOptions& options);

/// One JSON object: {"hits": [{"id", "text", "score", "similarity", "source_table",
/// "source_tables", "source", "metadata"}], "timings": {"embed_s", "query_s", "merge_s",
/// "total_s", "tables": {name: s}}, "failures": [{"table", "code", "message"}]} (failures only
/// when there are some). `query`, when not empty, is added as "query". No trailing newline.
/// Control characters in strings are escaped (\u001b, also DEL and C1 as \u007f, \u009b), so the
/// line is safe on a terminal and decodes to the stored text.
std::string to_json(const RetrieveResult& result, std::span<const std::string> table_names,
                    const std::string& query = "");

/// For people: one block per hit ("  1. 0.8123  pgdocs  file.html" and an indented snippet of at
/// most `snippet_chars` characters, whitespace collapsed), then one line of stage timings. Text
/// from the store (table names, file names, snippets, errors) has its control characters shown
/// as visible escapes (\x1B), never written raw.
std::string format_result(const RetrieveResult& result, std::span<const std::string> table_names,
                          size_t snippet_chars = 200);

/// `text` with runs of whitespace collapsed to one space and cut to at most `max_chars` UTF-8
/// characters at a character boundary ("..." appended when cut).
std::string make_snippet(std::string_view text, size_t max_chars);

}  // namespace ragperf
