#include "server/router.h"

// GCC 12 (RelWithDebInfo + sanitizers) reports Asio's awaitable frame deallocation as
// -Wmismatched-new-delete: Asio pairs its own operator new/delete for coroutine frames, a false
// positive. Silenced for this file's coroutines only.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>

#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "server/json_codec.h"

namespace ragperf::server {

namespace {

enum class Route {
  kQuery,
  kEmbed,
  kOpenAiEmbeddings,
  kOpenAiModels,
  kRerank,
  kTokenize,
  kInfo,
  kMetrics,
  kStats,
  kHealth
};

struct RouteInfo {
  const char* path;
  const char* method;
  Route route;
  const char* stage;  // the monitor's stage and the access log's "route"
  Api api;            // the shape of its errors (/embed: TEI's when the body is TEI's)
};

// The one route table: every request is matched here, and checked here (method, Content-Type;
// later access control and limits) before its handler runs.
constexpr RouteInfo kRoutes[] = {
    {"/query", "POST", Route::kQuery, "http_query", Api::kRagperf},
    {"/embed", "POST", Route::kEmbed, "http_embed", Api::kRagperf},
    {"/v1/embeddings", "POST", Route::kOpenAiEmbeddings, "http_openai_embeddings", Api::kOpenAi},
    {"/embeddings", "POST", Route::kOpenAiEmbeddings, "http_openai_embeddings", Api::kOpenAi},
    {"/v1/models", "GET", Route::kOpenAiModels, "http_openai_models", Api::kOpenAi},
    {"/rerank", "POST", Route::kRerank, "http_rerank", Api::kTei},
    {"/tokenize", "POST", Route::kTokenize, "http_tokenize", Api::kTei},
    {"/info", "GET", Route::kInfo, "http_info", Api::kTei},
    {"/metrics", "GET", Route::kMetrics, "http_metrics", Api::kRagperf},
    {"/stats", "GET", Route::kStats, "http_stats", Api::kRagperf},
    {"/health", "GET", Route::kHealth, "http_health", Api::kRagperf},
};

std::string endpoint_list() {
  std::string out;
  for (const RouteInfo& r : kRoutes) {
    out += out.empty() ? "" : ", ";
    out += std::string(r.method) + " " + r.path;
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "application/json" or "application/json; charset=utf-8" (any case); other charsets refused.
bool is_json(const std::string& content_type) {
  const std::string ct = lower(content_type);
  const size_t semi = ct.find(';');
  std::string type = ct.substr(0, semi);
  type.erase(type.find_last_not_of(" \t") + 1);
  if (type != "application/json") return false;
  if (semi == std::string::npos) return true;
  const size_t cs = ct.find("charset=", semi);
  if (cs == std::string::npos) return true;
  std::string charset = ct.substr(cs + 8);
  charset.erase(std::remove(charset.begin(), charset.end(), '"'), charset.end());
  charset.erase(charset.find_last_not_of(" \t") + 1);
  return charset == "utf-8" || charset == "utf8";
}

// The one decision of an error's shape: the family of the route (or of the path, when no route
// matched: /v1/* is OpenAI's).
HttpResponse from_exception(std::exception_ptr error, Api api) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    return error_response(e, api);
  } catch (const InputTooLongError& e) {
    return error_response(HttpError(413, e.what(), "", "context_length_exceeded"), api);
  } catch (const Error& e) {
    return error_response(HttpError(status_for(e.code()), e.what()), api);
  } catch (const std::exception& e) {
    return error_response(HttpError(500, std::string("internal error: ") + e.what()), api);
  } catch (...) {
    return error_response(HttpError(500, "internal error (unknown exception)"), api);
  }
}

std::string path_of(const HttpRequest& request) {
  std::string path = request.target.substr(0, request.target.find('?'));
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

const RouteInfo* find_route(const std::string& path) {
  for (const RouteInfo& r : kRoutes) {
    if (path == r.path) return &r;
  }
  return nullptr;
}

Api api_of_path(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 ? Api::kOpenAi : Api::kRagperf;
}

boost::asio::awaitable<HttpResponse> dispatch(Handlers& handlers, const HttpRequest& request,
                                              const RouteInfo* info, RequestContext& ctx) {
  const std::string path = path_of(request);
  if (!info) throw HttpError(404, "no endpoint " + path + "; the endpoints are " + endpoint_list());
  const bool head_ok = std::string(info->method) == "GET" && request.method == "HEAD";
  if (request.method != info->method && !head_ok) {
    HttpError e(405, request.method + " " + info->path + " is not supported; use " + info->method +
                         " " + info->path);
    HttpResponse r = error_response(e, info->api);
    r.headers.emplace_back("Allow", info->method);
    co_return r;
  }
  if (std::string(info->method) == "POST" && !is_json(request.content_type)) {
    throw HttpError(415, "Content-Type is '" + request.content_type + "' on POST " + info->path +
                             "; send the body as JSON with Content-Type: application/json");
  }
  switch (info->route) {
    case Route::kQuery:
      co_return co_await handlers.query(request);
    case Route::kEmbed:
      co_return co_await handlers.embed(request, ctx);
    case Route::kOpenAiEmbeddings:
      co_return co_await handlers.openai_embeddings(request, ctx);
    case Route::kOpenAiModels:
      co_return handlers.openai_models();
    case Route::kRerank:
      co_return co_await handlers.rerank(request, ctx);
    case Route::kTokenize:
      co_return co_await handlers.tokenize(request, ctx);
    case Route::kInfo:
      co_return handlers.info();
    case Route::kMetrics:
      co_return handlers.metrics();
    case Route::kStats:
      co_return handlers.stats();
    case Route::kHealth:
      co_return co_await handlers.health();
  }
  throw HttpError(404, "no endpoint " + path);
}

std::string ms_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds * 1000.0);
  return buf;
}

// One JSON line: method, route, path, status, bytes, total and stage times (ms).
std::string access_log_line(const HttpRequest& request, const RouteInfo* info,
                            const HttpResponse& response, double total_s,
                            const RequestContext& ctx) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::json line = {
      {"ts", std::chrono::duration<double>(now).count()},
      {"method", request.method},
      {"route", nullptr},
      {"path", path_of(request)},
      {"status", response.status},
      {"bytes", response.body.size()},
      {"total_ms", total_s * 1000.0},
      {"tokenization_ms", ctx.tokenization_s * 1000.0},
      {"queue_ms", ctx.queue_s * 1000.0},
      {"inference_ms", ctx.inference_s * 1000.0},
  };
  if (info) line["route"] = info->path;
  return dump(line);
}

}  // namespace

