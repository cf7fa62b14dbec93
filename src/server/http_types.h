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

/// A request the server refuses, thrown by the codecs and handlers: the status and the message
/// for {"error": ...}; `field` names the JSON field at fault when there is one.
class HttpError : public std::runtime_error {
 public:
  HttpError(unsigned status, const std::string& message, std::string field = "")
      : std::runtime_error(message), status_(status), field_(std::move(field)) {}
  unsigned status() const noexcept { return status_; }
  const std::string& field() const noexcept { return field_; }

 private:
  unsigned status_;
  std::string field_;
};

}  // namespace ragperf::server
