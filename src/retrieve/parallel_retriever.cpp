// ParallelRetriever: embed once, fan the search out over every table on a thread pool, merge.
#include "ragperf/retriever.h"

// GCC reports -Wnull-dereference inside Asio's scheduler when inlined at -O3 (a false positive in
// a system header); silence it for Asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/monitor.h"

namespace ragperf {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The same kind of error as `error`, its message prefixed with `prefix`.
std::exception_ptr with_prefix(std::exception_ptr error, const std::string& prefix) {
  try {
    std::rethrow_exception(error);
  } catch (const QueryError& e) {
    return std::make_exception_ptr(
        QueryError(e.sqlstate(), prefix + e.server_message(), e.statement()));
  } catch (const Error& e) {
    const std::string m = prefix + e.what();
    switch (e.code()) {
      case ErrorCode::kConfig:
        return std::make_exception_ptr(ConfigError(m));
      case ErrorCode::kModel:
        return std::make_exception_ptr(ModelError(m));
      case ErrorCode::kInput:
        return std::make_exception_ptr(InputError(m));
      case ErrorCode::kConnection:
        return std::make_exception_ptr(ConnectionError(m));
      case ErrorCode::kPoolExhausted:
        return std::make_exception_ptr(PoolExhaustedError(m));
      case ErrorCode::kTimeout:
        return std::make_exception_ptr(TimeoutError(m));
      case ErrorCode::kOverloaded:
        return std::make_exception_ptr(OverloadedError(m));
      case ErrorCode::kUnavailable:
        return std::make_exception_ptr(UnavailableError(m));
      case ErrorCode::kCancelled:
        return std::make_exception_ptr(CancelledError(m));
      case ErrorCode::kQuery:
        return std::make_exception_ptr(Error(ErrorCode::kQuery, m));
    }
    return std::make_exception_ptr(Error(e.code(), m));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(Error(ErrorCode::kQuery, prefix + e.what()));
  } catch (...) {
    return std::make_exception_ptr(Error(ErrorCode::kQuery, prefix + "unknown error"));
  }
}

std::pair<ErrorCode, std::string> describe_error(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const std::exception& e) {
    return {ErrorCode::kQuery, e.what()};
  } catch (...) {
    return {ErrorCode::kQuery, "unknown error"};
  }
}

}  // namespace

struct ParallelRetriever::Impl {
  std::shared_ptr<VectorStore> store;
  std::shared_ptr<EmbeddingModel> model;     // set when embedding directly
  std::shared_ptr<AsyncEmbedding> embedder;  // set when embedding through AsyncEmbedding
  std::vector<std::string> tables;
  std::vector<TableRef> refs;
  std::vector<std::string> names;  // display names, written into hits
  size_t dim = 0;
  std::string model_id;
  ParallelRetrieverOptions options;
  std::unique_ptr<boost::asio::thread_pool> pool;

  std::mutex mutex;  // guards everything below
  std::map<std::string, std::shared_ptr<VectorStore>> location_stores;
  std::vector<bool> checked;  // [tables] table found and matching the model
  size_t in_flight = 0;
  std::condition_variable idle;

  // One call in flight.
  struct Call {
    Impl* impl = nullptr;
    RetrieveOptions options;
    Callback done;
    Clock::time_point start;
    double embed_s = 0;
    bool embedded = false;
    std::vector<float> query;
    Clock::time_point query_start;
    std::vector<std::vector<Hit>> per_table;
    std::vector<std::exception_ptr> errors;
    std::vector<double> table_s;
    std::atomic<size_t> remaining{0};
  };

  VectorStore& store_for(size_t i) {
    const TableRef& ref = refs[i];
    if (ref.location.empty()) {
      if (!store) {
        throw ConfigError("table '" + ref.name +
                          "' names no location and the retriever has no default store; write " +
                          ref.name + "@postgresql://host/db or pass a store");
      }
      return *store;
    }
    std::lock_guard lock(mutex);
    auto it = location_stores.find(ref.location);
    if (it != location_stores.end()) return *it->second;
    // Opening under the lock keeps one store (one pool) per location.
    std::shared_ptr<VectorStore> opened = options.open_location(ref.location);
    if (!opened) throw ConfigError("no store could be opened at " + mask_secrets(ref.location));
    location_stores.emplace(ref.location, opened);
    return *opened;
  }

