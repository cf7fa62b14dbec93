// BatchProcessor against a real LocalStore and a small real embedding model (hashed bag of
// words): batches close on size, on timeout and on process_batch(); each caller gets the hits of
// its own text; an error reaches only its own future; a full queue fails fast; close() leaves no
// future hanging; cancelled queries are dropped before work is spent; cache hits skip the batch.
#include "ragperf/batch_processor.h"

// GCC 12 reports -Wnull-dereference inside Boost.Asio's io_context after inlining (not in code
// here); the warning is off for this file only.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <thread>

#include "batch/hashed_words_model.h"
#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"
#include "testing/forwarding_store.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using namespace std::chrono_literals;
using testing::HashedWordsModel;
using Hits = std::vector<Hit>;

constexpr auto kLong = std::chrono::seconds(30);   // a timeout no test waits for
constexpr auto kBound = std::chrono::seconds(10);  // longest any test waits for an answer

const char* const kTopics[] = {"alpha", "bravo", "charlie", "delta", "echo",   "fox",  "golf",
                               "hotel", "india", "juliet",  "kilo",  "lima",   "mike", "nova",
                               "oscar", "papa",  "quebec",  "romeo", "sierra", "tango"};

/// A LocalStore in a temporary folder with table "docs": 60 chunks about two topics each.
struct Fixture {
  std::shared_ptr<HashedWordsModel> model = std::make_shared<HashedWordsModel>();
  testing::TempDir dir;
  std::shared_ptr<LocalStore> store = std::make_shared<LocalStore>(dir.path());

  Fixture() {
    store->ensure_collection("docs", model->dim(), Metric::kCosine, model->id());
    std::vector<std::string> texts;
    for (size_t i = 0; i < 60; ++i) {
      texts.push_back(std::string(kTopics[i % 20]) + " " + kTopics[(i * 7 + 3) % 20] +
                      " document " + std::to_string(i));
    }
    HashedWordsModel loader(model->dim());
    const auto m = loader.embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = "d" + std::to_string(i);
      c.text = texts[i];
      c.content_hash = c.id;
      c.source = "corpus";
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store->add("docs", chunks);
  }

  /// What a direct embed + search gives for `text` (the truth each caller must get).
  Hits direct(const std::string& text, size_t top_k = 4) {
    HashedWordsModel m(model->dim());
    const auto v = m.embed(std::vector<std::string>{text});
    return store->search("docs", v.row(0), {.top_k = top_k});
  }
};

std::vector<std::string> ids(const Hits& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.id);
  return out;
}

BatchProcessorOptions opts(size_t batch_size, std::chrono::duration<double> timeout) {
  BatchProcessorOptions o;
  o.batch_size = batch_size;
  o.timeout = timeout;
  return o;
}

template <typename F>
bool ready(F& f, std::chrono::milliseconds within = kBound) {
  return f.wait_for(within) == std::future_status::ready;
}

template <typename Error, typename F>
void expect_error(F& f, const std::string& fragment) {
  ASSERT_TRUE(ready(f));
  try {
    f.get();
    FAIL() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(BatchProcessor, RunsWhenBatchSizeQueriesWait) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(4, kLong));
  std::vector<std::future<Hits>> fs;
  for (size_t i = 0; i < 3; ++i) fs.push_back(p.add_query(std::string(kTopics[i]) + " question"));
  EXPECT_FALSE(ready(fs[0], 50ms)) << "three of four queries must not start a batch";
  EXPECT_EQ(fx.model->n_calls(), 0u);
  fs.push_back(p.add_query("delta question"));
  for (auto& f : fs) ASSERT_TRUE(ready(f));
  const auto calls = fx.model->calls();
  ASSERT_EQ(calls.size(), 1u) << "one forward pass per batch";
  EXPECT_EQ(calls[0].size(), 4u);
  const auto s = p.get_stats();
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.batched_queries, 4u);
  EXPECT_EQ(s.largest_batch, 4u);
  EXPECT_DOUBLE_EQ(s.mean_batch_size(), 4.0);
  EXPECT_EQ(s.completed, 4u);
}

