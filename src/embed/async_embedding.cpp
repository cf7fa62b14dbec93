#include "ragperf/async_embedding.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <span>
#include <stop_token>

#include "embed/embed_inputs.h"
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
    std::vector<EmbedInput> inputs;
    Truncation truncation = Truncation::kRefuse;
    OutcomeCallback done;
    std::chrono::steady_clock::time_point enqueued;
    bool details = true;   // the caller reads EmbedOutcome::details (prepare_inputs' `counted`)
    std::stop_token stop;  // requested: dropped before its next pass
    // Filled pass by pass: a request longer than batch_size is cut into passes (see drain()).
    size_t next = 0;                 // inputs [0, next) are in a pass (done or running)
    embed::PreparedInputs prepared;  // all its inputs, prepared with its first pass
    EmbedOutcome outcome;
    bool failed = false;  // answered with an error; its remaining inputs are dropped
  };
  using RequestPtr = std::shared_ptr<Request>;
  /// Inputs [begin, end) of one request: what a forward pass embeds of it.
  struct Slice {
    RequestPtr request;
    size_t begin = 0, end = 0;
  };
  void submit(std::vector<EmbedInput> inputs, Truncation truncation, OutcomeCallback done,
              bool details = true, std::stop_token stop = {});
  /// One merged batch from the queue, on a compute thread; posts itself again while requests
  /// wait (so searches queued meanwhile run between passes).
  void drain();
  /// Prepares each request at its first slice (tokenise, fit: its own error), then one forward
  /// pass for all the slices; when that pass fails and it held several, each is retried alone.
  void process(std::vector<Slice>& batch);

  std::shared_ptr<EmbeddingModel> model_;
  std::string device_;
  size_t batch_size_;
  PerformanceMonitor* monitor_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable idle_;  // the destructor waits for !draining_
  std::deque<RequestPtr> queue_;  // a request cut into passes goes back to the end after each
  size_t queued_inputs_ = 0;      // inputs of the queued requests not in a pass yet
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

namespace {

std::vector<EmbedInput> as_inputs(std::vector<std::string> texts) {
  std::vector<EmbedInput> inputs;
  inputs.reserve(texts.size());
  for (auto& t : texts) inputs.emplace_back(std::move(t));
  return inputs;
}

}  // namespace

void AsyncEmbedding::submit(std::vector<std::string> texts, Callback done, std::stop_token stop) {
  impl_->submit(
      as_inputs(std::move(texts)), Truncation::kRefuse,
      [done = std::move(done)](std::exception_ptr error, EmbedOutcome outcome) {
        done(error, std::move(outcome.vectors));
      },
      false, std::move(stop));
}

void AsyncEmbedding::submit_inputs(std::vector<EmbedInput> inputs, Truncation truncation,
                                   OutcomeCallback done) {
  impl_->submit(std::move(inputs), truncation, std::move(done));
}

