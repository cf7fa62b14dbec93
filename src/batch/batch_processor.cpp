#include "ragperf/batch_processor.h"

// GCC reports -Wnull-dereference inside Asio's executor comparison when inlined at -O3 (a false
// positive in a system header); silence it for Asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "base/utf8.h"
#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/filter.h"
#include "ragperf/monitor.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/runtime.h"

namespace ragperf {

namespace {

using Clock = std::chrono::steady_clock;
using Embedder = std::function<boost::asio::awaitable<EmbeddingMatrix>(std::vector<std::string>)>;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// The start of a query for messages: at most 48 bytes, control bytes shown as '?'.
std::string preview(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (out.size() >= 48) {
      out += "...";
      break;
    }
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  return out;
}

struct Entry {
  uint64_t seq = 0;
  std::string text;
  QueryOptions options;
  Clock::time_point enqueued;
  BatchProcessor::Callback done;
};
using EntryPtr = std::shared_ptr<Entry>;

}  // namespace

BatchProcessorOptions BatchProcessorOptions::from_settings(const Settings& settings) {
  BatchProcessorOptions o;
  if (settings.batch_size < 1) {
    throw ConfigError("BATCH_SIZE=" + std::to_string(settings.batch_size) +
                      ": the batch size must be at least 1");
  }
  o.batch_size = static_cast<size_t>(settings.batch_size);
  o.timeout = std::chrono::duration<double>(settings.batch_timeout_s);
  o.sequential = !settings.enable_async;
  return o;
}

struct BatchProcessor::Impl {
  Impl(Embedder embedder, std::unique_ptr<QueryPipeline> query_pipeline,
       std::shared_ptr<VectorStore> vector_store, std::string table_name,
       BatchProcessorOptions opts);
  ~Impl();

  void submit(std::string text, QueryOptions options, Callback done);
  size_t process_batch();
  void close(CloseMode mode);

  /// Starts the next batch when one is due and none is being embedded, else arms the timer for
  /// the oldest query's timeout. Called whenever the answer may have changed.
  void schedule();
  /// Embeds `batch` in one model call and starts its answers (awaits them when sequential).
  boost::asio::awaitable<void> run_batch(std::vector<EntryPtr> batch);
  /// run_batch(), then the next batch may start.
  boost::asio::awaitable<void> run_batch_then_next(std::vector<EntryPtr> batch);
  /// The rest of the query path for one embedded query (QueryPipeline::async_answer_embedded).
  boost::asio::awaitable<void> answer_one(EntryPtr e, std::vector<float> vec);
  /// Pipelined mode: one group of a batch's queries (`es`, whose vectors are rows `rows` of
  /// `m`) through QueryPipeline::async_answer_group (one search_batch() call).
  boost::asio::awaitable<void> answer_many(std::vector<EntryPtr> es,
                                           std::shared_ptr<const EmbeddingMatrix> m,
                                           std::vector<size_t> rows);
  /// Starts `search` on the Runtime's I/O executor; close() waits for every one started.
  void launch(boost::asio::awaitable<void> search);
  /// Answers `e` with the pipeline's outcome, counts cache hits and records "query" and "total".
  void answer(const EntryPtr& e, Outcome<QueryAnswer> outcome);
  /// Answers `e` (exactly once) and updates the counters.
  void finish(const EntryPtr& e, std::exception_ptr error, std::vector<Hit> hits,
              bool cancelled = false);
  /// The error to drop `e` with when its caller gave up, else nullptr.
  std::exception_ptr abandoned(const Entry& e, Clock::time_point now) const;
  void record(const char* stage, double seconds) const {
    if (options.monitor) options.monitor->record(stage, seconds);
  }
  void count(const char* counter, uint64_t n = 1) const {
    if (options.monitor && n) options.monitor->increment(counter, n);
  }

  Embedder embed;
  std::unique_ptr<QueryPipeline> pipeline;  // the query path; this class adds the batching
  size_t dim;
  std::string model_id;
  std::shared_ptr<VectorStore> store;  // shared with the pipeline
  std::string table;
  BatchProcessorOptions options;
  BatchSearchMode search_mode;  // kSpread or kPipelined (kAuto resolved)
  QueryTarget target;

