// StoreWriter: a bounded queue of file batches and one thread calling replace_source().
#include "store_writer.h"

#include <chrono>

namespace ragperf::ingest {

StoreWriter::StoreWriter(VectorStore& store, std::string collection, size_t max_queued)
    : store_(store),
      collection_(std::move(collection)),
      max_queued_(max_queued == 0 ? 1 : max_queued),
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
      auto t0 = std::chrono::steady_clock::now();
      for (const SourceWrite& w : batch) {
        store_.replace_source(collection_, w.source, w.hash, w.chunks);
      }
      store_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
