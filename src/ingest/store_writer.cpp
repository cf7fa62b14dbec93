// StoreWriter: a bounded queue of file batches and one thread calling replace_source().
#include "store_writer.h"

#include <chrono>

#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"

namespace ragperf::ingest {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

StoreWriter::StoreWriter(VectorStore& store, std::string collection, StoreWriterOptions options)
    : store_(store),
      collection_(std::move(collection)),
      max_queued_(options.max_queued == 0 ? 1 : options.max_queued),
      monitor_(options.monitor),
      cache_(options.cache),
      thread_([this] { run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreWriter::submit(std::vector<SourceWrite> batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return queue_.size() < max_queued_ || error_ != nullptr; });
  if (error_) std::rethrow_exception(error_);
  queue_.push_back(std::move(batch));
  cv_.notify_all();
}

double StoreWriter::finish() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
  return store_s_;
}

void StoreWriter::run() {
  for (;;) {
    std::vector<SourceWrite> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || closed_; });
      if (queue_.empty()) return;  // closed and drained
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    cv_.notify_all();  // room for a submitter
    try {
      for (const SourceWrite& w : batch) {
        const auto t0 = Clock::now();
        try {
          store_.replace_source(collection_, w.source, w.hash, w.chunks);
        } catch (...) {
          // The write may have committed before its error reached us (a connection lost during
          // COMMIT): drop what may be stale all the same.
          if (cache_) invalidated_ += cache_->invalidate_table(collection_);
          throw;
        }
        const double seconds = seconds_since(t0);
        store_s_ += seconds;
        if (monitor_) monitor_->record("store", seconds);
        if (cache_) invalidated_ += cache_->invalidate_table(collection_);
      }
    } catch (...) {
      std::lock_guard lock(mu_);
      error_ = std::current_exception();
      queue_.clear();
      cv_.notify_all();
      return;
    }
  }
}

}  // namespace ragperf::ingest
