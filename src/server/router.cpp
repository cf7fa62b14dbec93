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

#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "server/json_codec.h"

namespace ragperf::server {

namespace {

enum class Route { kQuery, kEmbed, kMetrics, kStats, kHealth };

struct RouteInfo {
  const char* path;
  const char* method;
  Route route;
  const char* stage;
};

constexpr RouteInfo kRoutes[] = {
    {"/query", "POST", Route::kQuery, "http_query"},
    {"/embed", "POST", Route::kEmbed, "http_embed"},
    {"/metrics", "GET", Route::kMetrics, "http_metrics"},
    {"/stats", "GET", Route::kStats, "http_stats"},
    {"/health", "GET", Route::kHealth, "http_health"},
};

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

HttpResponse from_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    return error_response(e);
  } catch (const Error& e) {
    return error_response(HttpError(status_for(e.code()), e.what()));
  } catch (const std::exception& e) {
    return error_response(HttpError(500, std::string("internal error: ") + e.what()));
  } catch (...) {
    return error_response(HttpError(500, "internal error (unknown exception)"));
  }
}

boost::asio::awaitable<HttpResponse> dispatch(Handlers& handlers, const HttpRequest& request,
                                              const RouteInfo*& matched) {
  std::string path = request.target.substr(0, request.target.find('?'));
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  const RouteInfo* info = nullptr;
  for (const RouteInfo& r : kRoutes) {
    if (path == r.path) info = &r;
  }
  if (!info) {
    throw HttpError(404, "no endpoint " + path +
                             "; the endpoints are POST /query, POST /embed, GET /metrics, "
                             "GET /stats, GET /health");
  }
  matched = info;
  const bool head_ok = std::string(info->method) == "GET" && request.method == "HEAD";
  if (request.method != info->method && !head_ok) {
    HttpError e(405, request.method + " " + info->path + " is not supported; use " + info->method +
                         " " + info->path);
    HttpResponse r = error_response(e);
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
      co_return co_await handlers.embed(request);
    case Route::kMetrics:
      co_return handlers.metrics();
    case Route::kStats:
      co_return handlers.stats();
    case Route::kHealth:
      co_return co_await handlers.health();
  }
  throw HttpError(404, "no endpoint " + path);
}

}  // namespace

boost::asio::awaitable<HttpResponse> route(Handlers& handlers, const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const RouteInfo* matched = nullptr;
  std::optional<HttpResponse> response;
  std::exception_ptr error;
  try {
    response = co_await dispatch(handlers, request, matched);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) response = from_exception(error);
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PerformanceMonitor& monitor = handlers.monitor();
  monitor.record(matched ? matched->stage : "http_other", total_s);
  monitor.increment("http_requests");
  if (response->status >= 400) monitor.increment("http_errors");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", total_s);
  response->headers.emplace_back("x-total-time", buf);
  co_return std::move(*response);
}

}  // namespace ragperf::server
