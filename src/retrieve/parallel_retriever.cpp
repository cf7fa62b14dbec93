// ParallelRetriever: embed once, fan the search out over every table as awaitables, merge.
#include "ragperf/retriever.h"

// GCC reports -Wnull-dereference inside Asio's scheduler when inlined at -O3 (a false positive in
// a system header); silence it for Asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/filter.h"
#include "ragperf/monitor.h"
#include "ragperf/runtime.h"
#include "retrieve/hybrid.h"

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
  std::shared_ptr<Runtime> runtime;
  std::vector<std::string> tables;
  std::vector<TableRef> refs;
  std::vector<std::string> names;  // display names, written into hits
  size_t dim = 0;
  std::string model_id;
  ParallelRetrieverOptions options;

  std::mutex mutex;  // guards everything below
  std::map<std::string, std::shared_ptr<VectorStore>> location_stores;
  std::vector<bool> checked;  // [tables] table found and matching the model
  size_t in_flight = 0;
  std::condition_variable idle;

  // Counts a call in flight for the destructor, whichever way the call ends.
  struct InFlight {
    Impl* impl;
    explicit InFlight(Impl* i) : impl(i) {
      std::lock_guard lock(impl->mutex);
      ++impl->in_flight;
    }
    ~InFlight() {
      std::lock_guard lock(impl->mutex);
      if (--impl->in_flight == 0) impl->idle.notify_all();
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
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

  bool is_checked(size_t i) {
    std::lock_guard lock(mutex);
    return checked[i];
  }

  // Opens the table's store and checks the table against the model; blocking (a location's
  // store may connect), so it runs on the compute pool, once per table.
  VectorStore* open_and_check(size_t i) {
    VectorStore& s = store_for(i);
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
    return &s;
  }

  // One table's search in `ro.mode`; its own time goes into `table_s` (owned by the
  // awaiting call). Hybrid runs the vector and the text search at once and fuses them.
  boost::asio::awaitable<std::vector<Hit>> search_table(size_t i, std::vector<float> query,
                                                        std::string text, SearchOptions so,
                                                        RetrieveOptions ro, double& table_s) {
    const Clock::time_point t0 = Clock::now();
    VectorStore* s = nullptr;
    if (is_checked(i)) {
      s = &store_for(i);
    } else {
      s = co_await runtime->on_compute([this, i] { return open_and_check(i); });
    }
    const std::string& name = refs[i].name;
    std::vector<Hit> hits;
    if (ro.mode == SearchMode::kHybrid) {
      std::vector<boost::asio::awaitable<std::vector<Hit>>> both;
      both.push_back(s->async_search(name, std::move(query), so));
      both.push_back(s->async_text_search(name, std::move(text), so));
      std::vector<Outcome<std::vector<Hit>>> lists = co_await when_all(std::move(both));
      for (auto& l : lists) {
        if (!l.ok()) std::rethrow_exception(l.error);
      }
      hits = retrieve::fuse_hybrid(std::move(lists[0].value), std::move(lists[1].value), ro);
    } else if (ro.mode == SearchMode::kText) {
      hits = co_await s->async_text_search(name, std::move(text), so);
      for (size_t r = 0; r < hits.size(); ++r) hits[r].text_rank = r + 1;
    } else {
      hits = co_await s->async_search(name, std::move(query), so);
    }
    table_s = seconds_since(t0);
    co_return hits;
  }

  boost::asio::awaitable<std::vector<float>> embed(std::string text) {
    // A query is cut to the model's length (Truncation::kRight), as the bare-model path below
    // does: the refusal rule of ragperf/embedding_model.h is for the embedding surfaces.
    if (embedder)
      co_return co_await embedder->async_embed_single(std::move(text), Truncation::kRight);
    auto one = [m = model, t = std::move(text)] {
      return m->embed(std::span<const std::string>(&t, 1)).data;
    };
    co_return co_await runtime->on_compute(std::move(one));
  }

  // The whole call: embed `text` (unless `query` is given), search every table at once, merge.
  // `self` keeps the retriever's state alive until the call ends.
  static boost::asio::awaitable<RetrieveResult> call(std::shared_ptr<Impl> self,
                                                     std::optional<std::string> text,
                                                     std::vector<float> query,
                                                     RetrieveOptions options) {
    Impl& im = *self;
    InFlight counted(&im);
    const Clock::time_point start = Clock::now();
    validate(options);
    if (!text && options.mode != SearchMode::kVector) {
      throw InputError(std::string("mode ") + to_string(options.mode) +
                       " needs the query's text, not only its vector; retrieve by text (or "
                       "async_retrieve_embedded)");
    }
    std::string query_text;  // (no ?: with a temporary here: GCC 12 miscompiles it in coroutines)
    if (text) query_text = *text;
    double embed_s = 0;
    bool embedded = false;  // here, not by the caller (QueryPipeline records its own)
    if (text && query.empty() && options.mode != SearchMode::kText) {
      embedded = true;
      const Clock::time_point t0 = Clock::now();
      query = co_await im.embed(std::move(*text));
      embed_s = seconds_since(t0);
    } else if (options.mode != SearchMode::kText && query.size() != im.dim) {
      throw InputError("query vector has " + std::to_string(query.size()) +
                       " floats but the retriever's dimension is " + std::to_string(im.dim) +
                       "; embed it with model " + im.model_id);
    }
    const SearchOptions so = per_table_search_options(options);
    const size_t n = im.tables.size();
    std::vector<double> table_s(n, 0.0);
    const Clock::time_point query_start = Clock::now();
    std::vector<boost::asio::awaitable<std::vector<Hit>>> searches;
    searches.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      searches.push_back(im.search_table(i, query, query_text, so, options, table_s[i]));
    }
    std::vector<Outcome<std::vector<Hit>>> outcomes = co_await when_all(std::move(searches));
    const double query_s = seconds_since(query_start);

    RetrieveResult result;
    std::exception_ptr error;
    std::vector<std::string> failed;
    std::vector<std::vector<Hit>> per_table(n);
    for (size_t i = 0; i < n; ++i) {
      if (outcomes[i].ok()) {
        per_table[i] = std::move(outcomes[i].value);
        continue;
      }
      failed.push_back(im.names[i]);
      if (options.partial_results) {
        auto [code, message] = describe_error(outcomes[i].error);
        result.failures.push_back(TableFailure{im.names[i], code, message});
        table_s[i] = 0;
      } else if (!error) {
        error = outcomes[i].error;
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
      std::rethrow_exception(with_prefix(error, prefix));
    }
    const Clock::time_point m0 = Clock::now();
    result.hits = merge_hits(std::move(per_table), im.names, options);
    result.timings.merge_s = seconds_since(m0);
    result.timings.embed_s = embed_s;
    result.timings.query_s = query_s;
    result.timings.table_s = std::move(table_s);
    result.timings.total_s = seconds_since(start);
    if (PerformanceMonitor* m = im.options.monitor) {
      if (embedded) m->record("embed", result.timings.embed_s);
      m->record("query", result.timings.query_s);
      m->record("merge", result.timings.merge_s);
      m->record("total", result.timings.total_s);
    }
    co_return result;
  }

  static void validate(const RetrieveOptions& o) {
    if (o.top_k == 0) throw InputError("top_k is 0; ask for at least 1 hit");
    if (!(o.rrf_k > 0)) {
      throw InputError("rrf_k=" + std::to_string(o.rrf_k) + " must be > 0 (the usual is 60)");
    }
    if (o.ef_search < 0) {
      throw InputError("ef_search=" + std::to_string(o.ef_search) + " must be >= 0 (0: default)");
    }
    Filter::parse(o.where);  // InputError naming the part, before any table is searched
    if (!(o.text_weight >= 0 && o.text_weight <= 1)) {
      throw InputError("text_weight=" + std::to_string(o.text_weight) +
                       " must be between 0 and 1 (the text list's share of the weighted score)");
    }
  }
};

SearchOptions per_table_search_options(const RetrieveOptions& options) {
  SearchOptions so;
  so.exact = options.exact;
  so.ef_search = options.ef_search;
  so.where = options.where;
  so.top_k = options.candidates_per_table != 0 ? options.candidates_per_table
             : options.deduplicate             ? 2 * options.top_k
                                               : options.top_k;
  return so;
}

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
  impl_->runtime = impl_->options.runtime ? impl_->options.runtime : Runtime::shared();
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
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
}

