#include "server/handlers.h"

// GCC 12 (RelWithDebInfo + sanitizers) reports Asio's awaitable frame deallocation as
// -Wmismatched-new-delete: Asio pairs its own operator new/delete for coroutine frames, a false
// positive. Silenced for this file's coroutines only.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// GCC reports -Wnull-dereference inside Asio's scheduler when inlined at -O3 (a false positive in
// a system header); silence it for Asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "ragperf/async_embedding.h"
#include "ragperf/embedding_model.h"
#include "ragperf/monitor.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/semantic_cache.h"
#include "ragperf/vector_store.h"
#include "server/json_codec.h"

namespace ragperf::server {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s);
  return buf;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

HttpResponse cached_response(const QueryAnswer& a) {
  nlohmann::json body = {{"hits", hits_to_json(a.result.hits)},
                         {"timings", {{"total_s", a.result.timings.total_s}}},
                         {"cache", "hit"},
                         {"cache_kind", to_string(a.cache)},
                         {"cache_similarity", a.cache_similarity}};
  HttpResponse r = json_response(200, body);
  r.headers.emplace_back("x-cache", "hit");
  return r;
}

QueryPipelineOptions pipeline_options(const ServerComponents& c) {
  QueryPipelineOptions o;
  o.cache = c.cache.get();
  o.monitor = c.monitor.get();
  o.runtime = c.runtime;
  return o;
}

}  // namespace

// ENABLE_ASYNC=0: a channel holding one token; a /query sends it to enter (waiting, in arrival
// order, while another query holds it) and takes it back when it is answered.
struct Handlers::QueryTurns {
  explicit QueryTurns(boost::asio::io_context::executor_type io) : turns(io, 1) {}
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> turns;
};

Handlers::Handlers(const ServerOptions& options, ServerComponents components,
                   ServerCounters& counters, boost::asio::io_context::executor_type io)
    : options_(options),
      components_(std::move(components)),
      counters_(counters),
      io_(io),
      pipeline_(components_.store, components_.embedder, pipeline_options(components_)) {
  model_id_ = components_.embedder->model().id();
  dim_ = components_.embedder->dim();
  if (options_.sequential_queries) query_turns_ = std::make_unique<QueryTurns>(io_);
}

Handlers::~Handlers() = default;

Handlers::Tables Handlers::resolve_tables(const std::vector<std::string>& requested) const {
  VectorStore& store = *components_.store;
  std::vector<CollectionInfo> infos;
  Tables out;
  const std::vector<std::string>& names = requested.empty() ? options_.default_tables : requested;
  const std::string field_base = requested.empty() ? "" : "tables";
  if (names.empty()) {
    for (const CollectionInfo& c : store.collections()) {
      if (c.dim == dim_ && (c.model_id.empty() || c.model_id == model_id_)) infos.push_back(c);
    }
    if (infos.empty()) {
      throw HttpError(422,
                      "no table in " + store.describe() + " was ingested with model " + model_id_ +
                          "; ingest files first (ragperf ingest PATH --table T --model ...) or "
                          "name the tables in \"tables\"",
                      "tables");
    }
  } else {
    std::set<std::string> seen;
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& name = names[i];
      const std::string field = field_base.empty() ? "" : "tables[" + std::to_string(i) + "]";
      if (!seen.insert(name).second) continue;
      if (name.find('@') != std::string::npos) {
        throw HttpError(422,
                        "table '" + TableRef::parse(name).display() +
                            "' names another server; the HTTP API searches the server's own "
                            "store only: pass a plain table name",
                        field);
      }
      try {
        validate_identifier(name, "table");
      } catch (const InputError& e) {
        throw HttpError(422, e.what(), field);
      }
      std::optional<CollectionInfo> info = store.collection(name);
      if (!info) {
        std::vector<std::string> known;
        for (const CollectionInfo& c : store.collections()) known.push_back(c.name);
        throw HttpError(
            422,
            "unknown table '" + name + "' in " + store.describe() + "; known tables: " +
                (known.empty() ? std::string("none (ingest files first)") : join(known)),
            field);
      }
      if (info->dim != dim_ || (!info->model_id.empty() && info->model_id != model_id_)) {
        throw HttpError(422,
                        "table '" + name + "' was ingested with model " + info->model_id +
                            " (dim " + std::to_string(info->dim) + "); this server embeds with " +
                            model_id_ + " (dim " + std::to_string(dim_) +
                            "): query other tables or restart the server with " +
                            how_to_load(info->model_id),
                        field);
      }
      infos.push_back(*info);
    }
  }
  std::set<std::string> metrics;
  for (const CollectionInfo& c : infos) {
    out.names.push_back(c.name);
    metrics.insert(to_string(c.metric));
  }
  for (const auto& m : metrics) out.metric += (out.metric.empty() ? "" : "+") + m;
  return out;
}

