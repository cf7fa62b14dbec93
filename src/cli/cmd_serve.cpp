// `ragperf serve`: the HTTP API (ragperf/server.h) over the store the settings select and one
// embedding model, with a semantic cache in front of retrieval. Prints
// "listening on http://HOST:PORT" on stdout once it accepts connections; SIGINT / SIGTERM finish
// the requests in flight and exit 0.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#pragma GCC diagnostic pop

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "command.h"
#include "model_choice.h"
#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/cross_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/model_locator.h"
#include "ragperf/monitor.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/retriever.h"
#include "ragperf/runtime.h"
#include "ragperf/semantic_cache.h"
#include "ragperf/server.h"
#include "ragperf/vector_store.h"

namespace {

struct ServeArgs {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string model;
  std::vector<std::string> tables;
  size_t threads = 0;  // 0: RAGPERF_IO_THREADS
  size_t max_body_bytes = 1 << 20;
  size_t cache_capacity = 10000;
  size_t cache_max_bytes = size_t{256} << 20;
  double cache_ttl_s = 3600;
  double cache_threshold = ragperf::SemanticCacheOptions{}.similarity_threshold;
  bool cache_exact_only = false;
  double shutdown_grace_s = 30;
  std::string rerank_model;
  size_t rerank_candidates = 50;
  bool access_log = false;
};

void run_serve(const ServeArgs& args) {
  if (args.port < 0 || args.port > 65535) {
    throw ragperf::InputError("--port " + std::to_string(args.port) +
                              " is not a TCP port; use 1-65535, or 0 for any free port");
  }
  if (args.max_body_bytes == 0) throw ragperf::InputError("--max-body-bytes 0: use at least 1");
  if (args.shutdown_grace_s < 0) throw ragperf::InputError("--shutdown-grace must be >= 0");
  for (const auto& t : args.tables) ragperf::validate_identifier(t, "table");

  const ragperf::Settings settings = ragperf::load_settings();
  if (args.threads > 0) {  // before anything uses the shared runtime
    ragperf::RuntimeOptions runtime = ragperf::RuntimeOptions::from_settings(settings);
    runtime.io_threads = args.threads;
    ragperf::Runtime::configure_shared(runtime);
  }
  std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);
  std::vector<ragperf::CollectionInfo> infos;
  if (args.tables.empty()) {
    infos = store->collections();
  } else {
    for (const auto& t : args.tables) {
      auto info = store->collection(t);
      if (!info) {
        throw ragperf::InputError("--tables: no table '" + t + "' in " + store->describe() +
                                  "; ingest it first (ragperf ingest PATH --table " + t + ")");
      }
      infos.push_back(*info);
    }
  }
  const std::string model_name = ragperf::cli::choose_model(args.model, settings, infos);
  std::shared_ptr<ragperf::EmbeddingModel> model = ragperf::cli::load_model(model_name, settings);
  std::shared_ptr<const ragperf::CrossEncoder> reranker;
  if (!args.rerank_model.empty()) {
    reranker = ragperf::CrossEncoder::load(ragperf::resolve_model(args.rerank_model, settings));
  }

  auto monitor = std::make_shared<ragperf::PerformanceMonitor>();
  ragperf::AsyncEmbeddingOptions embed_options =
      ragperf::AsyncEmbeddingOptions::from_settings(settings);
  embed_options.monitor = monitor.get();
  ragperf::ServerComponents parts;
  parts.store = store;
  parts.embedder = std::make_shared<ragperf::AsyncEmbedding>(model, embed_options);
  parts.monitor = monitor;
  parts.reranker = reranker;
  if (args.cache_capacity > 0) {
    ragperf::SemanticCacheOptions cache_options;
    cache_options.capacity = args.cache_capacity;
    cache_options.max_bytes = args.cache_max_bytes;
    cache_options.ttl = std::chrono::duration<double>(args.cache_ttl_s);
    cache_options.similarity_threshold = args.cache_threshold;
    cache_options.exact_only = args.cache_exact_only;
    parts.cache = std::make_shared<ragperf::SemanticCache>(cache_options, monitor.get());
  }

  ragperf::ServerOptions options;
  options.host = args.host;
  options.port = static_cast<uint16_t>(args.port);
  options.max_body_bytes = args.max_body_bytes;
  options.shutdown_grace = std::chrono::duration<double>(args.shutdown_grace_s);
  options.default_tables = args.tables;
  options.rerank_candidates = args.rerank_candidates;
  options.sequential_queries = !settings.enable_async;  // ENABLE_ASYNC=0: one query at a time
  if (args.access_log) {
    auto lock = std::make_shared<std::mutex>();
    options.access_log = [lock](const std::string& line) {
      std::lock_guard guard(*lock);
      std::cerr << line << '\n';
    };
  }