TEST(BatchProcessor, TheFilterAndTheModeApplyToEveryQueryOfABatch) {
  Fixture fx;
  BatchProcessorOptions o = opts(2, kLong);
  o.search.where = "source = 'elsewhere'";
  {
    BatchProcessor p(fx.model, fx.store, "docs", o);
    auto a = p.add_query("alpha question");
    auto b = p.add_query("bravo question");
    ASSERT_TRUE(ready(a));
    ASSERT_TRUE(ready(b));
    EXPECT_TRUE(a.get().empty());  // no chunk's source is "elsewhere"
    EXPECT_TRUE(b.get().empty());
  }
  o.search.where = "source = 'corpus'";
  {
    BatchProcessor p(fx.model, fx.store, "docs", o);
    auto a = p.add_query("alpha question");
    auto b = p.add_query("bravo question");
    ASSERT_TRUE(ready(a));
    EXPECT_EQ(ids(a.get()), ids(fx.direct("alpha question")));
    EXPECT_EQ(ids(b.get()), ids(fx.direct("bravo question")));
  }
  fx.store->enable_text_search("docs");
  o.search.where.clear();
  o.mode = SearchMode::kText;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  auto a = p.add_query("golf");
  auto b = p.add_query("hotel");
  ASSERT_TRUE(ready(a));
  ASSERT_TRUE(ready(b));
  const Hits golf = a.get();
  ASSERT_FALSE(golf.empty());
  for (const Hit& h : golf) EXPECT_NE(h.text.find("golf"), std::string::npos) << h.text;
  for (const Hit& h : b.get()) EXPECT_NE(h.text.find("hotel"), std::string::npos) << h.text;
}

TEST(BatchProcessor, BatchIsAtMostBatchSize) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(3, kLong));
  std::vector<std::future<Hits>> fs;
  for (size_t i = 0; i < 7; ++i) fs.push_back(p.add_query(kTopics[i]));
  p.process_batch();  // releases the seventh
  for (auto& f : fs) ASSERT_TRUE(ready(f));
  size_t total = 0;
  for (const auto& c : fx.model->calls()) {
    EXPECT_LE(c.size(), 3u);
    total += c.size();
  }
  EXPECT_EQ(total, 7u);
}

TEST(BatchProcessor, RunsWhenTheOldestHasWaitedTheTimeout) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(100, 80ms));
  const auto t0 = std::chrono::steady_clock::now();
  auto f1 = p.add_query("echo question");
  auto f2 = p.add_query("golf question");
  EXPECT_FALSE(ready(f1, 20ms)) << "answered before the timeout";
  ASSERT_TRUE(ready(f1));
  ASSERT_TRUE(ready(f2));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 80ms);
  EXPECT_EQ(fx.model->n_calls(), 1u);
  EXPECT_EQ(ids(f1.get()), ids(fx.direct("echo question")));
}

TEST(BatchProcessor, ProcessBatchRunsWithoutWaiting) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(100, kLong));
  auto f1 = p.add_query("hotel question");
  auto f2 = p.add_query("india question");
  EXPECT_EQ(p.process_batch(), 2u);
  ASSERT_TRUE(ready(f1));
  ASSERT_TRUE(ready(f2));
  EXPECT_EQ(ids(f2.get()), ids(fx.direct("india question")));
  EXPECT_EQ(p.process_batch(), 0u);
}

TEST(BatchProcessor, FlushWhenIdleAnswersALoneQueryAtOnce) {
  Fixture fx;
  auto o = opts(100, kLong);
  o.flush_when_idle = true;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  auto f = p.add_query("kilo question");
  ASSERT_TRUE(ready(f)) << "a lone query waited for the timeout although the model was idle";
  EXPECT_EQ(ids(f.get()), ids(fx.direct("kilo question")));
}