  void check_table(VectorStore& s, size_t i) {
    {
      std::lock_guard lock(mutex);
      if (checked[i]) return;
    }
    const std::string& name = refs[i].name;
    std::optional<CollectionInfo> info = s.collection(name);
    if (!info) {
      throw InputError("table '" + name + "' does not exist in " + s.describe() +
                       "; ingest it first (ragperf ingest PATH --table " + name +
                       ") or check the table list");
    }
    if (info->dim != dim || (!info->model_id.empty() && info->model_id != model_id)) {
      throw InputError("table '" + name + "' was ingested with model " +
                       (info->model_id.empty() ? std::string("(unrecorded)") : info->model_id) +
                       " (dim " + std::to_string(info->dim) + ") but the query model is " +
                       model_id + " (dim " + std::to_string(dim) + "); query it with " +
                       how_to_load(info->model_id) + " or re-ingest the table with this model");
    }
    std::lock_guard lock(mutex);
    checked[i] = true;
  }

  void search_one(const std::shared_ptr<Call>& call, size_t i) {
    const Clock::time_point t0 = Clock::now();
    try {
      VectorStore& s = store_for(i);
      check_table(s, i);
      SearchOptions so;
      so.exact = call->options.exact;
      so.ef_search = call->options.ef_search;
      so.top_k = call->options.candidates_per_table != 0 ? call->options.candidates_per_table
                 : call->options.deduplicate             ? 2 * call->options.top_k
                                                         : call->options.top_k;
      call->per_table[i] = s.search(refs[i].name, call->query, so);
    } catch (...) {
      call->errors[i] = std::current_exception();
    }
    call->table_s[i] = seconds_since(t0);
  }

  void fan_out(std::shared_ptr<Call> call) {
    call->query_start = Clock::now();
    call->remaining.store(tables.size());
    for (size_t i = 0; i < tables.size(); ++i) {
      boost::asio::post(*pool, [this, call, i] {
        search_one(call, i);
        if (call->remaining.fetch_sub(1) == 1) finish(call);
      });
    }
  }

  void finish(const std::shared_ptr<Call>& call) {
    const double query_s = seconds_since(call->query_start);
    RetrieveResult result;
    std::exception_ptr error;
    std::vector<std::string> failed;
    for (size_t i = 0; i < tables.size(); ++i) {
      if (!call->errors[i]) continue;
      failed.push_back(names[i]);
      if (call->options.partial_results) {
        auto [code, message] = describe_error(call->errors[i]);
        result.failures.push_back(TableFailure{names[i], code, message});
        call->table_s[i] = 0;
      } else if (!error) {
        error = call->errors[i];
      }
    }
    if (error) {
      std::string prefix = "table '" + failed.front() + "'";
      if (failed.size() > 1) {
        prefix += " (and " + std::to_string(failed.size() - 1) + " more:";
        for (size_t i = 1; i < failed.size(); ++i) prefix += " " + failed[i];
        prefix += ")";
      }
      prefix += " failed: ";
      // A message that already names its table needs no prefix.
      if (failed.size() == 1 && describe_error(error).second.find("table '" + failed.front() +
                                                                  "'") != std::string::npos) {
        prefix.clear();
      }
      error = with_prefix(error, prefix);
      complete(call, error, {});
      return;
    }
    try {
      const Clock::time_point m0 = Clock::now();
      result.hits = merge_hits(std::move(call->per_table), names, call->options);
      result.timings.merge_s = seconds_since(m0);
    } catch (...) {
      complete(call, std::current_exception(), {});
      return;
    }
    result.timings.embed_s = call->embed_s;
    result.timings.query_s = query_s;
    result.timings.table_s = std::move(call->table_s);
    result.timings.total_s = seconds_since(call->start);
    if (PerformanceMonitor* m = options.monitor) {
      if (call->embedded) m->record("embed", result.timings.embed_s);
      m->record("query", result.timings.query_s);
      m->record("merge", result.timings.merge_s);
      m->record("total", result.timings.total_s);
    }
    complete(call, nullptr, std::move(result));
  }

  void complete(const std::shared_ptr<Call>& call, std::exception_ptr error,
                RetrieveResult result) {
    Callback done = std::move(call->done);
    try {
      done(error, std::move(result));
    } catch (...) {  // NOLINT(bugprone-empty-catch): a callback must not throw; nothing to do
    }
    std::lock_guard lock(mutex);
    if (--in_flight == 0) idle.notify_all();
  }

