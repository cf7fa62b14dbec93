// server/handlers.h: what each endpoint does, given a parsed request. Handlers throw HttpError or
// ragperf::Error; the router turns both into JSON error responses.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ragperf/async_embedding.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/server.h"
#include "server/http_types.h"

namespace ragperf::server {

/// Counters the connections update and /stats, /health read.
struct ServerCounters {
  std::atomic<uint64_t> requests{0};    // requests answered
  std::atomic<uint64_t> errors_4xx{0};  // answered with a 4xx status
  std::atomic<uint64_t> errors_5xx{0};  // answered with a 5xx status
  std::atomic<int64_t> in_flight{0};    // requests read and not yet answered
  std::atomic<int64_t> connections{0};  // open connections
  std::atomic<bool> stopping{false};    // stop() has begun
};

class Handlers {
 public:
  /// `components` must hold a store, an embedder and a monitor.
  /// `io`: the Runtime's I/O executor (callbacks from other threads are posted to it).
  Handlers(const ServerOptions& options, ServerComponents components, ServerCounters& counters,
           boost::asio::io_context::executor_type io);
  ~Handlers();

  /// With ServerOptions::sequential_queries, waits for its turn first (see there).
  boost::asio::awaitable<HttpResponse> query(const HttpRequest& request);
  /// ragperf's body or TEI's (sets ctx.api to kTei for TEI's); fills ctx's stage times.
  boost::asio::awaitable<HttpResponse> embed(const HttpRequest& request, RequestContext& ctx);
  /// POST /v1/embeddings, OpenAI's request and answer.
  boost::asio::awaitable<HttpResponse> openai_embeddings(const HttpRequest& request,
                                                         RequestContext& ctx);
  /// GET /v1/models: the served model in OpenAI's list shape.
  HttpResponse openai_models() const;
  /// POST /rerank (TEI) with the server's cross-encoder; 424 when none is configured.
  boost::asio::awaitable<HttpResponse> rerank(const HttpRequest& request, RequestContext& ctx);
  /// POST /tokenize (TEI).
  boost::asio::awaitable<HttpResponse> tokenize(const HttpRequest& request, RequestContext& ctx);
  /// GET /info (TEI): the model and the server's limits.
  HttpResponse info() const;
  HttpResponse metrics() const;
  HttpResponse stats() const;
  /// Lists the store's tables on the compute pool (a store's metadata calls may block).
  boost::asio::awaitable<HttpResponse> health() const;

  PerformanceMonitor& monitor() const { return *components_.monitor; }
  const ServerOptions& options() const { return options_; }

 private:
  struct Tables {
    std::vector<std::string> names;  // validated, deduplicated, in request order
    std::string metric;              // "cosine", or "cosine+l2" for mixed tables
  };
  /// Blocking (the store's metadata calls): run it on the compute pool, never on an I/O thread,
  /// where a PostgreSQL store's blocking calls would wait for the thread they run on.
  Tables resolve_tables(const std::vector<std::string>& requested) const;
  boost::asio::awaitable<HttpResponse> run_query(const HttpRequest& request);
  /// The embedder under `truncation`; an over-long input is a 413 naming `field`[i] and the
  /// way to ask for truncation. Fills ctx's stage times.
  boost::asio::awaitable<EmbedOutcome> embed_inputs(std::vector<EmbedInput> inputs,
                                                    Truncation truncation, std::string field,
                                                    RequestContext& ctx);

  struct QueryTurns;  // one /query at a time (sequential_queries), defined in handlers.cpp

  const ServerOptions& options_;
  ServerComponents components_;
  ServerCounters& counters_;
  boost::asio::io_context::executor_type io_;
  std::string model_id_;
  size_t dim_ = 0;
  int64_t created_ = 0;     // when the server was made (Unix seconds): /v1/models' "created"
  QueryPipeline pipeline_;  // exact cache -> embed -> semantic cache -> search -> merge -> store
  std::unique_ptr<QueryTurns> query_turns_;  // null unless options.sequential_queries
};

}  // namespace ragperf::server
