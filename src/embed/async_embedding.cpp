#include "ragperf/async_embedding.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <span>
#include <stop_token>

#include "embed/bert_model.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "ragperf/runtime.h"

namespace ragperf {

std::string resolve_device(const std::string& device) {
  if (device == "auto" || device == "cpu" || device.empty()) return "cpu";
  if (device == "cuda" || device == "gpu" || device.rfind("cuda:", 0) == 0) {
    throw ConfigError("device '" + device +
                      "' requested, but this build of ragperf has no CUDA support; use "
                      "device 'cpu' or 'auto'");
  }
  throw ConfigError("device '" + device + "' is not one of auto, cpu, cuda");
}

namespace {

size_t checked_batch(size_t batch_size) {
  if (batch_size == 0) throw ConfigError("EMBED_BATCH=0: the batch size must be at least 1");
  return batch_size;
}

std::shared_ptr<EmbeddingModel> load_checked(const std::string& name, const std::string& device,
                                             const Settings& settings) {
  resolve_device(device);  // fail before loading weights
  return load_embedding_model(name, settings);
}

}  // namespace

struct AsyncEmbedding::Impl {
  Impl(std::shared_ptr<EmbeddingModel> model, AsyncEmbeddingOptions options);
  ~Impl();  // finishes queued requests

  struct Request {
    std::vector<std::string> texts;
    Callback done;
    std::stop_token stop;    // requested: dropped before its next pass
    size_t next = 0;         // texts [0, next) are embedded into `result`
    EmbeddingMatrix result;  // filled pass by pass
    bool failed = false;     // answered with an error; its remaining texts are dropped
  };
  using RequestPtr = std::shared_ptr<Request>;
  /// texts [begin, end) of one request: what a forward pass embeds of it.
  struct Slice {
    RequestPtr request;
    size_t begin = 0, end = 0;
    size_t size() const { return end - begin; }
  };
  void submit(std::vector<std::string> texts, Callback done, std::stop_token stop);
  /// One merged batch from the queue, on a compute thread; posts itself again while requests
  /// wait (so searches queued meanwhile run between passes).
  void drain();
  /// Embeds the slices; returns the requests that are now complete or failed, with their
  /// outcome, for the caller to answer outside the lock.
  void process(std::vector<Slice>& batch);
  /// The monitored BERT path: tokenise each slice ("tokenize"), one forward pass ("embed").
  /// Fills results[i] or errors[i] for every slice; returns the forward passes run.
  uint64_t process_tokenized(std::vector<Slice>& batch, std::vector<EmbeddingMatrix>& results,
                             std::vector<std::exception_ptr>& errors);

  std::shared_ptr<EmbeddingModel> model_;
  std::string device_;
  size_t batch_size_;
  PerformanceMonitor* monitor_ = nullptr;
  embed::BertModel* bert_ = nullptr;  // model_ when it is a BERT model and a monitor is given
  mutable std::mutex mutex_;
  std::condition_variable idle_;  // the destructor waits for !draining_
  std::deque<RequestPtr> queue_;  // a request cut into passes goes back to the end after each
  size_t queued_texts_ = 0;       // texts of the queued requests not embedded yet
  size_t max_queued_requests_;
  size_t max_queued_texts_;
  bool draining_ = false;  // a drain() is posted or running
  bool stop_ = false;
  EmbeddingStats stats_;
  std::shared_ptr<Runtime> runtime_;
};

AsyncEmbedding::AsyncEmbedding(const std::string& model_name, const std::string& device,
                               size_t batch_size)
    : AsyncEmbedding(load_checked(model_name, device, load_settings()), device, batch_size) {}

AsyncEmbedding::AsyncEmbedding(const Settings& settings, const std::string& device)
    : AsyncEmbedding(load_checked(settings.embed_model, device, settings), device,
                     static_cast<size_t>(std::max(settings.embed_batch, 1))) {}

AsyncEmbedding::AsyncEmbedding(std::shared_ptr<EmbeddingModel> model, const std::string& device,
                               size_t batch_size)
    : AsyncEmbedding(std::move(model),
                     AsyncEmbeddingOptions{.device = device, .batch_size = batch_size}) {}

AsyncEmbedding::AsyncEmbedding(std::shared_ptr<EmbeddingModel> model, AsyncEmbeddingOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(options))) {}

