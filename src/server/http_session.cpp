#include "server/http_session.h"

// GCC 12 (RelWithDebInfo + sanitizers) reports Asio's awaitable frame deallocation as
// -Wmismatched-new-delete: Asio pairs its own operator new/delete for coroutine frames, a false
// positive. Silenced for this file's coroutines only.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// GCC reports -Wnull-dereference inside Asio's scheduler when inlined at -O3 (a false positive in
// a system header); silence it for Asio's and Beast's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "ragperf/error.h"
#include "server/json_codec.h"
#include "server/request_reader.h"
#include "server/router.h"

namespace ragperf::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// Expected failures come back in `ec` (redirect_error), not as exceptions. Not as_tuple: GCC 12
// miscompiles structured bindings of co_await results in a loop (a moved-from tuple element was
// destroyed twice, releasing a strand's reference count once too often).
auto with(beast::error_code& ec) {
  return net::redirect_error(net::use_awaitable, ec);
}

std::chrono::steady_clock::duration to_duration(std::chrono::duration<double> d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  uint64_t id = 0;
  bool waiting = true;  // waiting for a request; touched only on the connection's strand
};

}  // namespace

struct Listener::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::io_context::executor_type io_executor, const ServerOptions& server_options, Handlers& h,
       ServerCounters& c)
      : io(io_executor),
        options(server_options),
        handlers(h),
        counters(c),
        accept_strand(net::make_strand(io_executor)),
        acceptor(accept_strand) {}

  net::io_context::executor_type io;
  const ServerOptions& options;
  Handlers& handlers;
  ServerCounters& counters;
  net::strand<net::io_context::executor_type> accept_strand;
  tcp::acceptor acceptor;

  std::mutex mutex;
  std::condition_variable closed;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections;
  uint64_t next_id = 0;
  bool accepting = false;
  bool shutting_down = false;

  void remove(uint64_t id) {
    std::lock_guard lock(mutex);
    connections.erase(id);
    counters.connections.fetch_sub(1);
    closed.notify_all();
  }

  static net::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  static net::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c);
};

namespace {

// Writes `response` (status, headers, body) and reports the error, if any.
net::awaitable<beast::error_code> write_response(beast::tcp_stream& stream, const HttpResponse& out,
                                                 unsigned version, bool keep_alive, bool head,
                                                 std::chrono::duration<double> timeout) {
  http::response<http::string_body> res{static_cast<http::status>(out.status), version};
  res.set(http::field::server, "ragperf");
  res.set(http::field::content_type, out.content_type);
  for (const auto& header : out.headers) res.set(header.first, header.second);
  res.keep_alive(keep_alive);
  res.content_length(out.body.size());
  if (!head) res.body() = out.body;
  stream.expires_after(to_duration(timeout));
  http::serializer<false, http::string_body> sr{res};
  if (head) sr.split(true);
  // Two statements, not `head ? co_await a : co_await b`: GCC 12 miscompiles co_await inside a
  // conditional expression.
  beast::error_code ec;
  if (head) {
    co_await http::async_write_header(stream, sr, with(ec));
  } else {
    co_await http::async_write(stream, sr, with(ec));
  }
  co_return ec;
}

// After refusing a request whose body may still be arriving: stop sending, read and drop what
// the client still sends (briefly), so that closing does not reset the connection before the
// client has read the answer.
net::awaitable<void> drain_and_close(beast::tcp_stream& stream, size_t max_bytes) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16 * 1024> buf{};
  size_t total = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (total < max_bytes) {
    beast::error_code rec;
    const size_t n = co_await stream.async_read_some(net::buffer(buf), with(rec));
    if (rec) break;
    total += n;
  }
  stream.socket().close(ec);
}

}  // namespace

net::awaitable<void> Listener::Impl::accept_loop(std::shared_ptr<Impl> self) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = co_await self->acceptor.async_accept(net::make_strand(self->io), with(ec));
    if (ec) {
      if (ec == net::error::operation_aborted || !self->acceptor.is_open()) break;
      // Out of descriptors or a connection reset before accept: retry shortly.
      net::steady_timer pause(self->accept_strand, std::chrono::milliseconds(50));
      beast::error_code ignored;
      co_await pause.async_wait(with(ignored));
      continue;
    }
    auto c = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(self->mutex);
      if (self->shutting_down) break;  // `c` closes as it goes
      c->id = self->next_id++;
      self->connections.emplace(c->id, c);
      self->counters.connections.fetch_add(1);
    }
    net::co_spawn(c->stream.get_executor(), serve(self, c),
                  [self, id = c->id](std::exception_ptr) { self->remove(id); });
  }
  std::lock_guard lock(self->mutex);
  self->accepting = false;
  self->closed.notify_all();
}