namespace {

// The callback forms: the call runs on the Runtime's I/O executor and ends in `done`.
void start_call(Runtime& runtime, boost::asio::awaitable<RetrieveResult> call,
                ParallelRetriever::Callback done) {
  boost::asio::co_spawn(runtime.io_executor(), std::move(call),
                        [done = std::move(done)](std::exception_ptr error, RetrieveResult r) {
                          try {
                            done(error, std::move(r));
                          } catch (...) {  // NOLINT(bugprone-empty-catch): must not throw
                          }
                        });
}

}  // namespace

void ParallelRetriever::submit(std::string query, RetrieveOptions options, Callback done) {
  start_call(*impl_->runtime, Impl::call(impl_, std::move(query), {}, options), std::move(done));
}

void ParallelRetriever::submit_vector(std::vector<float> query, RetrieveOptions options,
                                      Callback done) {
  start_call(*impl_->runtime, Impl::call(impl_, std::nullopt, std::move(query), options),
             std::move(done));
}

std::future<RetrieveResult> ParallelRetriever::retrieve_parallel(std::string query, size_t top_k,
                                                                 bool deduplicate) {
  RetrieveOptions options;
  options.top_k = top_k;
  options.deduplicate = deduplicate;
  return retrieve_parallel(std::move(query), options);
}