AsyncEmbedding::~AsyncEmbedding() = default;

size_t AsyncEmbedding::dim() const {
  return impl_->model_->dim();
}
EmbeddingModel& AsyncEmbedding::model() {
  return *impl_->model_;
}
const std::string& AsyncEmbedding::device() const {
  return impl_->device_;
}

AsyncEmbedding::Impl::Impl(std::shared_ptr<EmbeddingModel> model, AsyncEmbeddingOptions options)
    : model_(std::move(model)),
      device_(resolve_device(options.device)),
      batch_size_(checked_batch(options.batch_size)),
      monitor_(options.monitor),
      max_queued_requests_(options.max_queued_requests),
      max_queued_texts_(options.max_queued_texts),
      runtime_(options.runtime ? std::move(options.runtime) : Runtime::shared()) {
  if (!model_) throw ConfigError("AsyncEmbedding needs a model (got none)");
  if (max_queued_requests_ == 0 || max_queued_texts_ == 0)
    throw ConfigError(
        "AsyncEmbeddingOptions: max_queued_requests and max_queued_texts must be "
        "at least 1");
  if (monitor_) bert_ = dynamic_cast<embed::BertModel*>(model_.get());
  stats_.device = device_;
  stats_.threads = runtime_->compute_threads();
  stats_.max_batch = batch_size_;
}

AsyncEmbeddingOptions AsyncEmbeddingOptions::from_settings(const Settings& settings) {
  AsyncEmbeddingOptions o;
  o.batch_size = static_cast<size_t>(std::max(settings.embed_batch, 1));
  return o;
}

AsyncEmbedding::Impl::~Impl() {
  std::unique_lock lock(mutex_);
  stop_ = true;
  idle_.wait(lock, [&] { return !draining_; });
}

void AsyncEmbedding::submit(std::vector<std::string> texts, Callback done, std::stop_token stop) {
  impl_->submit(std::move(texts), std::move(done), std::move(stop));
}

void AsyncEmbedding::Impl::submit(std::vector<std::string> texts, Callback done,
                                  std::stop_token stop) {
  {
    std::lock_guard lock(mutex_);
    if (stop_) {
      throw UnavailableError("AsyncEmbedding is shutting down; no new requests are accepted");
    }
    // A request alone is never refused for its size (its caller bounds it); the queue is.
    if (queue_.size() >= max_queued_requests_ ||
        (queued_texts_ > 0 && queued_texts_ + texts.size() > max_queued_texts_)) {
      ++stats_.rejected;
      throw OverloadedError(
          "the embedding queue is full (" + std::to_string(queue_.size()) + " requests, " +
          std::to_string(queued_texts_) +
          " texts waiting; max_queued_requests=" + std::to_string(max_queued_requests_) +
          ", max_queued_texts=" + std::to_string(max_queued_texts_) + "); retry later");
    }
    auto request = std::make_shared<Request>();
    request->texts = std::move(texts);
    request->done = std::move(done);
    request->stop = std::move(stop);
    queued_texts_ += request->texts.size();
    queue_.push_back(std::move(request));
    if (draining_) return;  // the running drain() takes it
    draining_ = true;
  }
  runtime_->post_compute([this] { drain(); });
}

std::future<EmbeddingMatrix> AsyncEmbedding::embed_batch(std::vector<std::string> texts) {
  auto promise = std::make_shared<std::promise<EmbeddingMatrix>>();
  auto future = promise->get_future();
  submit(std::move(texts), [promise](std::exception_ptr error, EmbeddingMatrix m) {
    if (error) {
      promise->set_exception(error);
    } else {
      promise->set_value(std::move(m));
    }
  });
  return future;
}

std::future<std::vector<float>> AsyncEmbedding::embed_single(std::string text) {
  auto promise = std::make_shared<std::promise<std::vector<float>>>();
  auto future = promise->get_future();
  std::vector<std::string> texts;
  texts.push_back(std::move(text));
  submit(std::move(texts), [promise](std::exception_ptr error, EmbeddingMatrix m) {
    if (error) {
      promise->set_exception(error);
    } else {
      promise->set_value(std::move(m.data));
    }
  });
  return future;
}