  mutable std::mutex mutex;
  std::condition_variable idle_cv;  // close() waits on it for pending == searching == 0
  std::deque<EntryPtr> queue;
  uint64_t next_seq = 0;
  uint64_t flush_before = 0;  // queued entries with seq < flush_before run without waiting
  size_t pending = 0;         // admitted, not yet answered
  bool closed = false;        // no new queries
  bool embedding = false;     // a batch is being embedded (one at a time)
  BatchStats stats;

  size_t searching = 0;  // launched coroutines not yet finished (guarded by `mutex`)
  std::optional<boost::asio::steady_timer> timer;  // the oldest query's timeout (under `mutex`)
  std::optional<Clock::time_point> timer_due;      // when the armed timer fires
  size_t timer_waits = 0;                          // timer handlers not yet run

  std::mutex close_mutex;
  bool shut_down = false;
  std::shared_ptr<Runtime> runtime;  // batches and searches are coroutines on its I/O executor
  size_t groups = 1;                 // kPipelined: most search_batch() calls per batch
};

BatchProcessor::Impl::Impl(Embedder embedder, std::unique_ptr<QueryPipeline> query_pipeline,
                           std::shared_ptr<VectorStore> vector_store, std::string table_name,
                           BatchProcessorOptions opts)
    : embed(std::move(embedder)),
      pipeline(std::move(query_pipeline)),
      dim(pipeline->dim()),
      model_id(pipeline->model_id()),
      store(std::move(vector_store)),
      table(std::move(table_name)),
      options(opts) {
  if (options.batch_size < 1) {
    throw ConfigError("BatchProcessor batch_size=0 (BATCH_SIZE): it must be at least 1");
  }
  if (!(options.timeout.count() >= 0)) {
    throw ConfigError("BatchProcessor timeout=" + std::to_string(options.timeout.count()) +
                      " s (BATCH_TIMEOUT): it must be a number >= 0");
  }
  if (options.max_queue < 1) {
    throw ConfigError("BatchProcessor max_queue=0: at least one query must be admitted");
  }
  if (options.search.top_k < 1) {
    throw ConfigError("BatchProcessor search.top_k=0: ask for at least one hit");
  }
  validate_identifier(table, "table");
  (void)Filter::parse(options.search.where);  // a bad filter fails here, not in every query
  const auto info = store->collection(table);
  if (!info) {
    throw InputError("table " + table + " does not exist in " + store->describe() +
                     "; ingest into it first (ragperf ingest --table " + table + ")");
  }
  if (info->dim != dim || (!info->model_id.empty() && info->model_id != model_id)) {
    throw InputError("table " + table + " was ingested with model " + info->model_id + " (dim " +
                     std::to_string(info->dim) + "), but this BatchProcessor embeds with model " +
                     model_id + " (dim " + std::to_string(dim) + "); query it with model " +
                     info->model_id + " or re-ingest");
  }
  // One table, its store's hits as they are: no deduplication, top_k candidates.
  target.tables = {table};
  target.options.top_k = options.search.top_k;
  target.options.deduplicate = false;
  target.options.exact = options.search.exact;
  target.options.ef_search = options.search.ef_search;
  target.options.where = options.search.where;
  target.options.mode = options.mode;
  target.metric = metric_of({*info});
  search_mode = options.search_mode;
  if (search_mode == BatchSearchMode::kAuto) {
    search_mode =
        store->prefers_search_batch() ? BatchSearchMode::kPipelined : BatchSearchMode::kSpread;
  }
  groups = options.search_threads;
  if (groups == 0) groups = std::max(1u, std::thread::hardware_concurrency());
  runtime = options.runtime ? options.runtime : Runtime::shared();
  timer.emplace(runtime->io_executor());
}

BatchProcessor::Impl::~Impl() {
  try {
    close(CloseMode::kFinishPending);
  } catch (...) {  // close() does not throw in practice; a destructor must not
  }
}

std::exception_ptr BatchProcessor::Impl::abandoned(const Entry& e, Clock::time_point now) const {
  if (e.options.stop.stop_requested()) {
    return std::make_exception_ptr(
        CancelledError("query '" + preview(e.text) + "' on table " + table +
                       " was cancelled by its caller before it ran; it was dropped unprocessed"));
  }
  if (e.options.deadline && now > *e.options.deadline) {
    char waited[64];
    std::snprintf(waited, sizeof waited, "%.1f ms", 1e3 * seconds_between(e.enqueued, now));
    return std::make_exception_ptr(TimeoutError(
        "query '" + preview(e.text) + "' on table " + table + " passed its deadline after " +
        waited + " in the batch queue and was dropped; allow a later deadline, lower " +
        "BATCH_TIMEOUT, or add capacity"));
  }
  return nullptr;
}

void BatchProcessor::Impl::finish(const EntryPtr& e, std::exception_ptr error,
                                  std::vector<Hit> hits, bool cancelled) {
  // Counters first, so that get_stats() agrees with every answer a caller has seen. close() waits
  // for pending == 0 and for every coroutine that calls finish() to end, so `done` still runs
  // before close() returns.
  {
    std::lock_guard lock(mutex);
    if (error) {
      ++stats.failed;
    } else {
      ++stats.completed;
    }
    if (cancelled) ++stats.cancelled;
    if (--pending == 0) idle_cv.notify_all();
  }
  if (e->done) {
    try {
      e->done(error, std::move(hits));
    } catch (...) {  // a callback must not throw; its exception cannot reach anyone
    }
    e->done = nullptr;
  }
}

void BatchProcessor::Impl::submit(std::string text, QueryOptions qopts, Callback done) {
  if (!done) throw InputError("BatchProcessor::submit: the result callback is empty");
  {
    std::lock_guard lock(mutex);
    if (closed) {
      throw UnavailableError("the BatchProcessor for table " + table +
                             " is closed; queries are no longer accepted (create a new one)");
    }
  }
  if (auto at = base::invalid_utf8_offset(text)) {
    {
      std::lock_guard lock(mutex);
      ++stats.queries;
      ++stats.failed;
    }
    done(std::make_exception_ptr(InputError("query text is not valid UTF-8 (byte " +
                                            std::to_string(*at) + " of " +
                                            std::to_string(text.size()) + "); send UTF-8 text")),
         {});
    return;
  }
  if (options.cache) {
    std::optional<std::vector<Hit>> cached;
    try {
      if (auto hit = pipeline->lookup_exact(target, text))
        cached = to_hits(std::move(hit->result.hits));
    } catch (...) {
      {
        std::lock_guard lock(mutex);
        ++stats.queries;
        ++stats.failed;
      }
      done(std::current_exception(), {});
      return;
    }
    if (cached) {
      {
        std::lock_guard lock(mutex);
        ++stats.queries;
        ++stats.completed;
        ++stats.cache_exact_hits;
      }
      count("batch_cache_hits");
      done(nullptr, std::move(*cached));
      return;
    }
  }
  auto e = std::make_shared<Entry>();
  e->text = std::move(text);
  e->options = std::move(qopts);
  e->done = std::move(done);
  {
    std::lock_guard lock(mutex);
    if (closed) {
      throw UnavailableError("the BatchProcessor for table " + table +
                             " is closed; queries are no longer accepted (create a new one)");
    }
    if (pending >= options.max_queue) {
      ++stats.rejected;
      count("batch_rejected");
      throw OverloadedError(
          "the batch queue for table " + table + " is full (" + std::to_string(pending) +
          " queries waiting or running, max_queue=" + std::to_string(options.max_queue) +
          "); retry later, raise max_queue, or add capacity");
    }
    e->seq = next_seq++;
    e->enqueued = Clock::now();
    queue.push_back(std::move(e));
    ++pending;
    ++stats.queries;
  }
  schedule();
}

size_t BatchProcessor::Impl::process_batch() {
  size_t n = 0;
  {
    std::lock_guard lock(mutex);
    flush_before = next_seq;
    n = queue.size();
  }
  schedule();
  return n;
}

void BatchProcessor::Impl::schedule() {
  std::vector<EntryPtr> batch;
  {
    std::lock_guard lock(mutex);
    if (embedding || queue.empty()) return;
    const auto due =
        queue.front()->enqueued + std::chrono::duration_cast<Clock::duration>(options.timeout);
    const bool ready = options.sequential || options.flush_when_idle ||
                       queue.size() >= options.batch_size || queue.front()->seq < flush_before ||
                       Clock::now() >= due;
    if (!ready) {
      if (timer_due && *timer_due <= due) return;  // armed already, early enough
      timer_due = due;
      timer->expires_at(due);  // a wait already armed ends with operation_aborted
      ++timer_waits;
      timer->async_wait([this](boost::system::error_code ec) {
        {
          std::lock_guard held(mutex);
          --timer_waits;
          if (!ec) timer_due.reset();  // aborted: replaced by an earlier wait, or close()
          // close() may destroy us once this is 0: notified under the lock.
          if (timer_waits == 0) idle_cv.notify_all();
        }
        if (!ec) schedule();
      });
      return;
    }
    const size_t n = options.sequential ? 1 : std::min(queue.size(), options.batch_size);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    embedding = true;
  }
  launch(run_batch_then_next(std::move(batch)));
}

boost::asio::awaitable<void> BatchProcessor::Impl::run_batch_then_next(
    std::vector<EntryPtr> batch) {
  try {
    co_await run_batch(std::move(batch));
  } catch (...) {  // NOLINT(bugprone-empty-catch): run_batch answers every query itself
  }
  {
    std::lock_guard lock(mutex);
    embedding = false;
  }
  schedule();
}

boost::asio::awaitable<void> BatchProcessor::Impl::run_batch(std::vector<EntryPtr> batch) {
  const auto start = Clock::now();
  std::vector<EntryPtr> live;
  live.reserve(batch.size());
  uint64_t dropped = 0;
  for (auto& e : batch) {
    if (auto error = abandoned(*e, start)) {
      ++dropped;
      finish(e, error, {}, /*cancelled=*/true);
      continue;
    }
    record("queue", seconds_between(e->enqueued, start));
    live.push_back(std::move(e));
  }
  count("batch_cancelled", dropped);
  if (live.empty()) co_return;

  // One forward pass for the whole batch; if the model rejects it, each text alone so that only
  // the bad one fails.
  const size_t n = live.size();
  std::vector<std::string> texts;
  texts.reserve(n);
  for (const auto& e : live) texts.push_back(e->text);
  EmbeddingMatrix m;
  std::vector<char> ok(n, 1);
  bool whole = true;
  try {
    m = co_await embed(texts);
    if (m.rows != n || m.dim != dim) {
      throw ModelError("the embedding model returned " + std::to_string(m.rows) + " x " +
                       std::to_string(m.dim) + " for " + std::to_string(n) + " texts (dim " +
                       std::to_string(dim) + " expected)");
    }
  } catch (...) {
    whole = false;
  }
  if (!whole) {
    m.rows = n;
    m.dim = dim;
    m.data.assign(n * dim, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      try {
        std::vector<std::string> alone(1, texts[i]);
        EmbeddingMatrix one = co_await embed(std::move(alone));
        if (one.rows != 1 || one.dim != dim) {
          throw ModelError("the embedding model returned " + std::to_string(one.rows) + " x " +
                           std::to_string(one.dim) + " for one text (dim " + std::to_string(dim) +
                           " expected)");
        }
        std::copy(one.data.begin(), one.data.end(), m.row(i).begin());
      } catch (...) {
        ok[i] = 0;
        finish(live[i], std::current_exception(), {});
      }
    }
  }
  record("embed", seconds_between(start, Clock::now()));
  {
    std::lock_guard lock(mutex);
    ++stats.batches;
    stats.batched_queries += n;
    stats.largest_batch = std::max(stats.largest_batch, n);
  }
  count("batch_batches");
  count("batch_queries", n);

  const bool pipelined = search_mode == BatchSearchMode::kPipelined;
  std::vector<EntryPtr> group;  // pipelined: answered together
  std::vector<size_t> group_rows;
  for (size_t i = 0; i < n; ++i) {
    if (!ok[i]) continue;
    if (pipelined) {
      group.push_back(live[i]);
      group_rows.push_back(i);
      continue;
    }
    const auto row = m.row(i);
    if (options.sequential) {  // ENABLE_ASYNC=0: answered before the next query starts
      std::vector<float> vec(row.begin(), row.end());
      co_await answer_one(live[i], std::move(vec));
      continue;
    }
    launch(answer_one(live[i], std::vector<float>(row.begin(), row.end())));
  }
  if (!group.empty()) {
    // Split into at most search_threads groups of consecutive queries, one search_batch() call
    // (one connection, one round trip) each: the groups run in parallel, and this batch's
    // searches overlap the next batch's embedding.
    const auto shared = std::make_shared<const EmbeddingMatrix>(std::move(m));
    if (options.sequential) {  // ENABLE_ASYNC=0: answered before the next query starts
      co_await answer_many(std::move(group), shared, std::move(group_rows));
      co_return;
    }
    const size_t n_groups = std::min(groups, group.size());
    size_t begin = 0;
    for (size_t g = 0; g < n_groups; ++g) {
      const size_t end = begin + (group.size() - begin) / (n_groups - g);
      std::vector<EntryPtr> es(group.begin() + static_cast<std::ptrdiff_t>(begin),
                               group.begin() + static_cast<std::ptrdiff_t>(end));
      std::vector<size_t> rows(group_rows.begin() + static_cast<std::ptrdiff_t>(begin),
                               group_rows.begin() + static_cast<std::ptrdiff_t>(end));
      launch(answer_many(std::move(es), shared, std::move(rows)));
      begin = end;
    }
  }
}

void BatchProcessor::Impl::launch(boost::asio::awaitable<void> search) {
  {
    std::lock_guard lock(mutex);
    ++searching;
  }
  boost::asio::co_spawn(runtime->io_executor(), std::move(search), [this](std::exception_ptr) {
    std::lock_guard lock(mutex);  // notified under the lock: close() may destroy us right after
    if (--searching == 0) idle_cv.notify_all();
  });
}

boost::asio::awaitable<void> BatchProcessor::Impl::answer_one(EntryPtr e, std::vector<float> vec) {
  if (auto error = abandoned(*e, Clock::now())) {
    count("batch_cancelled");
    finish(e, error, {}, /*cancelled=*/true);
    co_return;
  }
  Outcome<QueryAnswer> outcome;
  try {
    outcome.value = co_await pipeline->async_answer_embedded(target, e->text, std::move(vec));
  } catch (...) {
    outcome.error = std::current_exception();
  }
  answer(e, std::move(outcome));
}

boost::asio::awaitable<void> BatchProcessor::Impl::answer_many(
    std::vector<EntryPtr> es, std::shared_ptr<const EmbeddingMatrix> m, std::vector<size_t> rows) {
  const auto now = Clock::now();
  std::vector<EntryPtr> live;
  std::vector<std::string> texts;
  std::vector<std::vector<float>> vectors;
  live.reserve(es.size());
  for (size_t k = 0; k < es.size(); ++k) {
    if (auto error = abandoned(*es[k], now)) {
      count("batch_cancelled");
      finish(es[k], error, {}, /*cancelled=*/true);
      continue;
    }
    const auto row = m->row(rows[k]);
    texts.push_back(es[k]->text);
    vectors.emplace_back(row.begin(), row.end());
    live.push_back(std::move(es[k]));
  }
  if (live.empty()) co_return;
  std::vector<Outcome<QueryAnswer>> outcomes;
  std::exception_ptr failed;
  try {
    outcomes = co_await pipeline->async_answer_group(target, std::move(texts), std::move(vectors));
  } catch (...) {
    failed = std::current_exception();
  }
  for (size_t j = 0; j < live.size(); ++j) {
    answer(live[j], failed ? Outcome<QueryAnswer>{{}, failed} : std::move(outcomes[j]));
  }
}

void BatchProcessor::Impl::answer(const EntryPtr& e, Outcome<QueryAnswer> outcome) {
  if (!outcome.ok()) {
    finish(e, outcome.error, {});
    return;
  }
  QueryAnswer& a = outcome.value;
  if (a.cache == CacheOutcome::kExactHit || a.cache == CacheOutcome::kSemanticHit) {
    {
      std::lock_guard lock(mutex);
      ++(a.cache == CacheOutcome::kExactHit ? stats.cache_exact_hits : stats.cache_semantic_hits);
    }
    count("batch_cache_hits");
    finish(e, nullptr, to_hits(std::move(a.result.hits)));
    return;
  }
  record("query", a.result.timings.query_s);
  const auto enqueued = e->enqueued;
  finish(e, nullptr, to_hits(std::move(a.result.hits)));
  record("total", seconds_between(enqueued, Clock::now()));
}

void BatchProcessor::Impl::close(CloseMode mode) {
  std::lock_guard close_lock(close_mutex);
  if (shut_down) return;
  std::deque<EntryPtr> failing;
  {
    std::lock_guard lock(mutex);
    closed = true;
    if (mode == CloseMode::kFailPending) {
      failing.swap(queue);
    }
  }
  for (const auto& e : failing) {
    finish(e,
           std::make_exception_ptr(UnavailableError(
               "query '" + preview(e->text) + "' on table " + table +
               " was not run: its BatchProcessor was closed while it was queued; retry it")),
           {});
  }
  {
    std::lock_guard lock(mutex);
    flush_before = next_seq;  // whatever is queued runs now
  }
  schedule();
  {
    std::unique_lock lock(mutex);
    idle_cv.wait(lock, [this] { return pending == 0 && searching == 0; });
    if (timer_waits > 0) timer->cancel();
    idle_cv.wait(lock, [this] { return timer_waits == 0; });
  }
  shut_down = true;
}

// ---- BatchProcessor ----

namespace {

// AsyncEmbedding: the batch joins its other callers' forward passes.
Embedder shared_embedder(std::shared_ptr<AsyncEmbedding> e) {
  return [e = std::move(e)](std::vector<std::string> texts) {
    return e->async_embed_batch(std::move(texts), Truncation::kRight);  // as the query path
  };
}

boost::asio::awaitable<EmbeddingMatrix> embed_on_compute(std::shared_ptr<Runtime> runtime,
                                                         std::shared_ptr<EmbeddingModel> m,
                                                         std::vector<std::string> texts) {
  // A named local, not a temporary in the co_await expression: GCC 12 destroys those twice. It
  // refers to the model: this frame owns `m` until the pass has ended, and the task may be
  // destroyed on a compute thread, where the model's last owner must not be released.
  auto pass = [&model = *m, t = std::move(texts)] { return model.embed(t); };
  co_return co_await runtime->on_compute(std::move(pass));
}

// A bare model: one forward pass per batch, a task on the Runtime's compute pool.
Embedder model_embedder(std::shared_ptr<EmbeddingModel> m, std::shared_ptr<Runtime> runtime) {
  if (!runtime) runtime = Runtime::shared();
  return [m = std::move(m), rt = std::move(runtime)](std::vector<std::string> texts) {
    return embed_on_compute(rt, m, std::move(texts));
  };
}

// A required collaborator: ConfigError naming the argument when it is null.
template <typename T>
std::shared_ptr<T> required(std::shared_ptr<T> p, const char* argument, const char* what) {
  if (!p) {
    throw ConfigError(std::string("BatchProcessor needs ") + what + " (got none: `" + argument +
                      "` is null)");
  }
  return p;
}

// The pipeline records no stages: this class records its own ("query", "total" per query).
QueryPipelineOptions pipeline_options(const BatchProcessorOptions& o) {
  QueryPipelineOptions p;
  p.cache = o.cache;
  p.runtime = o.runtime;
  return p;
}

BatchProcessorOptions with_size(size_t batch_size, std::chrono::duration<double> timeout) {
  BatchProcessorOptions o;
  o.batch_size = batch_size;
  o.timeout = timeout;
  return o;
}

}  // namespace

BatchProcessor::BatchProcessor(std::shared_ptr<AsyncEmbedding> embed_model,
                               std::shared_ptr<VectorStore> store, std::string table,
                               BatchProcessorOptions options) {
  embed_model = required(std::move(embed_model), "embed_model", "an embedder");
  store = required(std::move(store), "store", "a vector store");
  auto pipeline = std::make_unique<QueryPipeline>(store, embed_model, pipeline_options(options));
  impl_ = std::make_unique<Impl>(shared_embedder(std::move(embed_model)), std::move(pipeline),
                                 std::move(store), std::move(table), options);
}

BatchProcessor::BatchProcessor(std::shared_ptr<EmbeddingModel> embed_model,
                               std::shared_ptr<VectorStore> store, std::string table,
                               BatchProcessorOptions options) {
  embed_model = required(std::move(embed_model), "embed_model", "an embedding model");
  store = required(std::move(store), "store", "a vector store");
  auto pipeline = std::make_unique<QueryPipeline>(store, embed_model, pipeline_options(options));
  impl_ = std::make_unique<Impl>(model_embedder(std::move(embed_model), options.runtime),
                                 std::move(pipeline), std::move(store), std::move(table), options);
}

BatchProcessor::BatchProcessor(std::shared_ptr<AsyncEmbedding> embed_model,
                               std::shared_ptr<VectorStore> store, std::string table,
                               size_t batch_size, std::chrono::duration<double> timeout)
    : BatchProcessor(std::move(embed_model), std::move(store), std::move(table),
                     with_size(batch_size, timeout)) {}

BatchProcessor::BatchProcessor(std::shared_ptr<EmbeddingModel> embed_model,
                               std::shared_ptr<VectorStore> store, std::string table,
                               size_t batch_size, std::chrono::duration<double> timeout)
    : BatchProcessor(std::move(embed_model), std::move(store), std::move(table),
                     with_size(batch_size, timeout)) {}

BatchProcessor::~BatchProcessor() = default;

std::future<std::vector<Hit>> BatchProcessor::add_query(std::string text, QueryOptions options) {
  auto promise = std::make_shared<std::promise<std::vector<Hit>>>();
  auto future = promise->get_future();
  impl_->submit(std::move(text), std::move(options),
                [promise](std::exception_ptr error, std::vector<Hit> hits) {
                  if (error) {
                    promise->set_exception(error);
                  } else {
                    promise->set_value(std::move(hits));
                  }
                });
  return future;
}

boost::asio::awaitable<std::vector<Hit>> BatchProcessor::async_query(std::string text,
                                                                     QueryOptions options) {
  auto start = [this, &text, &options](Callback done) {
    try {
      impl_->submit(std::move(text), std::move(options), done);
    } catch (...) {  // not admitted: the awaiting caller gets the error
      done(std::current_exception(), {});
    }
  };
  co_return co_await await_callback<std::vector<Hit>>(std::move(start));
}

void BatchProcessor::submit(std::string text, QueryOptions options, Callback done) {
  impl_->submit(std::move(text), std::move(options), std::move(done));
}

size_t BatchProcessor::process_batch() {
  return impl_->process_batch();
}

void BatchProcessor::close(CloseMode mode) {
  impl_->close(mode);
}

BatchStats BatchProcessor::get_stats() const {
  std::lock_guard lock(impl_->mutex);
  BatchStats s = impl_->stats;
  s.queued = impl_->queue.size();
  s.in_flight = impl_->pending;
  return s;
}

const BatchProcessorOptions& BatchProcessor::options() const {
  return impl_->options;
}

BatchSearchMode BatchProcessor::search_mode() const {
  return impl_->search_mode;
}

const std::string& BatchProcessor::table() const {
  return impl_->table;
}

}  // namespace ragperf
