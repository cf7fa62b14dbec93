// ingest/store_writer.h: writes prepared files to a VectorStore on a background thread, so that
// storing one batch overlaps reading, chunking and embedding the next.
//
//   StoreWriter writer(store, "docs", {.monitor = &monitor, .cache = &cache});
//   writer.submit({{source, hash, std::move(chunks)}, ...});   // blocks while the queue is full
//   double store_s = writer.finish();                          // joins; rethrows a store error
//
// Each replace_source() is recorded as the monitor stage "store" and followed (when it returns
// or throws) by cache->invalidate_table(collection).
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ragperf/vector_store.h"

namespace ragperf {
class PerformanceMonitor;
class SemanticCache;
}  // namespace ragperf

namespace ragperf::ingest {

/// One file's replacement: all its chunks, written by one replace_source() call.
struct SourceWrite {
  std::string source;
  std::string hash;
  std::vector<Chunk> chunks;
};

struct StoreWriterOptions {
  size_t max_queued = 4;                  // batches waiting at most before submit() blocks
  PerformanceMonitor* monitor = nullptr;  // optional, not owned: stage "store" per file
  SemanticCache* cache = nullptr;         // optional, not owned: invalidated after each write
};

class StoreWriter {
 public:
  /// Starts the writer thread.
  StoreWriter(VectorStore& store, std::string collection, StoreWriterOptions options = {});
  /// Joins the thread; errors not collected by finish() are dropped (the caller is unwinding).
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// Queues a batch, written in submission order. Rethrows an earlier write's error.
  void submit(std::vector<SourceWrite> batch);

  /// Waits for every queued write; returns the seconds spent in replace_source(). Rethrows the
  /// first write error. Call once.
  double finish();

  /// Cache entries dropped by the invalidations so far (read after finish()).
  size_t invalidated() const { return invalidated_; }

 private:
  void run();

  VectorStore& store_;
  std::string collection_;
  size_t max_queued_;
  PerformanceMonitor* monitor_;
  SemanticCache* cache_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<SourceWrite>> queue_;
  bool closed_ = false;
  std::exception_ptr error_;
  double store_s_ = 0;      // written by the thread, read after join
  size_t invalidated_ = 0;  // written by the thread, read after join
  std::thread thread_;
};

}  // namespace ragperf::ingest
