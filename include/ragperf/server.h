// ragperf/server.h defines Server, the HTTP front of the retrieval path (what `ragperf serve`
// runs): JSON endpoints over ParallelRetriever, AsyncEmbedding and SemanticCache, plus the
// PerformanceMonitor's metrics, for clients that used to call a FastAPI RAG service.
//
//   auto monitor = std::make_shared<ragperf::PerformanceMonitor>();
//   ragperf::ServerComponents parts;
//   parts.store = std::shared_ptr<ragperf::VectorStore>(ragperf::open_store(settings));
//   parts.embedder = std::make_shared<ragperf::AsyncEmbedding>(
//       model, ragperf::AsyncEmbeddingOptions{.monitor = monitor.get()});
//   parts.cache = std::make_shared<ragperf::SemanticCache>(ragperf::SemanticCacheOptions{},
//                                                          monitor.get());
//   parts.monitor = monitor;
//   ragperf::Server server({.port = 0}, parts);
//   server.start();                      // binds and listens; throws ConfigError when it cannot
//   std::cout << server.port() << "\n";  // the port picked
//   ...
//   server.stop();                       // in-flight requests are answered first
//
// Endpoints (JSON bodies need `Content-Type: application/json`):
//   POST /query  {"text": str, "tables": [str]?, "top_k": int = 4, "exact": bool = false}
//                -> {"hits": [{"id","table","text","score","similarity","source",
//                    "source_tables","metadata"}], "timings": {...}, "cache": "hit"|"miss"|"off"}
//                "tables" absent: every table of the store ingested with the server's model.
//   POST /embed  {"texts": [str], "truncate"?: bool} -> {"embeddings": [[float]], "dim": n,
//                "model", "truncated"?: [i]}; or TEI's {"inputs": str | [str], "normalize",
//                "truncate", "truncation_direction"} -> [[float]]
//   POST /v1/embeddings (and /embeddings)  OpenAI's {"input", "model", "encoding_format",
//                "dimensions", "user"} -> {"object": "list", "data": [...], "model", "usage"}
//   GET  /v1/models  the served model in OpenAI's list shape
//   POST /rerank   TEI's {"query", "texts", "return_text", "raw_scores", "truncate"} ->
//                  [{"index", "score", "text"?}] best first (ServerComponents::reranker)
//   POST /tokenize TEI's {"inputs", "add_special_tokens"} -> [[{"id", "text", "special",
//                  "start", "stop"}]]
//   GET  /info     TEI's model and limits
//   GET  /metrics  Prometheus text (ragperf_<stage>_duration_seconds histograms, counters)
//   GET  /stats    {"monitor": {...}, "cache": {...}, "embedding": {...}, "server": {...}}
//   GET  /health   200 {"status": "ok", "store": ...} or 503 {"status": "unavailable", ...}
// Over-long input on the embedding routes and /rerank is refused (413 naming the input, its
// tokens and the limit) unless the body says "truncate": true; a cut is reported in the
// x-truncated-inputs header (Truncation, ragperf/embedding_model.h).
// Errors are {"error": "...", "field": "..."?} (OpenAI's {"error": {"message", "type", "param",
// "code"}} on /v1/*, TEI's {"error", "error_type"} on TEI's routes): 400 invalid JSON or UTF-8,
// 404 unknown path, 405 wrong method (with Allow), 413 body over max_body_bytes or input over
// the model's length, 415 wrong Content-Type, 422 a field with a wrong type or value
// (missing/empty text, top_k outside [1, max_top_k], unknown table; 400 on /v1/*, as OpenAI),
// 424 /rerank without a reranker, 429/503/504 for overload, unavailable and timeouts, 500
// anything else. Each response carries TEI's x-total-time, x-tokenization-time, x-queue-time
// and x-inference-time (milliseconds); /query adds x-embed-time, x-query-time and /embed
// x-embed-time (seconds).
//
// Connections: HTTP/1.1 keep-alive, one coroutine per connection on the Runtime's I/O threads
// (ragperf/runtime.h; RAGPERF_IO_THREADS): the server starts no threads of its own. The work of a
// request runs there too: embedding passes and embedded-store scans on the compute pool,
// PostgreSQL waits on sockets. No request blocks an I/O thread on CPU work.
//
// Thread-safety: start() and stop() are called by the owner, not from a request; port(),
// running() may be called from any thread. The components must outlive nothing: the server
// keeps shared ownership.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ragperf {