boost::asio::awaitable<HttpResponse> route(Handlers& handlers, const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const RouteInfo* matched = find_route(path_of(request));
  RequestContext ctx;
  ctx.api = matched ? matched->api : api_of_path(path_of(request));
  std::optional<HttpResponse> response;
  std::exception_ptr error;
  try {
    response = co_await dispatch(handlers, request, matched, ctx);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) response = from_exception(error, ctx.api);
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PerformanceMonitor& monitor = handlers.monitor();
  monitor.record(matched ? matched->stage : "http_other", total_s);
  monitor.increment("http_requests");
  if (response->status >= 400) monitor.increment("http_errors");
  // TEI's timing headers, milliseconds, on every response.
  response->headers.emplace_back("x-total-time", ms_text(total_s));
  response->headers.emplace_back("x-tokenization-time", ms_text(ctx.tokenization_s));
  response->headers.emplace_back("x-queue-time", ms_text(ctx.queue_s));
  response->headers.emplace_back("x-inference-time", ms_text(ctx.inference_s));
  if (const auto& log = handlers.options().access_log) {
    try {
      log(access_log_line(request, matched, *response, total_s, ctx));
    } catch (...) {
      // A log that fails (a full disk, a throwing sink) must not cost the client its answer.
    }
  }
  co_return std::move(*response);
}

}  // namespace ragperf::server
