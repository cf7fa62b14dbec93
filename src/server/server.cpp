// Server: wires the listener to the handlers on the Runtime's I/O executor (ragperf/server.h).
#include "ragperf/server.h"

#include <atomic>
#include <iostream>

#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/runtime.h"
#include "server/handlers.h"
#include "server/http_session.h"

namespace ragperf {

namespace {

ServerComponents checked(ServerComponents c) {
  if (!c.store) throw ConfigError("Server: no store given; pass open_store(settings)");
  if (!c.embedder) throw ConfigError("Server: no embedder given; pass an AsyncEmbedding");
  if (!c.monitor) c.monitor = std::make_shared<PerformanceMonitor>();
  if (!c.runtime) c.runtime = Runtime::shared();
  return c;
}

const ServerOptions& checked(const ServerOptions& o) {
  if (o.max_body_bytes == 0) throw ConfigError("Server: max_body_bytes is 0; use at least 1");
  if (o.max_top_k == 0) throw ConfigError("Server: max_top_k is 0; use at least 1");
  if (o.max_texts == 0) throw ConfigError("Server: max_texts is 0; use at least 1");
  if (o.rerank_candidates == 0 || o.rerank_candidates > RerankOptions::kMaxCandidates) {
    throw ConfigError("Server: rerank_candidates is " + std::to_string(o.rerank_candidates) +
                      "; use 1 to " + std::to_string(RerankOptions::kMaxCandidates));
  }
  return o;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, ServerComponents c)  // `c` as checked() returns it
      : options(checked(o)),
        runtime(c.runtime),
        handlers(options, std::move(c), counters, runtime->io_executor()),
        listener(runtime->io_executor(), options, handlers, counters) {}

  // Declared in destruction order reversed: the runtime outlives everything that posts to it.
  ServerOptions options;
  std::shared_ptr<Runtime> runtime;
  server::ServerCounters counters;
  server::Handlers handlers;
  server::Listener listener;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> running{false};
  bool started = false;
};

Server::Server(ServerOptions options, ServerComponents components)
    : impl_(std::make_unique<Impl>(std::move(options), checked(std::move(components)))) {}

Server::~Server() {
  stop();
}

void Server::start() {
  if (impl_->started) throw ConfigError("Server::start() called twice; create a new Server");
  impl_->started = true;
  impl_->port = impl_->listener.open();
  impl_->listener.start();
  impl_->running = true;
}

uint16_t Server::port() const {
  return impl_->port.load();
}

bool Server::running() const {
  return impl_->running.load();
}

void Server::stop() {
  if (impl_->running && impl_->runtime->in_io_thread()) {
    throw UnavailableError(
        "Server::stop() was called on a Runtime I/O thread, where it would wait for itself; call "
        "it from the thread that owns the server");
  }
  if (!impl_->running.exchange(false)) return;
  impl_->counters.stopping = true;
  impl_->listener.begin_shutdown();
  const auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      impl_->options.shutdown_grace);
  if (!impl_->listener.wait_closed(std::chrono::steady_clock::now() + grace)) {
    impl_->listener.close_all();
    // The connections run on the shared Runtime, so they are not abandoned: a handler still
    // awaiting its store returns within the store's and the pool's timeouts, then its
    // connection ends. Until then the handlers it uses must stay.
    bool told = false;
    while (
        !impl_->listener.wait_closed(std::chrono::steady_clock::now() + std::chrono::seconds(5))) {
      if (!told) {
        std::cerr << "ragperf server: waiting for requests still running after shutdown_grace\n";
        told = true;
      }
    }
  }
}

PerformanceMonitor& Server::monitor() {
  return impl_->handlers.monitor();
}

}  // namespace ragperf