boost::asio::awaitable<HttpResponse> Handlers::query(const HttpRequest& request) {
  if (!query_turns_) co_return co_await run_query(request);
  auto& turns = query_turns_->turns;
  co_await turns.async_send(boost::system::error_code{}, boost::asio::use_awaitable);
  struct Leave {  // hands the turn on however the query ends
    decltype(turns)& t;
    ~Leave() {
      t.try_receive([](boost::system::error_code) {});
    }
  } leave{turns};
  co_return co_await run_query(request);
}

boost::asio::awaitable<HttpResponse> Handlers::run_query(const HttpRequest& request) {
  const QueryRequest q = parse_query_request(request.body, options_.max_top_k);
  // A named local, not a temporary in the co_await expression (GCC 12).
  auto resolve = [this, &q] { return resolve_tables(q.tables); };
  const Tables tables = co_await components_.runtime->on_compute(std::move(resolve));
  QueryTarget target;
  target.tables = tables.names;
  target.options.top_k = q.top_k;
  target.options.exact = q.exact;
  target.options.where = q.where;
  target.options.mode = q.mode;
  target.metric = tables.metric;
  if (q.rerank) {
    if (!components_.reranker) {
      throw HttpError(422,
                      "this server has no reranker; start it with --rerank-model M (a "
                      "cross-encoder folder or hub id), or leave \"rerank\" out",
                      "rerank");
    }
    target.rerank.model = components_.reranker;
    target.rerank.candidates =
        q.rerank_candidates ? q.rerank_candidates : options_.rerank_candidates;
  }
  QueryAnswer a;
  try {
    a = co_await pipeline_.async_query(std::move(target), q.text);
  } catch (const UnknownWordsError&) {
    throw HttpError(422,
                    "no word of \"text\" is known to the model " + model_id_ +
                        " (its embedding is all zeros, so nothing is similar to it); rephrase "
                        "the question with other words",
                    "text");
  }
  if (a.cache == CacheOutcome::kExactHit || a.cache == CacheOutcome::kSemanticHit) {
    co_return cached_response(a);
  }
  const RetrieveTimings& t = a.result.timings;
  nlohmann::json per_table = nlohmann::json::object();
  for (size_t i = 0; i < tables.names.size() && i < t.table_s.size(); ++i) {
    per_table[tables.names[i]] = t.table_s[i];
  }
  nlohmann::json body = {{"hits", hits_to_json(a.result.hits)},
                         {"timings",
                          {{"embed_s", t.embed_s},
                           {"query_s", t.query_s},
                           {"merge_s", t.merge_s},
                           {"total_s", t.total_s},
                           {"tables", std::move(per_table)}}},
                         {"cache", to_string(a.cache)}};
  if (q.rerank) body["timings"]["rerank_s"] = t.rerank_s;
  HttpResponse r = json_response(200, body);
  r.headers.emplace_back("x-cache", to_string(a.cache));
  r.headers.emplace_back("x-embed-time", seconds_text(t.embed_s));
  r.headers.emplace_back("x-query-time", seconds_text(t.query_s));
  co_return r;
}