boost::asio::awaitable<EmbeddingMatrix> AsyncEmbedding::async_embed_batch(
    std::vector<std::string> texts) {
  auto start = [this, &texts](Callback done) { submit(std::move(texts), std::move(done)); };
  co_return co_await await_callback<EmbeddingMatrix>(std::move(start));
}

boost::asio::awaitable<std::vector<float>> AsyncEmbedding::async_embed_single(std::string text) {
  std::vector<std::string> texts;
  texts.push_back(std::move(text));
  EmbeddingMatrix m = co_await async_embed_batch(std::move(texts));
  co_return std::move(m.data);
}

EmbeddingStats AsyncEmbedding::get_stats() const {
  std::lock_guard lock(impl_->mutex_);
  EmbeddingStats s = impl_->stats_;
  s.throughput_embeddings_per_sec =
      s.seconds > 0 ? static_cast<double>(s.embeddings) / s.seconds : 0.0;
  return s;
}

void AsyncEmbedding::Impl::drain() {
  std::vector<Slice> batch;
  std::vector<RequestPtr> dropped;  // their callers gave up before this pass
  {
    std::lock_guard lock(mutex_);
    size_t texts = 0;
    while (!queue_.empty()) {
      RequestPtr& front = queue_.front();
      const size_t left = front->texts.size() - front->next;
      if (front->failed) {  // a pass failed it; it has its answer
        queued_texts_ -= left;
        queue_.pop_front();
        continue;
      }
      if (front->stop.stop_requested()) {
        queued_texts_ -= left;
        dropped.push_back(std::move(front));
        queue_.pop_front();
        continue;
      }
      if (!batch.empty() && texts + left > batch_size_) break;
      // The first request of a pass may be cut to batch_size texts: the rest of it goes back
      // to the end of the queue, so requests behind it get the next pass (a one-text request
      // never waits for all of a large one).
      const size_t take = std::min(left, batch_size_ - texts);
      RequestPtr request = std::move(front);
      queue_.pop_front();
      batch.push_back(Slice{request, request->next, request->next + take});
      request->next += take;
      queued_texts_ -= take;
      texts += take;
      if (request->next < request->texts.size()) {
        queue_.push_back(std::move(request));
        break;
      }
    }
    stats_.requests += dropped.size();
    stats_.failed += dropped.size();
    stats_.cancelled += dropped.size();
  }
  for (auto& r : dropped) {
    try {
      r->done(std::make_exception_ptr(
                  CancelledError("embedding request of " + std::to_string(r->texts.size()) +
                                 " texts dropped: its caller gave up before it ran")),
              {});
    } catch (...) {
      // A callback that throws must not stop the others.
    }
  }
  if (!batch.empty()) process(batch);
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      draining_ = false;
      idle_.notify_all();
      return;
    }
  }
  runtime_->post_compute([this] { drain(); });  // requests that came during the pass
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

uint64_t AsyncEmbedding::Impl::process_tokenized(std::vector<Slice>& batch,
                                                 std::vector<EmbeddingMatrix>& results,
                                                 std::vector<std::exception_ptr>& errors) {
  const size_t dim = model_->dim();
  const auto t_tokenize = Clock::now();
  std::vector<std::vector<int32_t>> ids;
  std::vector<size_t> tokenized;  // slices whose texts are all in `ids`, in order
  for (size_t i = 0; i < batch.size(); ++i) {
    const Slice& slice = batch[i];
    std::vector<std::vector<int32_t>> mine;
    mine.reserve(slice.size());
    try {
      for (size_t j = slice.begin; j < slice.end; ++j) {
        try {
          mine.push_back(bert_->encode(slice.request->texts[j]));
        } catch (const InputError& e) {
          // The message BertModel::embed gives for this request run alone.
          throw InputError("text " + std::to_string(j) + ": " + e.what());
        }
      }
    } catch (...) {
      errors[i] = std::current_exception();
      continue;
    }
    results[i].rows = mine.size();
    results[i].dim = dim;
    for (auto& m : mine) ids.push_back(std::move(m));
    tokenized.push_back(i);
  }
  monitor_->record("tokenize", seconds_since(t_tokenize));
  if (ids.empty()) return 0;

  const auto t_embed = Clock::now();
  try {
    EmbeddingMatrix m = bert_->embed_ids(ids);
    monitor_->record("embed", seconds_since(t_embed));
    size_t row = 0;
    for (size_t i : tokenized) {
      const size_t n = results[i].rows;
      results[i].data.assign(m.data.begin() + static_cast<ptrdiff_t>(row * m.dim),
                             m.data.begin() + static_cast<ptrdiff_t>((row + n) * m.dim));
      row += n;
    }
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    for (size_t i : tokenized) {
      errors[i] = error;
      results[i] = EmbeddingMatrix{};
    }
  }
  return 1;
}

