#include "ragperf/runtime.h"

#include <thread>

#include "ragperf/config.h"
#include "runtime/compute_pool.h"

namespace ragperf {

struct Runtime::Io {
  boost::asio::io_context context;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
      context.get_executor()};
  std::vector<std::thread> threads;
};

RuntimeOptions RuntimeOptions::from_settings(const Settings& settings) {
  RuntimeOptions o;
  o.compute_threads = static_cast<size_t>(std::max(0, settings.compute_threads));
  o.io_threads = static_cast<size_t>(std::max(1, settings.io_threads));
  return o;
}

void RuntimeOptions::validate() const {
  if (io_threads < 1 || io_threads > 64) {
    throw ConfigError("RuntimeOptions io_threads=" + std::to_string(io_threads) +
                      " (RAGPERF_IO_THREADS) must lie in [1, 64]");
  }
  if (compute_threads > 1024) {
    throw ConfigError("RuntimeOptions compute_threads=" + std::to_string(compute_threads) +
                      " (RAGPERF_THREADS) must lie in [0, 1024] (0: one per core)");
  }
}

Runtime::Runtime(RuntimeOptions options) : options_(options) {
  options_.validate();
  size_t n = options_.compute_threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  compute_ = std::make_unique<runtime::ComputePool>(n);
  io_ = std::make_unique<Io>();
  for (size_t i = 0; i < options_.io_threads; ++i) {
    io_->threads.emplace_back([io = io_.get()] { io->context.run(); });
  }
}

Runtime::~Runtime() {
  compute_.reset();  // finishes the posted tasks (their completions are posted to the I/O side)
  io_->work.reset();
  io_->context.stop();
  for (std::thread& t : io_->threads) t.join();
}

namespace {

std::mutex shared_mutex;
std::optional<RuntimeOptions> shared_options;
// Created on first use and never destroyed: components in static storage may still post to it
// while the process exits.
std::shared_ptr<Runtime>* shared_runtime = nullptr;

bool same(const RuntimeOptions& a, const RuntimeOptions& b) {
  return a.compute_threads == b.compute_threads && a.io_threads == b.io_threads;
}

}  // namespace

std::shared_ptr<Runtime> Runtime::shared() {
  std::lock_guard lock(shared_mutex);
  if (!shared_runtime) {
    shared_runtime = new std::shared_ptr<Runtime>(
        std::make_shared<Runtime>(shared_options.value_or(RuntimeOptions{})));
  }
  return *shared_runtime;
}

void Runtime::configure_shared(RuntimeOptions options) {
  options.validate();
  std::lock_guard lock(shared_mutex);
  if (shared_runtime) {
    if (same((*shared_runtime)->options(), options)) return;
    throw ConfigError(
        "Runtime::configure_shared() called after the shared runtime was created with other "
        "options; configure it first (before any component uses it)");
  }
  shared_options = options;
}

Runtime::IoExecutor Runtime::io_executor() {
  return io_->context.get_executor();
}

bool Runtime::in_io_thread() const {
  return io_->context.get_executor().running_in_this_thread();
}

bool Runtime::in_compute_thread() const {
  return compute_->in_worker();
}

size_t Runtime::compute_threads() const {
  return compute_->n_threads();
}

void Runtime::post_compute(std::function<void()> task) {
  compute_->post(std::move(task));
}

void Runtime::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  compute_->run(n, fn);
}

}  // namespace ragperf