void AsyncEmbedding::Impl::submit(std::vector<EmbedInput> inputs, Truncation truncation,
                                  OutcomeCallback done, bool details, std::stop_token stop) {
  {
    std::lock_guard lock(mutex_);
    if (stop_) {
      throw UnavailableError("AsyncEmbedding is shutting down; no new requests are accepted");
    }
    // A request alone is never refused for its size (its caller bounds it); the queue is.
    if (queue_.size() >= max_queued_requests_ ||
        (queued_inputs_ > 0 && queued_inputs_ + inputs.size() > max_queued_texts_)) {
      ++stats_.rejected;
      throw OverloadedError(
          "the embedding queue is full (" + std::to_string(queue_.size()) + " requests, " +
          std::to_string(queued_inputs_) +
          " texts waiting; max_queued_requests=" + std::to_string(max_queued_requests_) +
          ", max_queued_texts=" + std::to_string(max_queued_texts_) + "); retry later");
    }
    auto request = std::make_shared<Request>();
    request->inputs = std::move(inputs);
    request->truncation = truncation;
    request->done = std::move(done);
    request->enqueued = std::chrono::steady_clock::now();
    request->details = details;
    request->stop = std::move(stop);
    queued_inputs_ += request->inputs.size();
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
  co_return co_await async_embed_batch(std::move(texts), Truncation::kRefuse);
}

boost::asio::awaitable<std::vector<float>> AsyncEmbedding::async_embed_single(std::string text) {
  co_return co_await async_embed_single(std::move(text), Truncation::kRefuse);
}

boost::asio::awaitable<EmbeddingMatrix> AsyncEmbedding::async_embed_batch(
    std::vector<std::string> texts, Truncation truncation) {
  std::vector<EmbedInput> inputs = as_inputs(std::move(texts));
  auto start = [this, &inputs, truncation](OutcomeCallback done) {
    impl_->submit(std::move(inputs), truncation, std::move(done), /*details=*/false);
  };
  EmbedOutcome outcome = co_await await_callback<EmbedOutcome>(std::move(start));
  co_return std::move(outcome.vectors);
}

boost::asio::awaitable<std::vector<float>> AsyncEmbedding::async_embed_single(
    std::string text, Truncation truncation) {
  std::vector<std::string> texts;
  texts.push_back(std::move(text));
  EmbeddingMatrix m = co_await async_embed_batch(std::move(texts), truncation);
  co_return std::move(m.data);
}

boost::asio::awaitable<EmbedOutcome> AsyncEmbedding::async_embed_inputs(
    std::vector<EmbedInput> inputs, Truncation truncation) {
  auto start = [this, &inputs, truncation](OutcomeCallback done) {
    impl_->submit(std::move(inputs), truncation, std::move(done));
  };
  co_return co_await await_callback<EmbedOutcome>(std::move(start));
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
    size_t taken = 0;
    while (!queue_.empty()) {
      RequestPtr& front = queue_.front();
      const size_t left = front->inputs.size() - front->next;
      if (front->failed || front->stop.stop_requested()) {
        queued_inputs_ -= left;
        if (!front->failed) dropped.push_back(std::move(front));  // failed: answered already
        queue_.pop_front();
        continue;
      }
      if (!batch.empty() && taken + left > batch_size_) break;
      // The first request of a pass may be cut to batch_size inputs: the rest of it goes back
      // to the end of the queue, so requests behind it get the next pass (a one-text request
      // never waits for all of a large one).
      const size_t take = std::min(left, batch_size_ - taken);
      RequestPtr request = std::move(front);
      queue_.pop_front();
      batch.push_back(Slice{request, request->next, request->next + take});
      request->next += take;
      queued_inputs_ -= take;
      taken += take;
      if (request->next < request->inputs.size()) {
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
                  CancelledError("embedding request of " + std::to_string(r->inputs.size()) +
                                 " inputs dropped: its caller gave up before it ran")),
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

namespace {

// Inputs [begin, end) of `p`, for one pass.
embed::PreparedInputs slice_of(const embed::PreparedInputs& p, size_t begin, size_t end) {
  embed::PreparedInputs out;
  const auto b = static_cast<ptrdiff_t>(begin), e = static_cast<ptrdiff_t>(end);
  // Element by element: GCC 12's -Wnull-dereference misfires on assign() of a range of vectors.
  if (!p.ids.empty()) {
    out.ids.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) out.ids.push_back(p.ids[i]);
  }
  if (!p.texts.empty()) out.texts.assign(p.texts.begin() + b, p.texts.begin() + e);
  out.tokens.assign(p.tokens.begin() + b, p.tokens.begin() + e);
  out.truncated_from.assign(p.truncated_from.begin() + b, p.truncated_from.begin() + e);
  return out;
}

}  // namespace

void AsyncEmbedding::Impl::process(std::vector<Slice>& batch) {
  const auto start = Clock::now();
  uint64_t passes = 0;
  const size_t dim = model_->dim();
  const bool with_ids = model_->has_token_ids();
  std::vector<std::exception_ptr> errors(batch.size());
  std::vector<size_t> ready;  // slices whose request is prepared, in order

  for (size_t i = 0; i < batch.size(); ++i) {
    Request& r = *batch[i].request;
    if (batch[i].begin == 0) {  // the request's first pass: prepare all of it
      r.outcome.queue_s = std::chrono::duration<double>(start - r.enqueued).count();
      const auto t0 = Clock::now();
      try {
        r.prepared = embed::prepare_inputs(*model_, r.inputs, r.truncation, r.details);
      } catch (...) {
        errors[i] = std::current_exception();
        continue;
      }
      r.outcome.details.tokenize_s = seconds_since(t0);
      r.outcome.details.tokens = r.prepared.tokens;
      r.outcome.details.truncated_from = r.prepared.truncated_from;
      r.outcome.vectors.rows = r.inputs.size();
      r.outcome.vectors.dim = dim;
      r.outcome.vectors.data.resize(r.inputs.size() * dim);
    }
    ready.push_back(i);
  }
  // "tokenize": the batch's texts turned into ids (a static model tokenises inside its embed()).
  if (monitor_ && with_ids) monitor_->record("tokenize", seconds_since(start));

  // One pass over `members` (slices); fills their rows and inference time, or throws.
  auto pass = [&](const std::vector<size_t>& members) {
    embed::PreparedInputs all;
    for (size_t i : members) {
      const Slice& sl = batch[i];
      embed::append_prepared(all, slice_of(sl.request->prepared, sl.begin, sl.end));
    }
    ++passes;
    const auto t0 = Clock::now();
    EmbeddingMatrix m = embed::embed_prepared(*model_, all);
    const double inference_s = seconds_since(t0);
    if (monitor_) monitor_->record("embed", inference_s);
    size_t row = 0;
    for (size_t i : members) {
      const Slice& sl = batch[i];
      Request& r = *sl.request;
      const size_t n = sl.end - sl.begin;
      std::copy(m.data.begin() + static_cast<ptrdiff_t>(row * m.dim),
                m.data.begin() + static_cast<ptrdiff_t>((row + n) * m.dim),
                r.outcome.vectors.data.begin() + static_cast<ptrdiff_t>(sl.begin * dim));
      r.outcome.details.inference_s += inference_s;
      row += n;
    }
  };
  size_t n_ready = 0;  // inputs of the prepared slices: none (empty requests), no pass
  for (size_t i : ready) n_ready += batch[i].end - batch[i].begin;
  if (n_ready > 0) {
    try {
      pass(ready);
    } catch (...) {
      const std::exception_ptr error = std::current_exception();
      if (ready.size() == 1) {
        errors[ready[0]] = error;
      } else {
        // One bad request must not fail its neighbours: each alone.
        for (size_t i : ready) {
          try {
            pass({i});
          } catch (...) {
            errors[i] = std::current_exception();
          }
        }
      }
    }
  }
  // A request is answered once: when its last slice is in, or at its first failure (its
  // remaining inputs are then dropped from the queue by drain()).
  std::vector<std::pair<RequestPtr, std::exception_ptr>> answers;
  uint64_t embedded = 0;
  uint64_t failed = 0;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < batch.size(); ++i) {
      const Slice& sl = batch[i];
      Request& r = *sl.request;
      if (r.failed) continue;
      if (errors[i]) {
        r.failed = true;
        ++failed;
        answers.emplace_back(sl.request, errors[i]);
        continue;
      }
      embedded += sl.end - sl.begin;
      if (sl.end == r.inputs.size()) answers.emplace_back(sl.request, nullptr);
    }
    stats_.embeddings += embedded;
    stats_.batches += passes;
    stats_.requests += answers.size();
    stats_.failed += failed;
    stats_.seconds += seconds_since(start);
  }
  for (auto& [request, error] : answers) {
    try {
      if (error) {
        request->done(error, EmbedOutcome{});
      } else {
        request->prepared = {};
        request->done(nullptr, std::move(request->outcome));
      }
    } catch (...) {
      // A callback that throws must not stop the others.
    }
  }
}

}  // namespace ragperf
