// ragperf/async_embedding.h defines AsyncEmbedding, the guide's embedding API: futures and
// coroutines over one model, with concurrent small requests coalesced into shared forward passes.
//
//   ragperf::AsyncEmbedding embedder("BAAI/bge-small-en", "auto", 128);
//   std::vector<float> v = embedder.embed_single("what is pgvector?").get();
//   ragperf::EmbeddingMatrix m = embedder.embed_batch({"a", "b"}).get();
//   // in a coroutine:  auto v = co_await embedder.async_embed_single("query");
//   ragperf::EmbeddingStats s = embedder.get_stats();   // embeddings, batches, throughput ...
//
// Work runs on the Runtime's compute pool (ragperf/runtime.h; one thread per core in all, BLAS
// single-threaded inside it), so the busy threads never exceed the cores. Requests waiting
// while a forward pass runs are merged into the next pass, up to `batch_size` texts
// (EMBED_BATCH); a request larger than that is cut into passes of `batch_size` texts, and after
// each pass it goes back to the end of the queue, so a short request waits for at most one pass
// of a long one. A text that fails (invalid UTF-8) fails only its own request. The queue is
// bounded (max_queued_requests, max_queued_texts): a full queue refuses with OverloadedError.
//
// device: "auto" (CPU on a machine without a GPU), "cpu"; "cuda" throws ConfigError in a build
// without CUDA. Thread-safety: every method may be called from any thread. The destructor
// finishes queued requests first (so it must not run on a compute thread).
//
// Monitor stages (when AsyncEmbeddingOptions::monitor is given), one record per merged batch of
// requests (a forward pass, not per call; get_stats().batches counts the forward passes):
//   "tokenize"  the batch's texts turned into token ids (BERT models only: a static word-vector
//               model tokenises inside its embed(), so its time is in "embed");
//   "embed"     the forward pass (pooling and normalisation included), recorded when it succeeds.
// Each request is tokenised and fitted (the truncation rule) alone before the forward pass, so a
// request whose text fails to tokenise or is too long fails alone. Without a monitor nothing is
// timed (one branch). ParallelRetriever and BatchProcessor record their own "embed" per query / per
// batch: give them another monitor than this one when the two must not mix.
//
//   ragperf::PerformanceMonitor monitor;
//   ragperf::AsyncEmbedding embedder(model, {.batch_size = 64, .monitor = &monitor});
//   embedder.embed_single("query").get();
//   monitor.get_stats("tokenize")->count;   // 1
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "ragperf/embedding_model.h"

namespace ragperf {

struct Settings;
class PerformanceMonitor;
class Runtime;

struct AsyncEmbeddingOptions {
  std::string device = "auto";  // see resolve_device()
  size_t batch_size = 128;      // EMBED_BATCH: most texts per forward pass, >= 1
  /// Optional, not owned, must outlive the AsyncEmbedding: receives "tokenize" and "embed" (see
  /// the file comment).
  PerformanceMonitor* monitor = nullptr;
  /// Where the passes run; null: Runtime::shared().
  std::shared_ptr<Runtime> runtime = nullptr;
  /// Requests waiting for a forward pass, at most; beyond, submit() throws OverloadedError (an
  /// HTTP server answers 429). >= 1.
  size_t max_queued_requests = 4096;
  /// Texts of the waiting requests, at most (a request alone is never refused for its size: its
  /// caller bounds that). >= 1.
  size_t max_queued_texts = 65536;