class AsyncEmbedding;
class CrossEncoder;
class PerformanceMonitor;
class Runtime;
class SemanticCache;
class VectorStore;

struct ServerOptions {
  std::string host = "127.0.0.1";   // address to bind: "0.0.0.0" / "::" listens on every interface
  uint16_t port = 8080;             // 0: the system picks a free port (see Server::port())
  size_t max_body_bytes = 1 << 20;  // larger request bodies get 413
  size_t max_top_k = 1000;          // top_k above it gets 422
  size_t max_texts = 1024;          // /embed texts per request, at most (422 above)
  std::chrono::duration<double> idle_timeout = std::chrono::seconds(60);  // keep-alive idle
  std::chrono::duration<double> io_timeout = std::chrono::seconds(30);    // one read or write
  /// stop() waits this long for in-flight requests, then closes what is left.
  std::chrono::duration<double> shutdown_grace = std::chrono::seconds(30);
  /// Tables searched when a query names none; empty: every table ingested with the model
  /// (looked up per request, so tables ingested while the server runs are found).
  std::vector<std::string> default_tables{};
  /// Candidates a reranked /query scores when it names none ("rerank": true).
  size_t rerank_candidates = 50;
  /// ENABLE_ASYNC=0: /query requests run one at a time, each to completion (embedded, searched,
  /// answered) before the next one starts; the others wait their turn in arrival order.
  /// Default (ENABLE_ASYNC=1): queries run concurrently. /embed and the other endpoints are not
  /// affected.
  bool sequential_queries = false;
  /// The access log (`ragperf serve --access-log`, RAGPERF_ACCESS_LOG): called once per request
  /// with one JSON line (no newline): {"ts", "method", "route", "path", "status", "bytes",
  /// "total_ms", "tokenization_ms", "queue_ms", "inference_ms"}. Empty (the default): no log.
  /// Called on an I/O thread, concurrently from several: it must be thread-safe and quick.
  std::function<void(const std::string& line)> access_log{};
};

struct ServerComponents {
  std::shared_ptr<VectorStore> store;           // required: where plain table names live
  std::shared_ptr<AsyncEmbedding> embedder;     // required: the model queries are embedded with
  std::shared_ptr<SemanticCache> cache;         // optional: null answers every query afresh
  std::shared_ptr<PerformanceMonitor> monitor;  // optional: created when null; give the same one
                                                // to the embedder and the cache for /metrics
  std::shared_ptr<Runtime> runtime;             // optional: Runtime::shared() when null; give the
                                                // one the embedder and the store run on
  /// Optional: the cross-encoder a /query with "rerank" uses (null: such a query gets 422).
  std::shared_ptr<const CrossEncoder> reranker;
};

class Server {
 public:
  /// Throws ConfigError for a missing store or embedder, max_body_bytes 0, max_top_k 0 or
  /// max_texts 0.
  Server(ServerOptions options, ServerComponents components);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds, listens and starts accepting on the Runtime's I/O threads. Throws ConfigError naming
  /// host:port when the address cannot be resolved or bound (e.g. the port is in use). Call once.
  void start();
  /// The port listened on (the chosen one when options.port was 0); 0 before start().
  uint16_t port() const;
  /// True between start() and stop().
  bool running() const;
  /// Stops accepting, closes idle keep-alive connections, lets in-flight requests finish and
  /// answer (with `Connection: close`) for up to shutdown_grace, then closes the rest and waits
  /// for their handlers to return (each is bounded by the store's and the pool's timeouts).
  /// Idempotent; must not be called from a request handler or a Runtime I/O thread.
  void stop();

  PerformanceMonitor& monitor();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragperf
