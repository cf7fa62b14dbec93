// Server: owns the I/O threads and wires the listener to the handlers (ragperf/server.h).
#include "ragperf/server.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop

#include <atomic>
#include <optional>
#include <thread>

#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "server/handlers.h"
#include "server/http_session.h"

namespace ragperf {

namespace {

ServerComponents checked(ServerComponents c) {
  if (!c.store) throw ConfigError("Server: no store given; pass open_store(settings)");
  if (!c.embedder) throw ConfigError("Server: no embedder given; pass an AsyncEmbedding");
  if (!c.monitor) c.monitor = std::make_shared<PerformanceMonitor>();
  return c;
}

const ServerOptions& checked(const ServerOptions& o) {
  if (o.io_threads == 0) throw ConfigError("Server: io_threads is 0; use at least 1");
  if (o.max_body_bytes == 0) throw ConfigError("Server: max_body_bytes is 0; use at least 1");
  if (o.max_top_k == 0) throw ConfigError("Server: max_top_k is 0; use at least 1");
  if (o.max_texts == 0) throw ConfigError("Server: max_texts is 0; use at least 1");
  return o;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, ServerComponents c)
      : options(checked(o)),
        handlers(options, checked(std::move(c)), counters, io.get_executor()),
        listener(io, options, handlers, counters) {}

  // Declared in destruction order reversed: the io_context outlives everything that posts to it.
  boost::asio::io_context io;
  ServerOptions options;
  server::ServerCounters counters;
  server::Handlers handlers;
  server::Listener listener;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> running{false};
  bool started = false;
};

Server::Server(ServerOptions options, ServerComponents components)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(components))) {}

Server::~Server() {
  stop();
}

void Server::start() {
  if (impl_->started) throw ConfigError("Server::start() called twice; create a new Server");
  impl_->started = true;
  impl_->port = impl_->listener.open();
  impl_->listener.start();
  impl_->work.emplace(impl_->io.get_executor());
  for (size_t i = 0; i < impl_->options.io_threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->running = true;
}

uint16_t Server::port() const {
  return impl_->port.load();
}

bool Server::running() const {
  return impl_->running.load();
}

void Server::stop() {
  if (!impl_->running.exchange(false)) return;
  impl_->counters.stopping = true;
  impl_->listener.begin_shutdown();
  const auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      impl_->options.shutdown_grace);
  if (!impl_->listener.wait_closed(std::chrono::steady_clock::now() + grace)) {
    impl_->listener.close_all();
    impl_->listener.wait_closed(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  }
  impl_->work.reset();
  impl_->io.stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

PerformanceMonitor& Server::monitor() {
  return impl_->handlers.monitor();
}

}  // namespace ragperf