TEST(BatchProcessor, EachCallerGetsTheHitsOfItsOwnText) {
  Fixture fx;
  auto o = opts(8, 20ms);
  o.search.top_k = 5;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  constexpr size_t kThreads = 8, kPerThread = 12;
  std::vector<std::vector<std::pair<std::string, Hits>>> got(kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::pair<std::string, std::future<Hits>>> mine;
      for (size_t i = 0; i < kPerThread; ++i) {
        const std::string text = std::string(kTopics[(t * 5 + i) % 20]) + " " +
                                 kTopics[(i * 3 + t) % 20] + " query " + std::to_string(i);
        mine.emplace_back(text, p.add_query(text));
      }
      for (auto& [text, f] : mine) got[t].emplace_back(text, f.get());
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& per : got) {
    for (const auto& [text, hits] : per) {
      ASSERT_EQ(hits.size(), 5u);
      EXPECT_EQ(ids(hits), ids(fx.direct(text, 5))) << text;
      for (const auto& h : hits) EXPECT_EQ(h.source_table, "docs");
    }
  }
  const auto s = p.get_stats();
  EXPECT_EQ(s.completed, kThreads * kPerThread);
  EXPECT_EQ(s.batched_queries, kThreads * kPerThread);
  EXPECT_LT(s.batches, kThreads * kPerThread) << "concurrent queries were never batched";
}

TEST(BatchProcessor, InvalidUtf8FailsOnlyItsOwnQuery) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(4, kLong));
  auto good1 = p.add_query("lima question");
  auto bad = p.add_query(std::string("mike \xC3\x28 question"));
  auto good2 = p.add_query("nova question");
  p.process_batch();
  expect_error<InputError>(bad, "not valid UTF-8 (byte 5");
  ASSERT_TRUE(ready(good1));
  ASSERT_TRUE(ready(good2));
  EXPECT_EQ(ids(good1.get()), ids(fx.direct("lima question")));
  EXPECT_EQ(ids(good2.get()), ids(fx.direct("nova question")));
  for (const auto& c : fx.model->calls()) {
    for (const auto& t : c) EXPECT_EQ(t.find('\xC3'), std::string::npos) << "bad text embedded";
  }
}

TEST(BatchProcessor, AModelErrorOnOneTextFailsOnlyThatQuery) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(3, kLong));
  auto good1 = p.add_query("oscar question");
  auto bad = p.add_query("POISON pill");
  auto good2 = p.add_query("papa question");
  expect_error<InputError>(bad, "poisoned");
  ASSERT_TRUE(ready(good1));
  ASSERT_TRUE(ready(good2));
  EXPECT_EQ(ids(good1.get()), ids(fx.direct("oscar question")));
  EXPECT_EQ(ids(good2.get()), ids(fx.direct("papa question")));
  const auto calls = fx.model->calls();
  ASSERT_EQ(calls.size(), 4u) << "the batch, then each text alone";
  EXPECT_EQ(calls[0].size(), 3u);
  const auto s = p.get_stats();
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.completed, 2u);
}

