// server/http_types.h: the request and response the routes see, free of Beast so that handlers
// and their tests do not compile the HTTP parser.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ragperf::server {

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string target;        // "/query?x=1"
  std::string content_type;  // the Content-Type header, "" when absent
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, x-*-time)
};

/// The API family a route belongs to; it decides the shape of the route's errors (router.cpp):
/// ragperf's {"error", "field"}, OpenAI's {"error": {"message", "type", "param", "code"}} on
/// /v1/*, TEI's {"error", "error_type"} on TEI's routes.
enum class Api { kRagperf, kOpenAi, kTei };

/// What a handler tells the router beside its answer: the family when the body decides it
/// (POST /embed takes ragperf's body and TEI's), and the stage times (seconds) the router sends
/// as TEI's x-*-time headers and writes to the access log.
struct RequestContext {
  Api api = Api::kRagperf;
  double tokenization_s = 0;
  double queue_s = 0;
  double inference_s = 0;
};

/// A request the server refuses, thrown by the codecs and handlers: the status and the message
/// for {"error": ...}; `field` names the JSON field at fault when there is one; `code` is a
/// machine-readable reason where one is known ("context_length_exceeded").
class HttpError : public std::runtime_error {
 public:
  HttpError(unsigned status, const std::string& message, std::string field = "",
            std::string code = "")
      : std::runtime_error(message),
        status_(status),
        field_(std::move(field)),
        code_(std::move(code)) {}
  unsigned status() const noexcept { return status_; }
  const std::string& field() const noexcept { return field_; }
  const std::string& code() const noexcept { return code_; }

 private:
  unsigned status_;
  std::string field_;
  std::string code_;
};

}  // namespace ragperf::server