  std::shared_ptr<Call> begin(const RetrieveOptions& options_in, Callback done) {
    auto call = std::make_shared<Call>();
    call->impl = this;
    call->options = options_in;
    call->done = std::move(done);
    call->start = Clock::now();
    call->per_table.resize(tables.size());
    call->errors.resize(tables.size());
    call->table_s.assign(tables.size(), 0.0);
    std::lock_guard lock(mutex);
    ++in_flight;
    return call;
  }

  // Fails `call` on a pool thread (callbacks always run there).
  void fail(std::shared_ptr<Call> call, std::exception_ptr error) {
    boost::asio::post(*pool, [this, call, error] { complete(call, error, {}); });
  }

  static void validate(const RetrieveOptions& o) {
    if (o.top_k == 0) throw InputError("top_k is 0; ask for at least 1 hit");
    if (!(o.rrf_k > 0)) {
      throw InputError("rrf_k=" + std::to_string(o.rrf_k) + " must be > 0 (the usual is 60)");
    }
    if (o.ef_search < 0) {
      throw InputError("ef_search=" + std::to_string(o.ef_search) + " must be >= 0 (0: default)");
    }
  }
};

ParallelRetriever::ParallelRetriever(std::shared_ptr<VectorStore> store,
                                     std::shared_ptr<EmbeddingModel> model,
                                     std::vector<std::string> tables, size_t embed_dim,
                                     ParallelRetrieverOptions options)
    : impl_(std::make_shared<Impl>()) {
  if (!model) throw ConfigError("ParallelRetriever needs an embedding model (got none)");
  impl_->model = std::move(model);
  impl_->model_id = impl_->model->id();
  const size_t model_dim = impl_->model->dim();
  impl_->store = std::move(store);
  impl_->tables = std::move(tables);
  impl_->dim = embed_dim;
  impl_->options = std::move(options);
  if (model_dim != embed_dim) {
    throw ConfigError("ParallelRetriever: embed_dim=" + std::to_string(embed_dim) + " but model " +
                      impl_->model_id + " has dimension " + std::to_string(model_dim) +
                      "; pass the model's dimension (model->dim() = " + std::to_string(model_dim) +
                      ") or a model of dimension " + std::to_string(embed_dim));
  }
  if (impl_->tables.empty()) throw InputError("no tables to search; name at least one table");
  for (const std::string& t : impl_->tables) {
    impl_->refs.push_back(TableRef::parse(t));
    impl_->names.push_back(impl_->refs.back().display());
  }
  impl_->checked.assign(impl_->tables.size(), false);
  if (!impl_->options.open_location) {
    // Settings are passed in, never read here: a table elsewhere needs the caller's opener.
    for (const TableRef& ref : impl_->refs) {
      if (ref.location.empty()) continue;
      throw ConfigError("table '" + ref.display() +
                        "' names a location but no ParallelRetrieverOptions::open_location was "
                        "given; pass default_store_opener(settings) or an opener of your own");
    }
  }
  size_t threads = impl_->options.max_parallel;
  if (threads == 0) threads = std::min<size_t>(impl_->tables.size(), 32);
  impl_->pool = std::make_unique<boost::asio::thread_pool>(threads);
}

ParallelRetriever::ParallelRetriever(std::shared_ptr<VectorStore> store,
                                     std::shared_ptr<AsyncEmbedding> embedder,
                                     std::vector<std::string> tables, size_t embed_dim,
                                     ParallelRetrieverOptions options)
    : ParallelRetriever(
          std::move(store),
          embedder ? std::shared_ptr<EmbeddingModel>(embedder, &embedder->model()) : nullptr,
          std::move(tables), embed_dim, std::move(options)) {
  impl_->embedder = std::move(embedder);
}

ParallelRetriever::~ParallelRetriever() {
  {
    std::unique_lock lock(impl_->mutex);
    impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
  }
  impl_->pool->join();
}