TEST(BatchProcessor, AFullQueueFailsFastWithOverloaded) {
  Fixture fx;
  auto o = opts(100, kLong);
  o.max_queue = 3;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  std::vector<std::future<Hits>> fs;
  for (size_t i = 0; i < 3; ++i) fs.push_back(p.add_query(kTopics[i]));
  try {
    p.add_query("one too many");
    FAIL() << "a fourth query was admitted with max_queue=3";
  } catch (const OverloadedError& e) {
    EXPECT_NE(std::string(e.what()).find("max_queue=3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("table docs"), std::string::npos) << e.what();
  }
  EXPECT_EQ(p.get_stats().rejected, 1u);
  p.process_batch();
  for (auto& f : fs) ASSERT_TRUE(ready(f));
  // Answered queries free their places.
  for (int spin = 0; p.get_stats().in_flight != 0 && spin < 1000; ++spin)
    std::this_thread::sleep_for(1ms);
  auto again = p.add_query("sierra");
  p.process_batch();
  ASSERT_TRUE(ready(again));
  EXPECT_EQ(ids(again.get()), ids(fx.direct("sierra")));
}

TEST(BatchProcessor, QueriesArrivingDuringABatchFormTheNextOne) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(2, kLong));
  fx.model->close_gate();
  auto a = p.add_query("alpha");
  auto b = p.add_query("bravo");
  ASSERT_TRUE(fx.model->wait_entered(1));
  auto c = p.add_query("charlie");
  auto d = p.add_query("delta");
  auto e = p.add_query("echo");
  fx.model->open_gate();
  p.process_batch();  // the fifth runs without waiting for the timeout
  for (auto* f : {&a, &b, &c, &d, &e}) ASSERT_TRUE(ready(*f));
  const auto calls = fx.model->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0], (std::vector<std::string>{"alpha", "bravo"}));
  EXPECT_EQ(calls[1], (std::vector<std::string>{"charlie", "delta"}));
  EXPECT_EQ(calls[2], (std::vector<std::string>{"echo"}));
  EXPECT_EQ(ids(e.get()), ids(fx.direct("echo")));
}

TEST(BatchProcessor, ACancelledQueryIsDroppedBeforeEmbedding) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(100, kLong));
  std::stop_source gave_up;
  auto cancelled = p.add_query("tango", {.stop = gave_up.get_token()});
  auto kept = p.add_query("romeo");
  gave_up.request_stop();
  p.process_batch();
  expect_error<CancelledError>(cancelled, "cancelled by its caller");
  ASSERT_TRUE(ready(kept));
  EXPECT_EQ(ids(kept.get()), ids(fx.direct("romeo")));
  const auto calls = fx.model->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], std::vector<std::string>{"romeo"}) << "a cancelled query was embedded";
  EXPECT_EQ(p.get_stats().cancelled, 1u);
}

TEST(BatchProcessor, AQueryPastItsDeadlineIsDroppedWithTimeout) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(100, kLong));
  fx.model->close_gate();
  auto first = p.add_query("alpha");
  p.process_batch();
  ASSERT_TRUE(fx.model->wait_entered(1));  // the model is busy with "alpha"
  auto late = p.add_query("bravo", {.deadline = std::chrono::steady_clock::now() + 5ms});
  std::stop_source gave_up;
  auto gone = p.add_query("charlie", {.stop = gave_up.get_token()});
  std::this_thread::sleep_for(20ms);
  gave_up.request_stop();
  p.process_batch();
  fx.model->open_gate();
  expect_error<TimeoutError>(late, "passed its deadline");
  expect_error<CancelledError>(gone, "cancelled");
  ASSERT_TRUE(ready(first));
  EXPECT_EQ(fx.model->n_calls(), 1u) << "dropped queries still reached the model";
  EXPECT_EQ(p.get_stats().cancelled, 2u);
}

TEST(BatchProcessor, CloseFinishesEveryPendingQuery) {
  Fixture fx;
  std::vector<std::future<Hits>> fs;
  {
    BatchProcessor p(fx.model, fx.store, "docs", opts(100, kLong));
    for (size_t i = 0; i < 5; ++i) fs.push_back(p.add_query(kTopics[i]));
    p.close();
    for (auto& f : fs) ASSERT_TRUE(ready(f, 0ms)) << "close() returned with a query unanswered";
    EXPECT_THROW(p.add_query("late"), UnavailableError);
    p.close();  // idempotent
  }
  EXPECT_EQ(ids(fs[3].get()), ids(fx.direct(kTopics[3])));
}

TEST(BatchProcessor, DestructorFinishesPendingQueries) {
  Fixture fx;
  std::vector<std::future<Hits>> fs;
  {
    BatchProcessor p(fx.model, fx.store, "docs", opts(100, kLong));
    for (size_t i = 0; i < 3; ++i) fs.push_back(p.add_query(kTopics[i + 5]));
  }
  for (auto& f : fs) ASSERT_TRUE(ready(f, 0ms));
  EXPECT_EQ(ids(fs[1].get()), ids(fx.direct(kTopics[6])));
}

TEST(BatchProcessor, CloseFailPendingFailsQueuedQueriesAndFinishesRunningOnes) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(1, kLong));
  fx.model->close_gate();
  auto running = p.add_query("alpha");
  ASSERT_TRUE(fx.model->wait_entered(1));
  auto queued1 = p.add_query("bravo");
  auto queued2 = p.add_query("charlie");
  std::thread closer([&] { p.close(BatchProcessor::CloseMode::kFailPending); });
  expect_error<UnavailableError>(queued1, "closed while it was queued");
  expect_error<UnavailableError>(queued2, "closed while it was queued");
  fx.model->open_gate();
  closer.join();
  ASSERT_TRUE(ready(running, 0ms));
  EXPECT_EQ(ids(running.get()), ids(fx.direct("alpha")));
  EXPECT_THROW(p.add_query("late"), UnavailableError);
}

TEST(BatchProcessor, ExactCacheHitsNeverEnterABatch) {
  Fixture fx;
  PerformanceMonitor monitor;
  SemanticCache cache({}, &monitor);
  auto o = opts(100, kLong);
  o.cache = &cache;
  o.monitor = &monitor;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  auto first = p.add_query("Juliet kilo question");
  p.process_batch();
  ASSERT_TRUE(ready(first));
  const auto expected = ids(first.get());
  EXPECT_EQ(expected, ids(fx.direct("juliet kilo question")));
  ASSERT_EQ(fx.model->n_calls(), 1u);

  // Same text up to case and spacing: answered inside add_query, already ready.
  auto again = p.add_query("  juliet   KILO question ");
  ASSERT_TRUE(ready(again, 0ms)) << "an exact cache hit waited for a batch";
  EXPECT_EQ(ids(again.get()), expected);
  EXPECT_EQ(fx.model->n_calls(), 1u) << "an exact cache hit was embedded";
  const auto s = p.get_stats();
  EXPECT_EQ(s.cache_exact_hits, 1u);
  EXPECT_EQ(s.batched_queries, 1u);
  EXPECT_EQ(monitor.counter("batch_cache_hits"), 1u);
}

TEST(BatchProcessor, SemanticCacheHitsSkipTheSearch) {
  Fixture fx;
  PerformanceMonitor monitor;
  SemanticCache cache({.similarity_threshold = 0.99}, &monitor);
  auto o = opts(100, kLong);
  o.cache = &cache;
  o.monitor = &monitor;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  auto first = p.add_query("lima mike question");
  p.process_batch();
  ASSERT_TRUE(ready(first));
  const auto expected = ids(first.get());
  ASSERT_EQ(monitor.get_stats("query")->count, 1u);
  // Same words in another order: another text, the same vector (similarity 1).
  auto reordered = p.add_query("question mike lima");
  p.process_batch();
  ASSERT_TRUE(ready(reordered));
  EXPECT_EQ(ids(reordered.get()), expected);
  EXPECT_EQ(fx.model->n_calls(), 2u) << "a semantic lookup needs the embedding";
  EXPECT_EQ(monitor.get_stats("query")->count, 1u) << "a semantic cache hit was searched";
  EXPECT_EQ(p.get_stats().cache_semantic_hits, 1u);
  // A different top_k is another scope: not served from these entries.
  auto o5 = o;
  o5.search.top_k = 5;
  BatchProcessor p5(fx.model, fx.store, "docs", o5);
  auto other = p5.add_query("lima mike question");
  p5.process_batch();
  ASSERT_TRUE(ready(other));
  EXPECT_EQ(other.get().size(), 5u);
  EXPECT_EQ(monitor.get_stats("query")->count, 2u);
}

// An ingest that commits (and invalidates the cache) while a batch searches: the hits read
// before it are answered but not cached, so the next identical query searches again.
class IngestDuringSearchStore : public testing::ForwardingStore {
 public:
  IngestDuringSearchStore(VectorStore& real, SemanticCache& cache)
      : ForwardingStore(real), cache_(cache) {}
  std::vector<Hit> search(const std::string& c, std::span<const float> q,
                          const SearchOptions& o) override {
    auto hits = real_.search(c, q, o);
    if (invalidate_during_search) cache_.invalidate_table(c);
    return hits;
  }
  std::atomic<bool> invalidate_during_search{true};

 private:
  SemanticCache& cache_;
};

TEST(BatchProcessor, HitsReadBeforeAnIngestInvalidationAreNotCached) {
  Fixture fx;
  PerformanceMonitor monitor;
  SemanticCache cache({}, &monitor);
  auto store = std::make_shared<IngestDuringSearchStore>(*fx.store, cache);
  auto o = opts(100, kLong);
  o.cache = &cache;
  o.monitor = &monitor;
  o.search_mode = BatchSearchMode::kSpread;  // search() per query, which the test store wraps
  BatchProcessor p(fx.model, store, "docs", o);
  auto first = p.add_query("hotel india question");
  p.process_batch();
  ASSERT_TRUE(ready(first));
  const auto expected = ids(first.get());
  EXPECT_EQ(expected, ids(fx.direct("hotel india question")));
  EXPECT_EQ(cache.size(), 0u) << "hits read before the invalidation were cached";

  // Without an ingest during the search, the answer is cached and the repeat is a hit.
  store->invalidate_during_search = false;
  auto second = p.add_query("hotel india question");
  p.process_batch();
  ASSERT_TRUE(ready(second));
  EXPECT_EQ(ids(second.get()), expected);
  EXPECT_EQ(monitor.get_stats("query")->count, 2u) << "the first answer was served from cache";
  EXPECT_EQ(cache.size(), 1u);
  auto third = p.add_query("hotel india question");
  ASSERT_TRUE(ready(third, 0ms)) << "the cached answer was not used";
  EXPECT_EQ(ids(third.get()), expected);
}

TEST(BatchProcessor, RecordsItsStagesInTheMonitor) {
  Fixture fx;
  PerformanceMonitor monitor;
  auto o = opts(3, kLong);
  o.monitor = &monitor;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  std::vector<std::future<Hits>> fs;
  for (size_t i = 0; i < 3; ++i) fs.push_back(p.add_query(kTopics[i]));
  for (auto& f : fs) ASSERT_TRUE(ready(f));
  p.close();  // every stage recorded
  EXPECT_EQ(monitor.get_stats("queue")->count, 3u);
  EXPECT_EQ(monitor.get_stats("embed")->count, 1u);
  EXPECT_EQ(monitor.get_stats("query")->count, 3u);
  EXPECT_EQ(monitor.get_stats("total")->count, 3u);
  EXPECT_EQ(monitor.counter("batch_batches"), 1u);
  EXPECT_EQ(monitor.counter("batch_queries"), 3u);
}