  // Installed before the server starts, so a signal sent as soon as the port is printed is caught.
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code&, int signal) { received = signal; });

  ragperf::Server server(options, parts);
  server.start();
  const std::string host =
      args.host.find(':') != std::string::npos ? "[" + args.host + "]" : args.host;
  std::cerr << "ragperf serve: model " << model->id() << ", " << store->describe() << ", tables "
            << (args.tables.empty() ? std::string("(every table of the model)") : [&] {
                 std::string s;
                 for (const auto& t : args.tables) s += (s.empty() ? "" : ",") + t;
                 return s;
               }())
            << "; cache " << (parts.cache ? "on" : "off")
            << (reranker ? "; reranker " + reranker->id() : std::string())
            << (options.sequential_queries ? "; queries one at a time (ENABLE_ASYNC=0)" : "")
            << "\n";
  std::cout << "listening on http://" << host << ":" << server.port() << std::endl;

  signals_io.run();
  std::cerr << "ragperf serve: " << (received == SIGINT ? "SIGINT" : "SIGTERM")
            << ": finishing requests in flight\n";
  server.stop();
  std::cerr << "ragperf serve: stopped\n";
}

void setup_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve",
      "HTTP API: POST /query, POST /embed, OpenAI's POST /v1/embeddings and GET /v1/models, "
      "TEI's POST /embed, /rerank, /tokenize and GET /info, GET /metrics, /stats, /health "
      "(JSON; see README)");
  cmd->add_option("--host", args->host,
                  "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)")
      ->envname("RAGPERF_HOST");
  cmd->add_option("--port,-p", args->port,
                  "TCP port (default 8080); 0 picks a free one, printed as `listening on ...`")
      ->envname("RAGPERF_PORT");
  cmd->add_option("--model,-m", args->model,
                  "Embedding model folder or hub id; must be the tables' model. Default: "
                  "EMBED_MODEL when set, else the demo model for tables ingested with it");
  cmd->add_option("--tables,-t", args->tables,
                  "Tables a query searches when it names none, comma-separated. Default: every "
                  "table of the store ingested with the model (looked up per request)")
      ->delimiter(',');
  cmd->add_option("--threads", args->threads,
                  "I/O threads of the process (default RAGPERF_IO_THREADS, 1): they accept, parse "
                  "and write HTTP and wait on PostgreSQL; embedding and embedded-store searches "
                  "run on the compute threads (RAGPERF_THREADS)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-body-bytes", args->max_body_bytes,
                  "Largest request body (1048576); larger ones get 413")
      ->envname("RAGPERF_MAX_BODY_BYTES");
  cmd->add_option("--cache-capacity", args->cache_capacity,
                  "Semantic cache entries (10000); 0 turns the cache off")
      ->envname("RAGPERF_CACHE_CAPACITY");
  cmd->add_option("--cache-max-bytes", args->cache_max_bytes,
                  "Bytes the semantic cache may hold (268435456, 256 MiB); least recently used "
                  "answers go first. Query texts over 4096 bytes are never cached")
      ->check(CLI::PositiveNumber)
      ->envname("RAGPERF_CACHE_MAX_BYTES");
  cmd->add_option("--cache-ttl", args->cache_ttl_s,
                  "Seconds a cached answer lives (3600); 0: until evicted")
      ->envname("RAGPERF_CACHE_TTL");
  cmd->add_option("--cache-threshold", args->cache_threshold,
                  "Cosine similarity a paraphrase needs to reuse a cached answer (0.998: with "
                  "all-MiniLM-L6-v2 only near-duplicates hit; README, Semantic cache): lower = "
                  "more hits, more wrong answers")
      ->envname("RAGPERF_CACHE_THRESHOLD");
  cmd->add_flag("--cache-exact-only", args->cache_exact_only,
                "Answer from the cache only for the same normalised text (no similarity tier)");
  cmd->add_option("--rerank-model", args->rerank_model,
                  "Cross-encoder folder or hub id that /query uses when a request says "
                  "\"rerank\" (none by default)")
      ->envname("RAGPERF_RERANK_MODEL");
  cmd->add_option("--rerank-candidates", args->rerank_candidates,
                  "Hits a reranked /query scores when it names none (50)")
      ->check(CLI::Range(size_t{1}, ragperf::RerankOptions::kMaxCandidates));
  cmd->add_flag("--access-log", args->access_log,
                "One JSON line per request on stderr (method, route, status, bytes, total and "
                "stage times in ms); off by default: a line costs a little time per request")
      ->envname("RAGPERF_ACCESS_LOG");
  cmd->add_option("--shutdown-grace", args->shutdown_grace_s,
                  "Seconds SIGTERM waits for requests in flight before closing them (30)");
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_serve);