void ParallelRetriever::submit(std::string query, RetrieveOptions options, Callback done) {
  Impl* impl = impl_.get();
  auto call = impl->begin(options, std::move(done));
  try {
    Impl::validate(options);
  } catch (...) {
    impl->fail(call, std::current_exception());
    return;
  }
  call->embedded = true;
  if (impl->embedder) {
    const Clock::time_point t0 = Clock::now();
    impl->embedder->submit({std::move(query)},
                           [impl, call, t0](std::exception_ptr error, EmbeddingMatrix m) {
                             call->embed_s = seconds_since(t0);
                             if (error) {
                               impl->fail(call, error);
                               return;
                             }
                             call->query.assign(m.data.begin(), m.data.end());
                             boost::asio::post(*impl->pool, [impl, call] { impl->fan_out(call); });
                           });
    return;
  }
  boost::asio::post(*impl->pool, [impl, call, query = std::move(query)] {
    const Clock::time_point t0 = Clock::now();
    try {
      EmbeddingMatrix m = impl->model->embed(std::span<const std::string>(&query, 1));
      call->query = std::move(m.data);
    } catch (...) {
      impl->complete(call, std::current_exception(), {});
      return;
    }
    call->embed_s = seconds_since(t0);
    impl->fan_out(call);
  });
}

void ParallelRetriever::submit_vector(std::vector<float> query, RetrieveOptions options,
                                      Callback done) {
  Impl* impl = impl_.get();
  auto call = impl->begin(options, std::move(done));
  try {
    Impl::validate(options);
    if (query.size() != impl->dim) {
      throw InputError("query vector has " + std::to_string(query.size()) +
                       " floats but the retriever's dimension is " + std::to_string(impl->dim) +
                       "; embed it with model " + impl->model_id);
    }
  } catch (...) {
    impl->fail(call, std::current_exception());
    return;
  }
  call->query = std::move(query);
  boost::asio::post(*impl->pool, [impl, call] { impl->fan_out(call); });
}

namespace {

std::pair<ParallelRetriever::Callback, std::future<RetrieveResult>> promise_callback() {
  auto promise = std::make_shared<std::promise<RetrieveResult>>();
  std::future<RetrieveResult> future = promise->get_future();
  auto cb = [promise](std::exception_ptr error, RetrieveResult result) {
    if (error) {
      promise->set_exception(error);
    } else {
      promise->set_value(std::move(result));
    }
  };
  return {std::move(cb), std::move(future)};
}

}  // namespace

std::future<RetrieveResult> ParallelRetriever::retrieve_parallel(std::string query, size_t top_k,
                                                                 bool deduplicate) {
  RetrieveOptions options;
  options.top_k = top_k;
  options.deduplicate = deduplicate;
  return retrieve_parallel(std::move(query), options);
}

std::future<RetrieveResult> ParallelRetriever::retrieve_parallel(std::string query,
                                                                 RetrieveOptions options) {
  auto [cb, future] = promise_callback();
  submit(std::move(query), options, std::move(cb));
  return std::move(future);
}

std::future<RetrieveResult> ParallelRetriever::retrieve_by_vector(std::vector<float> query,
                                                                  RetrieveOptions options) {
  auto [cb, future] = promise_callback();
  submit_vector(std::move(query), options, std::move(cb));
  return std::move(future);
}

RetrieveResult ParallelRetriever::retrieve(std::string query, RetrieveOptions options) {
  if (impl_->pool->get_executor().running_in_this_thread()) {
    throw UnavailableError(
        "ParallelRetriever::retrieve() called from one of the retriever's own threads (it would "
        "wait for itself); use submit() or async_retrieve_parallel() there");
  }
  return retrieve_parallel(std::move(query), options).get();
}

boost::asio::awaitable<RetrieveResult> ParallelRetriever::async_retrieve_parallel(
    std::string query, RetrieveOptions options) {
  auto executor = co_await boost::asio::this_coro::executor;
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                 void(std::exception_ptr, RetrieveResult)>(
      [this, executor](auto handler, std::string q, RetrieveOptions o) {
        using Handler = decltype(handler);
        auto h = std::make_shared<Handler>(std::move(handler));
        // Tracked: the awaiting io_context keeps running while the call is in flight.
        auto work = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
        submit(std::move(q), o, [h, work](std::exception_ptr error, RetrieveResult result) {
          boost::asio::post(work, [h, error, result = std::move(result)]() mutable {
            (*h)(error, std::move(result));
          });
        });
      },
      boost::asio::use_awaitable, std::move(query), options);
}

const std::vector<std::string>& ParallelRetriever::tables() const {
  return impl_->tables;
}

size_t ParallelRetriever::dim() const {
  return impl_->dim;
}

}  // namespace ragperf