TEST(BatchProcessor, AwaitableAndCallbackForms) {
  Fixture fx;
  BatchProcessor p(fx.model, fx.store, "docs", opts(2, kLong));
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<Hits> { co_return co_await p.async_query("hotel"); },
      boost::asio::use_future);
  std::promise<Hits> via_callback;
  p.submit("india", {}, [&](std::exception_ptr error, Hits hits) {
    if (error) {
      via_callback.set_exception(error);
    } else {
      via_callback.set_value(std::move(hits));
    }
  });
  io.run();
  ASSERT_TRUE(ready(fut, 0ms));
  EXPECT_EQ(ids(fut.get()), ids(fx.direct("hotel")));
  auto cb = via_callback.get_future();
  ASSERT_TRUE(ready(cb));
  EXPECT_EQ(ids(cb.get()), ids(fx.direct("india")));

  // Errors reach the awaiting coroutine as exceptions.
  boost::asio::io_context io2;
  auto bad = boost::asio::co_spawn(
      io2,
      [&]() -> boost::asio::awaitable<Hits> {
        co_return co_await p.async_query(std::string("\xFF bad"));
      },
      boost::asio::use_future);
  io2.run();
  expect_error<InputError>(bad, "not valid UTF-8");
}

TEST(BatchProcessor, WorksOverAsyncEmbedding) {
  Fixture fx;
  auto shared = std::make_shared<HashedWordsModel>(fx.model->dim());
  auto embedder = std::make_shared<AsyncEmbedding>(shared, "cpu", 16);
  BatchProcessor p(embedder, fx.store, "docs", 4, std::chrono::milliseconds(5));
  std::vector<std::future<Hits>> fs;
  for (size_t i = 0; i < 6; ++i) fs.push_back(p.add_query(kTopics[i + 10]));
  for (size_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(ready(fs[i]));
    EXPECT_EQ(ids(fs[i].get()), ids(fx.direct(kTopics[i + 10])));
  }
}

TEST(BatchProcessor, RejectsBadConfigurationAndTables) {
  Fixture fx;
  EXPECT_THROW(BatchProcessor(fx.model, fx.store, "docs", opts(0, 1s)), ConfigError);
  EXPECT_THROW(BatchProcessor(fx.model, fx.store, "docs", opts(4, -1s)), ConfigError);
  auto no_queue = opts(4, 1s);
  no_queue.max_queue = 0;
  EXPECT_THROW(BatchProcessor(fx.model, fx.store, "docs", no_queue), ConfigError);
  auto no_hits = opts(4, 1s);
  no_hits.search.top_k = 0;
  EXPECT_THROW(BatchProcessor(fx.model, fx.store, "docs", no_hits), ConfigError);
  EXPECT_THROW(BatchProcessor(fx.model, fx.store, "docs; DROP TABLE x", opts(4, 1s)), InputError);
  try {
    BatchProcessor(fx.model, fx.store, "missing", opts(4, 1s));
    FAIL() << "a missing table was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("table missing does not exist"), std::string::npos)
        << e.what();
  }
  auto wider = std::make_shared<HashedWordsModel>(32);
  try {
    BatchProcessor(wider, fx.store, "docs", opts(4, 1s));
    FAIL() << "a model of another dimension was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ingested with model hashed-words-64 (dim 64)"),
              std::string::npos)
        << e.what();
  }
}

TEST(BatchProcessor, NullCollaboratorsAreConfigErrors) {
  Fixture fx;
  const auto expect_config_error = [](auto make, const std::string& argument) {
    try {
      make();
      FAIL() << "a null " << argument << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("`" + argument + "` is null"), std::string::npos)
          << e.what();
    }
  };
  const std::shared_ptr<EmbeddingModel> no_model;
  const std::shared_ptr<AsyncEmbedding> no_embedder;
  const std::shared_ptr<VectorStore> no_store;
  expect_config_error([&] { BatchProcessor p(no_model, fx.store, "docs", opts(4, 1s)); },
                      "embed_model");
  expect_config_error([&] { BatchProcessor p(no_embedder, fx.store, "docs", 4, 1s); },
                      "embed_model");
  expect_config_error([&] { BatchProcessor p(fx.model, no_store, "docs", opts(4, 1s)); }, "store");
  auto embedder = std::make_shared<AsyncEmbedding>(fx.model, "cpu", 16);
  expect_config_error([&] { BatchProcessor p(embedder, no_store, "docs", 4, 1s); }, "store");
}

