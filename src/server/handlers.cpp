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
#include "ragperf/cross_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/monitor.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/runtime.h"
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

// The vector as JSON numbers, each the shortest text that reads back as the same float
// (nlohmann would widen every float to a 17-digit double); non-finite values as null.
void append_floats(std::string& out, std::span<const float> row) {
  char buf[32];
  out += '[';
  for (size_t k = 0; k < row.size(); ++k) {
    if (k) out += ',';
    if (!std::isfinite(row[k])) {
      out += "null";
      continue;
    }
    const auto res = std::to_chars(buf, buf + sizeof buf, row[k]);
    out.append(buf, res.ptr);
  }
  out += ']';
}

void l2_normalize(std::span<float> row) {
  double norm = 0;
  for (float v : row) norm += double{v} * v;
  if (norm <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& v : row) v *= inv;
}

// Which inputs were cut, for the "truncated" answers.
std::vector<size_t> truncated_indices(const EmbedDetails& d) {
  std::vector<size_t> out;
  for (size_t i = 0; i < d.truncated_from.size(); ++i) {
    if (d.truncated_from[i]) out.push_back(i);
  }
  return out;
}

void add_truncation_header(HttpResponse& r, Truncation truncation, size_t n_truncated) {
  if (truncation == Truncation::kRefuse) return;
  r.headers.emplace_back("x-truncated-inputs", std::to_string(n_truncated));
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
  created_ = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
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
  for (const CollectionInfo& c : infos) out.names.push_back(c.name);
  out.metric = metric_of(infos);
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

boost::asio::awaitable<EmbedOutcome> Handlers::embed_inputs(std::vector<EmbedInput> inputs,
                                                            Truncation truncation,
                                                            std::string field,
                                                            RequestContext& ctx) {
  EmbedOutcome outcome;
  try {
    outcome = co_await components_.embedder->async_embed_inputs(std::move(inputs), truncation);
  } catch (const InputTooLongError& e) {
    const std::string at = field + "[" + std::to_string(e.index()) + "]";
    throw HttpError(413,
                    at + " has " + std::to_string(e.tokens()) + " tokens; the model " + model_id_ +
                        " takes at most " + std::to_string(e.limit()) +
                        ": shorten or split it, or send \"truncate\": true to cut it to the limit "
                        "(\"truncation_direction\": \"Left\" keeps the end)",
                    at, "context_length_exceeded");
  }
  ctx.tokenization_s = outcome.details.tokenize_s;
  ctx.queue_s = outcome.queue_s;
  ctx.inference_s = outcome.details.inference_s;
  co_return outcome;
}

boost::asio::awaitable<HttpResponse> Handlers::embed(const HttpRequest& request,
                                                     RequestContext& ctx) {
  EmbedRequest e;
  try {
    e = parse_embed_request(request.body, options_.max_texts);
  } catch (const HttpError&) {
    if (is_tei_embed_body(request.body)) ctx.api = Api::kTei;  // refused in TEI's shape
    throw;
  }
  if (e.tei) ctx.api = Api::kTei;
  const bool normalizes = components_.embedder->model().normalizes();
  if (e.tei && !e.normalize && normalizes) {
    throw HttpError(422,
                    "\"normalize\": false is not available: the model " + model_id_ +
                        " normalises its vectors itself (its Normalize module); leave "
                        "\"normalize\" out",
                    "normalize");
  }
  std::vector<EmbedInput> inputs;
  inputs.reserve(e.texts.size());
  for (auto& t : e.texts) inputs.emplace_back(std::move(t));
  const std::string field = e.tei ? "inputs" : "texts";
  EmbedOutcome outcome = co_await embed_inputs(std::move(inputs), e.truncation, field, ctx);
  EmbeddingMatrix& m = outcome.vectors;
  const std::vector<size_t> cut = truncated_indices(outcome.details);
  std::string body;
  body.reserve(m.rows * m.dim * 12 + 64);
  if (e.tei) {  // TEI: a bare list of vectors
    body += '[';
    for (size_t i = 0; i < m.rows; ++i) {
      if (i) body += ',';
      if (e.normalize && !normalizes) l2_normalize(m.row(i));
      append_floats(body, m.row(i));
    }
    body += ']';
  } else {
    body = "{\"embeddings\":[";
    for (size_t i = 0; i < m.rows; ++i) {
      if (i) body += ',';
      append_floats(body, m.row(i));
    }
    body += "],\"dim\":" + std::to_string(m.dim) + ",\"model\":" + dump(model_id_);
    if (e.truncation != Truncation::kRefuse) body += ",\"truncated\":" + dump(cut);
    body += '}';
  }
  HttpResponse r;
  r.body = std::move(body);
  add_truncation_header(r, e.truncation, cut.size());
  r.headers.emplace_back("x-embed-time",
                         seconds_text(outcome.details.tokenize_s + outcome.details.inference_s));
  co_return r;
}

boost::asio::awaitable<HttpResponse> Handlers::openai_embeddings(const HttpRequest& request,
                                                                 RequestContext& ctx) {
  OpenAiEmbeddingsRequest q = parse_openai_embeddings_request(request.body, options_.max_texts);
  if (q.dimensions > dim_) {
    throw HttpError(422,
                    "\"dimensions\" is " + std::to_string(q.dimensions) + "; the model " +
                        model_id_ + " makes " + std::to_string(dim_) +
                        "-dimensional vectors: ask for at most " + std::to_string(dim_),
                    "dimensions");
  }
  std::string field = "input";  // a named local, not a temporary in the co_await (GCC 12)
  EmbedOutcome outcome = co_await embed_inputs(std::move(q.inputs), q.truncation, field, ctx);
  EmbeddingMatrix& m = outcome.vectors;
  const size_t d = q.dimensions ? q.dimensions : m.dim;
  const bool renormalise = d < m.dim && components_.embedder->model().normalizes();
  size_t tokens = 0;
  for (size_t n : outcome.details.tokens) tokens += n;
  std::string body = "{\"object\":\"list\",\"data\":[";
  body.reserve(m.rows * d * (q.base64 ? 6 : 12) + 128);
  for (size_t i = 0; i < m.rows; ++i) {
    std::span<float> row = m.row(i).first(d);
    if (renormalise) l2_normalize(row);
    if (i) body += ',';
    body += "{\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
    if (q.base64) {
      body += '"';
      body += base64_floats(row);
      body += '"';
    } else {
      append_floats(body, row);
    }
    body += '}';
  }
  body += "],\"model\":" + dump(model_id_) +
          ",\"usage\":{\"prompt_tokens\":" + std::to_string(tokens) +
          ",\"total_tokens\":" + std::to_string(tokens) + "}}";
  HttpResponse r;
  r.body = std::move(body);
  add_truncation_header(r, q.truncation, truncated_indices(outcome.details).size());
  co_return r;
}

HttpResponse Handlers::openai_models() const {
  nlohmann::json model = {
      {"id", model_id_}, {"object", "model"}, {"created", created_}, {"owned_by", "ragperf"}};
  return json_response(200, {{"object", "list"}, {"data", nlohmann::json::array({model})}});
}

boost::asio::awaitable<HttpResponse> Handlers::rerank(const HttpRequest& request,
                                                      RequestContext& ctx) {
  ctx.api = Api::kTei;
  RerankRequest q = parse_rerank_request(request.body, options_.max_texts);
  std::shared_ptr<const CrossEncoder> ce = components_.reranker;
  if (!ce) {
    throw HttpError(424,
                    "this server has no reranker: start it with --rerank-model M (or "
                    "RAGPERF_RERANK_MODEL=M), M a cross-encoder folder or hub id");
  }
  struct Scored {
    std::vector<PairScore> scores;
    std::vector<size_t> truncated;
    double seconds = 0;
  };
  auto work = [ce, &q] {
    Scored out;
    const Clock::time_point t0 = Clock::now();
    out.scores = ce->score(q.query, q.texts, q.truncation, &out.truncated);
    out.seconds = seconds_since(t0);
    return out;
  };
  Scored scored;
  try {
    scored = co_await components_.runtime->on_compute(std::move(work));
  } catch (const InputTooLongError& e) {
    const std::string at = "texts[" + std::to_string(e.index()) + "]";
    throw HttpError(413,
                    "the pair of \"query\" and " + at + " has " + std::to_string(e.tokens()) +
                        " tokens; the reranker " + ce->id() + " takes at most " +
                        std::to_string(e.limit()) +
                        ": shorten them, or send \"truncate\": true to cut the pair",
                    at, "context_length_exceeded");
  }
  ctx.inference_s = scored.seconds;
  std::vector<size_t> order(q.texts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return scored.scores[a].score > scored.scores[b].score;
  });
  nlohmann::json body = nlohmann::json::array();
  for (size_t i : order) {
    const PairScore& s = scored.scores[i];
    nlohmann::json item = {{"index", i}, {"score", q.raw_scores ? s.logit : s.score}};
    if (q.return_text) item["text"] = q.texts[i];
    body.push_back(std::move(item));
  }
  HttpResponse r = json_response(200, body);
  size_t cut = 0;
  for (size_t n : scored.truncated) cut += n ? 1 : 0;
  add_truncation_header(r, q.truncation, cut);
  co_return r;
}

