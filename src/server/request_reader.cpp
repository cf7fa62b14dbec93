#include "server/request_reader.h"

#include <string>
#include <utility>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#pragma GCC diagnostic pop

namespace ragperf::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A blocking read stream over bytes already received, for read_requests(): it hands them out
// as a socket would and reports the end of the stream after the last one.
class BytesStream {
 public:
  explicit BytesStream(std::string_view bytes) : rest_(bytes) {}
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    ec = {};
    if (rest_.empty()) {
      ec = net::error::eof;
      return 0;
    }
    const size_t n = net::buffer_copy(buffers, net::buffer(rest_.data(), rest_.size()));
    rest_.remove_prefix(n);
    return n;
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
};

}  // namespace

void limit_request(http::request_parser<http::string_body>& parser, size_t max_body_bytes) {
  parser.header_limit(kHeaderLimit);
  parser.body_limit(max_body_bytes);
}

std::optional<HttpError> refusal_for(const beast::error_code& ec, size_t max_body_bytes) {
  if (ec == http::error::body_limit) {
    return HttpError(413, "request body is over the limit of " + std::to_string(max_body_bytes) +
                              " bytes; send a smaller body (split /embed texts over several "
                              "requests)");
  }
  if (ec == http::error::header_limit) {
    return HttpError(431, "request headers are over " + std::to_string(kHeaderLimit) +
                              " bytes; send fewer or shorter headers");
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return HttpError(400, "malformed HTTP request (" + ec.message() + "); send HTTP/1.1");
  }
  return std::nullopt;
}

HttpRequest to_request(http::request<http::string_body>& req) {
  HttpRequest request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.content_type = std::string(req[http::field::content_type]);
  request.body = std::move(req.body());
  return request;
}

std::vector<RequestRead> read_requests(std::string_view input, size_t max_body_bytes) {
  // Listener::Impl::serve()'s reading, blocking: the headers, then the body.
  BytesStream stream(input);
  beast::flat_buffer buffer;
  std::vector<RequestRead> reads;
  for (;;) {
    http::request_parser<http::string_body> parser;
    limit_request(parser, max_body_bytes);
    beast::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (!ec && !parser.is_done()) http::read(stream, buffer, parser, ec);
    if (ec) {
      if (auto refusal = refusal_for(ec, max_body_bytes)) {
        reads.push_back({std::nullopt, std::move(refusal), false});
      }
      break;
    }
    http::request<http::string_body> req = parser.release();
    reads.push_back({to_request(req), std::nullopt, req.keep_alive()});
    if (!req.keep_alive()) break;
  }
  return reads;
}

}  // namespace ragperf::server