net::awaitable<void> Listener::Impl::serve(std::shared_ptr<Impl> self,
                                           std::shared_ptr<Connection> c) {
  const ServerOptions& o = self->options;
  beast::flat_buffer buffer;
  for (;;) {
    if (self->counters.stopping.load()) break;
    http::request_parser<http::string_body> parser;
    limit_request(parser, o.max_body_bytes);
    c->waiting = true;
    c->stream.expires_after(to_duration(o.idle_timeout));
    beast::error_code ec;
    co_await http::async_read_header(c->stream, buffer, parser, with(ec));
    c->waiting = false;
    if (!ec && !parser.is_done()) {
      auto& req = parser.get();
      if (beast::iequals(req[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, req.version()};
        c->stream.expires_after(to_duration(o.io_timeout));
        co_await http::async_write(c->stream, cont, with(ec));
        if (ec) break;
      }
      c->stream.expires_after(to_duration(o.io_timeout));
      co_await http::async_read(c->stream, buffer, parser, with(ec));
    }
    if (ec) {
      const std::optional<HttpError> refusal = refusal_for(ec, o.max_body_bytes);
      if (refusal) {
        self->counters.errors_4xx.fetch_add(1);
        co_await write_response(c->stream, error_response(*refusal), 11, false, false,
                                o.io_timeout);
        co_await drain_and_close(c->stream, 4 * o.max_body_bytes + (1 << 20));
      }
      break;  // closed by the client, timed out, cancelled by stop() or refused
    }

    http::request<http::string_body> req = parser.release();
    const HttpRequest request = to_request(req);
    self->counters.in_flight.fetch_add(1);
    const HttpResponse out = co_await route(self->handlers, request);
    self->counters.in_flight.fetch_sub(1);
    self->counters.requests.fetch_add(1);
    if (out.status >= 500) {
      self->counters.errors_5xx.fetch_add(1);
    } else if (out.status >= 400) {
      self->counters.errors_4xx.fetch_add(1);
    }
    const bool keep_alive = req.keep_alive() && !self->counters.stopping.load();
    const beast::error_code wec = co_await write_response(
        c->stream, out, req.version(), keep_alive, req.method() == http::verb::head, o.io_timeout);
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  c->stream.socket().close(ignored);
}

Listener::Listener(net::io_context::executor_type io, const ServerOptions& options,
                   Handlers& handlers, ServerCounters& counters)
    : impl_(std::make_shared<Impl>(io, options, handlers, counters)) {}

Listener::~Listener() {
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

uint16_t Listener::open() {
  const ServerOptions& o = impl_->options;
  const std::string where = o.host + ":" + std::to_string(o.port);
  beast::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    throw ConfigError("--host '" + o.host + "' cannot be resolved (" + ec.message() +
                      "); give an IP address such as 127.0.0.1 or 0.0.0.0");
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    a.close(ignored);
    std::string hint = "; pick another --port (0: any free port)";
    if (ec == net::error::address_in_use) hint = "; another process uses it: stop it" + hint;
    if (ec == net::error::access_denied) hint = "; ports below 1024 need privileges" + hint;
    throw ConfigError("cannot listen on " + where + ": " + ec.message() + hint);
  }
  return a.local_endpoint().port();
}

void Listener::start() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->accepting = true;
  }
  auto self = impl_;
  net::co_spawn(impl_->accept_strand, Impl::accept_loop(self), [self](std::exception_ptr) {
    std::lock_guard lock(self->mutex);
    self->accepting = false;
    self->closed.notify_all();
  });
}

// A connection's stream is only touched on its strand: these functions post there and never
// hold the last reference on the calling thread (~basic_stream cancels its socket and timer,
// which must not race with the strand).
void Listener::begin_shutdown() {
  auto self = impl_;
  net::post(impl_->accept_strand, [self] {
    beast::error_code ignored;
    self->acceptor.close(ignored);
  });
  std::lock_guard lock(impl_->mutex);
  impl_->shutting_down = true;
  for (const auto& entry : impl_->connections) {
    net::post(entry.second->stream.get_executor(), [c = entry.second] {
      if (c->waiting) c->stream.cancel();
    });
  }
}

bool Listener::wait_closed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(impl_->mutex);
  return impl_->closed.wait_until(lock, deadline,
                                  [&] { return impl_->connections.empty() && !impl_->accepting; });
}

void Listener::close_all() {
  std::lock_guard lock(impl_->mutex);
  for (const auto& entry : impl_->connections) {
    net::post(entry.second->stream.get_executor(), [c = entry.second] {
      beast::error_code ignored;
      c->stream.socket().close(ignored);
    });
  }
}

}  // namespace ragperf::server