boost::asio::awaitable<HttpResponse> Handlers::tokenize(const HttpRequest& request,
                                                        RequestContext& ctx) {
  ctx.api = Api::kTei;
  TokenizeRequest q = parse_tokenize_request(request.body, options_.max_texts);
  EmbeddingModel& model = components_.embedder->model();
  auto work = [&model, &q] {
    std::vector<std::vector<TextToken>> out;
    out.reserve(q.inputs.size());
    for (size_t i = 0; i < q.inputs.size(); ++i) {
      try {
        out.push_back(model.text_tokens(q.inputs[i], q.add_special_tokens));
      } catch (const InputError& e) {
        throw HttpError(422, "inputs[" + std::to_string(i) + "]: " + e.what(),
                        "inputs[" + std::to_string(i) + "]");
      }
    }
    return out;
  };
  const Clock::time_point t0 = Clock::now();
  const std::vector<std::vector<TextToken>> tokens =
      co_await components_.runtime->on_compute(std::move(work));
  ctx.tokenization_s = seconds_since(t0);
  nlohmann::json body = nlohmann::json::array();
  for (const auto& list : tokens) {
    nlohmann::json items = nlohmann::json::array();
    for (const TextToken& t : list) {
      nlohmann::json item = {{"id", t.id}, {"text", t.text}, {"special", t.special}};
      item["start"] = nullptr;  // no ?: on json temporaries in a coroutine (GCC 12)
      item["stop"] = nullptr;
      if (!t.special) {
        item["start"] = t.start;
        item["stop"] = t.stop;
      }
      items.push_back(std::move(item));
    }
    body.push_back(std::move(items));
  }
  co_return json_response(200, body);
}

HttpResponse Handlers::info() const {
  EmbeddingModel& model = components_.embedder->model();
  const EmbeddingStats stats = components_.embedder->get_stats();
  nlohmann::json body = {
      {"model_id", model_id_},
      {"model_sha", nullptr},
      {"model_dtype", "float32"},
      {"model_type", {{"embedding", {{"dim", dim_}, {"normalized", model.normalizes()}}}}},
      {"max_input_length", model.max_tokens()},
      {"max_batch_requests", stats.max_batch},
      {"max_client_batch_size", options_.max_texts},
      {"tokenization_workers", stats.threads},
      {"version", RAGPERF_VERSION},
      {"reranker", nullptr}};
  if (const CrossEncoder* ce = components_.reranker.get()) {
    body["reranker"] = {{"model_id", ce->id()}, {"max_input_length", ce->max_length()}};
  }
  return json_response(200, body);
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
