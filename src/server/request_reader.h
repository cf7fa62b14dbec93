// server/request_reader.h: how the server reads one HTTP/1.1 request with Boost.Beast's parser:
// the limits every request is read under, the answer to a request that cannot be read, and the
// Beast-free HttpRequest the routes see. The connections (http_session.cpp) read from their
// sockets through these; read_requests() runs the same steps over bytes already received (the
// fuzzer, fuzz/http_request.cpp).
//
//   http::request_parser<http::string_body> parser;
//   limit_request(parser, options.max_body_bytes);
//   ... read; on an error: if (auto refusal = refusal_for(ec, max_body_bytes)) answer it ...
//   HttpRequest request = to_request(req);
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

#include "server/http_types.h"

namespace ragperf::server {

/// Headers larger than this get 431.
constexpr size_t kHeaderLimit = 16 * 1024;

/// Sets the parser's limits: kHeaderLimit for the headers, `max_body_bytes` for the body.
void limit_request(boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                   size_t max_body_bytes);

/// The answer to a request that could not be read (413 body over the limit, 431 headers over
/// the limit, 400 malformed), or nullopt when the client went away (closed, timed out) and
/// nobody is left to answer.
std::optional<HttpError> refusal_for(const boost::system::error_code& ec, size_t max_body_bytes);

/// The request the routes see; the body is moved out of `req`.
HttpRequest to_request(boost::beast::http::request<boost::beast::http::string_body>& req);

/// One step of reading a connection's input: a whole request, or the refusal the connection
/// answers with before it closes.
struct RequestRead {
  std::optional<HttpRequest> request;
  std::optional<HttpError> refusal;
  bool keep_alive = false;  // the request asks to keep the connection open
};

/// What a connection makes of `input` when a client sends it and then closes: each request in
/// turn (headers, then the body, under limit_request()'s limits; refusal_for(); to_request()),
/// until a refusal, a request that does not keep the connection alive, or the end of the input
/// (an unfinished request is dropped, as when a client hangs up).
std::vector<RequestRead> read_requests(std::string_view input, size_t max_body_bytes);

}  // namespace ragperf::server
