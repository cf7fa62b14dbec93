// ingest/store_writer.h: writes prepared files to a VectorStore on a background thread, so that
// storing one batch overlaps reading, chunking and embedding the next.
//
//   StoreWriter writer(store, "docs");
//   writer.submit({{source, hash, std::move(chunks)}, ...});   // blocks while the queue is full
//   double store_s = writer.finish();                          // joins; rethrows a store error
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ragperf/vector_store.h"

namespace ragperf::ingest {

/// One file's replacement: all its chunks, written by one replace_source() call.
struct SourceWrite {
  std::string source;
  std::string hash;
  std::vector<Chunk> chunks;
};

class StoreWriter {
 public:
  /// Starts the writer thread. `max_queued`: batches waiting at most before submit() blocks.
  StoreWriter(VectorStore& store, std::string collection, size_t max_queued = 4);
  /// Joins the thread; errors not collected by finish() are dropped (the caller is unwinding).
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// Queues a batch, written in submission order. Rethrows an earlier write's error.
  void submit(std::vector<SourceWrite> batch);

  /// Waits for every queued write; returns the seconds spent in replace_source(). Rethrows the
  /// first write error. Call once.
  double finish();

 private:
  void run();

  VectorStore& store_;
  std::string collection_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<SourceWrite>> queue_;
  bool closed_ = false;
  std::exception_ptr error_;
  double store_s_ = 0;  // written by the thread, read after join
  std::thread thread_;
};

}  // namespace ragperf::ingest