boost::asio::awaitable<HttpResponse> Handlers::embed(const HttpRequest& request) {
  EmbedRequest e = parse_embed_request(request.body, options_.max_texts);
  const Clock::time_point start = Clock::now();
  const EmbeddingMatrix m = co_await components_.embedder->async_embed_batch(std::move(e.texts));
  const double embed_s = seconds_since(start);
  // Written by hand: nlohmann would widen every float to a 17-digit double.
  std::string body = "{\"embeddings\":[";
  body.reserve(body.size() + m.rows * m.dim * 12 + 32);
  char buf[32];
  for (size_t i = 0; i < m.rows; ++i) {
    body += i ? ",[" : "[";
    const std::span<const float> row = m.row(i);
    for (size_t k = 0; k < row.size(); ++k) {
      if (k) body += ',';
      if (!std::isfinite(row[k])) {
        body += "null";
        continue;
      }
      const auto res = std::to_chars(buf, buf + sizeof buf, row[k]);
      body.append(buf, res.ptr);
    }
    body += ']';
  }
  body += "],\"dim\":" + std::to_string(m.dim) + ",\"model\":" + dump(model_id_) + "}";
  HttpResponse r;
  r.body = std::move(body);
  r.headers.emplace_back("x-embed-time", seconds_text(embed_s));
  co_return r;
}

HttpResponse Handlers::metrics() const {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = components_.monitor->export_metrics(MetricsFormat::kPrometheus);
  return r;
}

HttpResponse Handlers::stats() const {
  nlohmann::json body;
  body["monitor"] = nlohmann::json::parse(components_.monitor->export_metrics(MetricsFormat::kJson),
                                          nullptr, false);
  if (const SemanticCache* cache = components_.cache.get()) {
    const CacheStats s = cache->get_stats();
    body["cache"] = {{"exact_hits", s.exact_hits},
                     {"semantic_hits", s.semantic_hits},
                     {"misses", s.misses},
                     {"exact_probe_misses", s.exact_probe_misses},
                     {"stores", s.stores},
                     {"evictions", s.evictions},
                     {"expirations", s.expirations},
                     {"invalidations", s.invalidations},
                     {"entries", s.entries},
                     {"bytes", s.bytes},
                     {"not_stored", s.not_stored},
                     {"hit_rate", s.hit_rate()},
                     {"lookup_p50_s", s.lookup_p50_s},
                     {"lookup_p99_s", s.lookup_p99_s}};
  } else {
    body["cache"] = nullptr;
  }
  const EmbeddingStats e = components_.embedder->get_stats();
  body["embedding"] = {{"model", model_id_},
                       {"dim", dim_},
                       {"embeddings", e.embeddings},
                       {"requests", e.requests},
                       {"batches", e.batches},
                       {"failed", e.failed},
                       {"throughput_embeddings_per_sec", e.throughput_embeddings_per_sec},
                       {"device", e.device},
                       {"threads", e.threads}};
  body["server"] = {{"requests", counters_.requests.load()},
                    {"errors_4xx", counters_.errors_4xx.load()},
                    {"errors_5xx", counters_.errors_5xx.load()},
                    {"in_flight", counters_.in_flight.load()},
                    {"connections", counters_.connections.load()}};
  return json_response(200, body);
}

boost::asio::awaitable<HttpResponse> Handlers::health() const {
  const std::string store = components_.store->describe();
  if (counters_.stopping.load()) {
    co_return json_response(
        503,
        {{"status", "unavailable"}, {"store", store}, {"error", "the server is shutting down"}});
  }
  std::string error;
  try {
    auto list = [this] { return components_.store->collections(); };
    const std::vector<CollectionInfo> infos =
        co_await components_.runtime->on_compute(std::move(list));
    size_t tables = 0;
    for (const CollectionInfo& c : infos) {
      if (c.dim == dim_ && (c.model_id.empty() || c.model_id == model_id_)) ++tables;
    }
    co_return json_response(200, {{"status", "ok"},
                                  {"store", store},
                                  {"model", model_id_},
                                  {"dim", dim_},
                                  {"tables", tables}});
  } catch (const std::exception& e) {
    error = e.what();
  }
  co_return json_response(503, {{"status", "unavailable"},
                                {"store", store},
                                {"error", "the store cannot be read: " + error}});
}

}  // namespace ragperf::server