void AsyncEmbedding::Impl::process(std::vector<Slice>& batch) {
  const auto start = Clock::now();
  uint64_t passes = 0;
  std::vector<std::exception_ptr> errors(batch.size());
  std::vector<EmbeddingMatrix> results(batch.size());

  if (bert_ != nullptr) {
    passes = process_tokenized(batch, results, errors);
  } else {
    // One forward pass for the whole batch; "embed" is recorded only when a monitor is given.
    auto embed = [&](std::span<const std::string> texts) {
      ++passes;
      if (!monitor_) return model_->embed(texts);
      const auto t0 = Clock::now();
      EmbeddingMatrix m = model_->embed(texts);
      monitor_->record("embed", seconds_since(t0));
      return m;
    };
    auto texts_of = [](const Slice& slice) {
      return std::span<const std::string>(slice.request->texts).subspan(slice.begin, slice.size());
    };
    bool merged_ok = false;
    if (batch.size() > 1) {
      std::vector<std::string> all;
      for (const Slice& slice : batch)
        for (const std::string& t : texts_of(slice)) all.push_back(t);
      try {
        EmbeddingMatrix m = embed(all);
        size_t row = 0;
        for (size_t i = 0; i < batch.size(); ++i) {
          const size_t n = batch[i].size();
          results[i].rows = n;
          results[i].dim = m.dim;
          results[i].data.assign(m.data.begin() + static_cast<ptrdiff_t>(row * m.dim),
                                 m.data.begin() + static_cast<ptrdiff_t>((row + n) * m.dim));
          row += n;
        }
        merged_ok = true;
      } catch (...) {
        // One bad text must not fail its neighbours: retry each slice alone below.
      }
    }
    if (!merged_ok) {
      for (size_t i = 0; i < batch.size(); ++i) {
        try {
          results[i] = embed(texts_of(batch[i]));
        } catch (...) {
          errors[i] = std::current_exception();
        }
      }
    }
  }
  // Each slice into its request; a request is answered once: when its last slice is in, or at
  // its first failure (its remaining texts are then dropped from the queue).
  std::vector<std::pair<RequestPtr, std::exception_ptr>> answers;
  uint64_t embedded = 0;
  uint64_t failed = 0;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < batch.size(); ++i) {
      Request& r = *batch[i].request;
      if (errors[i]) {
        if (!r.failed) {
          r.failed = true;
          ++failed;
          answers.emplace_back(batch[i].request, errors[i]);
        }
        continue;
      }
      embedded += batch[i].size();
      if (r.result.data.empty()) {
        r.result.rows = r.texts.size();
        r.result.dim = results[i].dim;
        r.result.data.resize(r.result.rows * r.result.dim);
      }
      std::copy(results[i].data.begin(), results[i].data.end(),
                r.result.data.begin() + static_cast<ptrdiff_t>(batch[i].begin * r.result.dim));
      if (batch[i].end == r.texts.size() && !r.failed)
        answers.emplace_back(batch[i].request, nullptr);
    }
    stats_.embeddings += embedded;
    stats_.batches += passes;
    stats_.requests += answers.size();
    stats_.failed += failed;
    stats_.seconds += seconds_since(start);
  }
  for (auto& [request, error] : answers) {
    try {
      request->done(error, error ? EmbeddingMatrix{} : std::move(request->result));
    } catch (...) {
      // A callback that throws must not stop the others.
    }
  }
}

}  // namespace ragperf
