// server/http_session.h: the HTTP/1.1 listener and its connections (Boost.Beast on Asio). One
// coroutine per connection reads a request, routes it, writes the answer, and loops while the
// client keeps the connection alive. The only file that includes Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop

#include "ragperf/server.h"
#include "server/handlers.h"

namespace ragperf::server {

class Listener {
 public:
  /// Connections run on `io` (the Runtime's I/O executor), each on a strand of its own.
  Listener(boost::asio::io_context::executor_type io, const ServerOptions& options,
           Handlers& handlers, ServerCounters& counters);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Resolves, binds and listens; returns the port. Throws ConfigError naming host:port.
  uint16_t open();
  /// Starts accepting.
  void start();
  /// Stops accepting; closes connections waiting for a request; a connection handling one
  /// answers it with `Connection: close` and closes. Thread-safe; call from outside the I/O
  /// threads.
  void begin_shutdown();
  /// Waits until every connection is closed and the accept loop ended, at most until
  /// `deadline`; returns whether they did.
  bool wait_closed(std::chrono::steady_clock::time_point deadline);
  /// Closes every connection now (after the grace period).
  void close_all();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ragperf::server