std::future<RetrieveResult> ParallelRetriever::retrieve_parallel(std::string query,
                                                                 RetrieveOptions options) {
  return impl_->runtime->spawn(Impl::call(impl_, std::move(query), {}, options));
}

std::future<RetrieveResult> ParallelRetriever::retrieve_by_vector(std::vector<float> query,
                                                                  RetrieveOptions options) {
  return impl_->runtime->spawn(Impl::call(impl_, std::nullopt, std::move(query), options));
}

RetrieveResult ParallelRetriever::retrieve(std::string query, RetrieveOptions options) {
  return impl_->runtime->run_blocking(Impl::call(impl_, std::move(query), {}, options));
}

boost::asio::awaitable<RetrieveResult> ParallelRetriever::async_retrieve_parallel(
    std::string query, RetrieveOptions options) {
  return Impl::call(impl_, std::move(query), {}, options);
}

boost::asio::awaitable<RetrieveResult> ParallelRetriever::async_retrieve_parallel(
    std::string query) {
  return async_retrieve_parallel(std::move(query), RetrieveOptions{});
}

boost::asio::awaitable<RetrieveResult> ParallelRetriever::async_retrieve_by_vector(
    std::vector<float> query) {
  return async_retrieve_by_vector(std::move(query), RetrieveOptions{});
}

boost::asio::awaitable<RetrieveResult> ParallelRetriever::async_retrieve_embedded(
    std::string text, std::vector<float> query, RetrieveOptions options) {
  return Impl::call(impl_, std::move(text), std::move(query), std::move(options));
}

boost::asio::awaitable<RetrieveResult> ParallelRetriever::async_retrieve_by_vector(
    std::vector<float> query, RetrieveOptions options) {
  return Impl::call(impl_, std::nullopt, std::move(query), options);
}

boost::asio::awaitable<std::vector<float>> ParallelRetriever::async_embed(std::string query) {
  std::shared_ptr<Impl> self = impl_;  // kept alive until the embedding is back
  co_return co_await self->embed(std::move(query));
}

const std::vector<std::string>& ParallelRetriever::tables() const {
  return impl_->tables;
}

size_t ParallelRetriever::dim() const {
  return impl_->dim;
}

}  // namespace ragperf