  /// batch_size = EMBED_BATCH (at least 1); device and monitor keep their defaults.
  static AsyncEmbeddingOptions from_settings(const Settings& settings);
};

struct EmbeddingStats {
  uint64_t embeddings = 0;  // texts embedded
  uint64_t requests = 0;    // embed_single / embed_batch calls completed (or failed)
  uint64_t batches = 0;     // forward passes (model calls) run
  uint64_t failed = 0;      // requests that failed
  double seconds = 0;       // time spent computing
  double throughput_embeddings_per_sec = 0;  // embeddings / seconds
  std::string device;                        // "cpu"
  size_t threads = 0;                        // compute threads (the cores used)
  size_t max_batch = 0;                      // texts per forward pass, at most
  uint64_t rejected = 0;   // submit() calls refused with OverloadedError (the queue was full)
  uint64_t cancelled = 0;  // requests dropped because their stop token was requested
};

/// What a request embedded with async_embed_inputs() / submit_inputs() gets: the vectors, what
/// embed_inputs() reports (tokens per input, truncation, the stage times of its pass) and how
/// long it waited in the queue for that pass.
struct EmbedOutcome {
  EmbeddingMatrix vectors;
  EmbedDetails details;
  double queue_s = 0;
};

class AsyncEmbedding {
 public:
  /// Loads `model_name` (folder or hub id, see load_embedding_model) with settings from the
  /// environment. `batch_size`: most texts per forward pass (the guide's EMBED_BATCH).
  AsyncEmbedding(const std::string& model_name, const std::string& device = "auto",
                 size_t batch_size = 128);
  /// EMBED_MODEL and EMBED_BATCH from `settings`.
  explicit AsyncEmbedding(const Settings& settings, const std::string& device = "auto");
  /// Serves an already loaded model.
  AsyncEmbedding(std::shared_ptr<EmbeddingModel> model, const std::string& device = "auto",
                 size_t batch_size = 128);
  /// Serves an already loaded model with every option (the monitor included). Throws
  /// ConfigError for no model, batch_size 0 or a device this build cannot use.
  AsyncEmbedding(std::shared_ptr<EmbeddingModel> model, AsyncEmbeddingOptions options);
  ~AsyncEmbedding();
  AsyncEmbedding(const AsyncEmbedding&) = delete;
  AsyncEmbedding& operator=(const AsyncEmbedding&) = delete;

  /// Over-long input (more tokens than model().max_tokens()) follows the one rule of
  /// ragperf/embedding_model.h: every call without a Truncation refuses it (InputTooLongError
  /// naming the input, its tokens and the limit); pass Truncation::kRight or kLeft to cut it.
  /// One text -> dim() floats. The future throws InputError for invalid UTF-8.
  std::future<std::vector<float>> embed_single(std::string text);
  /// Many texts -> rows × dim(), in order.
  std::future<EmbeddingMatrix> embed_batch(std::vector<std::string> texts);

  /// Awaitable forms (Boost.Asio coroutines); they resume on the awaiting coroutine's executor.
  boost::asio::awaitable<std::vector<float>> async_embed_single(std::string text);
  boost::asio::awaitable<EmbeddingMatrix> async_embed_batch(std::vector<std::string> texts);
  /// The same under `truncation`.
  boost::asio::awaitable<std::vector<float>> async_embed_single(std::string text,
                                                                Truncation truncation);
  boost::asio::awaitable<EmbeddingMatrix> async_embed_batch(std::vector<std::string> texts,
                                                            Truncation truncation);
  /// Texts or token ids (EmbedInput) under `truncation`, with the details of the pass.
  boost::asio::awaitable<EmbedOutcome> async_embed_inputs(std::vector<EmbedInput> inputs,
                                                          Truncation truncation);

  /// Callback form: `done(error, result)` runs on a compute thread; keep it short. A request
  /// whose `stop` is requested before its (next) forward pass is dropped: `done` gets
  /// CancelledError and no more work is spent on it (a server passes the token of a client
  /// that disconnected or passed its deadline). Throws OverloadedError when the queue is full
  /// (AsyncEmbeddingOptions::max_queued_requests / max_queued_texts) and UnavailableError while
  /// shutting down.
  using Callback = std::function<void(std::exception_ptr, EmbeddingMatrix)>;
  void submit(std::vector<std::string> texts, Callback done, std::stop_token stop = {});
  using OutcomeCallback = std::function<void(std::exception_ptr, EmbedOutcome)>;
  void submit_inputs(std::vector<EmbedInput> inputs, Truncation truncation, OutcomeCallback done);

  EmbeddingStats get_stats() const;
  size_t dim() const;
  EmbeddingModel& model();
  const std::string& device() const;

 private:
  struct Impl;  // the queue, its lock and the runtime
  std::unique_ptr<Impl> impl_;
};

/// "auto" -> "cpu"; "cpu" -> "cpu"; "cuda"/"cuda:N"/"gpu" -> ConfigError (no CUDA in this
/// build); anything else -> ConfigError listing the choices.
std::string resolve_device(const std::string& device);

}  // namespace ragperf