// Counts the searches running at once, and checks each one starts only after every query
// searched before it was answered (answered() is called from the callbacks).
class InFlightStore : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::vector<Hit> search(const std::string& c, std::span<const float> q,
                          const SearchOptions& o) override {
    const int now = ++running_;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    if (answered_.load() != started_++) started_before_answer = true;
    std::this_thread::sleep_for(20ms);  // long enough for concurrent searches to overlap
    auto hits = real_.search(c, q, o);
    --running_;
    return hits;
  }
  void answered() { ++answered_; }
  std::atomic<int> max_running{0};
  std::atomic<bool> started_before_answer{false};

 private:
  std::atomic<int> running_{0};
  std::atomic<int> started_{0};
  std::atomic<int> answered_{0};
};

// Submits 8 queries at once, waits for every answer, returns the processor's stats.
BatchStats run_eight(BatchProcessor& p, InFlightStore& store) {
  std::vector<std::promise<void>> done(8);
  for (size_t i = 0; i < done.size(); ++i) {
    p.submit(std::string(kTopics[i]) + " question", {},
             [&store, &d = done[i]](std::exception_ptr, Hits) {
               store.answered();
               d.set_value();
             });
  }
  p.process_batch();
  for (auto& d : done) EXPECT_EQ(d.get_future().wait_for(kBound), std::future_status::ready);
  return p.get_stats();
}

TEST(BatchProcessor, EnableAsyncOffRunsEachQueryToCompletionBeforeTheNext) {
  for (BatchSearchMode mode : {BatchSearchMode::kSpread, BatchSearchMode::kPipelined}) {
    Fixture fx;
    auto store = std::make_shared<InFlightStore>(*fx.store);
    Settings s = load_settings({{"ENABLE_ASYNC", "0"}, {"BATCH_SIZE", "8"}}, {});
    BatchProcessorOptions o = BatchProcessorOptions::from_settings(s);
    EXPECT_TRUE(o.sequential);
    o.search_mode = mode;
    o.search_threads = 4;
    BatchProcessor p(fx.model, store, "docs", o);
    const BatchStats stats = run_eight(p, *store);
    EXPECT_EQ(store->max_running.load(), 1);  // one query in flight at any time
    EXPECT_FALSE(store->started_before_answer.load()) << "a search started before the previous "
                                                         "query was answered";
    EXPECT_EQ(stats.largest_batch, 1u);  // each query embedded alone
    EXPECT_EQ(stats.batches, 8u);
  }
}

TEST(BatchProcessor, EnableAsyncOnRunsABatchsSearchesConcurrently) {
  Fixture fx;
  auto store = std::make_shared<InFlightStore>(*fx.store);
  Settings s = load_settings({{"ENABLE_ASYNC", "1"}, {"BATCH_SIZE", "8"}}, {});
  BatchProcessorOptions o = BatchProcessorOptions::from_settings(s);
  EXPECT_FALSE(o.sequential);
  o.search_mode = BatchSearchMode::kSpread;
  o.search_threads = 4;
  BatchProcessor p(fx.model, store, "docs", o);
  run_eight(p, *store);
  EXPECT_GT(store->max_running.load(), 1);  // the control: the store does see overlap
}

TEST(BatchProcessor, OptionsFromSettings) {
  Settings s;
  s.batch_size = 64;
  s.batch_timeout_s = 0.25;
  const auto o = BatchProcessorOptions::from_settings(s);
  EXPECT_EQ(o.batch_size, 64u);
  EXPECT_DOUBLE_EQ(o.timeout.count(), 0.25);
  EXPECT_FALSE(o.sequential);  // ENABLE_ASYNC=1, the default
  s.batch_size = 0;
  EXPECT_THROW(BatchProcessorOptions::from_settings(s), ConfigError);
}

}  // namespace
}  // namespace ragperf
