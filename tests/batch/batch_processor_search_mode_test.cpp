// BatchProcessor's search modes against a real LocalStore: kPipelined (search_batch() per group of
// the batch) gives every caller the same hits as kSpread (one search() per query) and as a direct
// search; a store error in one query reaches only that query's future in both modes; queries
// abandoned while their batch was embedded are dropped before the search; kAuto follows the store.
#include "ragperf/batch_processor.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "batch/nan_words_model.h"
#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using namespace std::chrono_literals;
using Hits = std::vector<Hit>;

constexpr auto kLong = std::chrono::seconds(30);   // a timeout no test waits for
constexpr auto kBound = std::chrono::seconds(10);  // longest any test waits for an answer

const char* const kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "fox",  "golf",
                              "hotel", "india", "juliet",  "kilo",  "lima", "mike", "nova"};

/// A LocalStore in a temporary folder with table "docs": 80 chunks of two words each, embedded
/// by NanWordsModel (which embeds like HashedWordsModel unless a text says NANVEC).
struct Fixture {
  std::shared_ptr<testing::NanWordsModel> model = std::make_shared<testing::NanWordsModel>();
  testing::TempDir dir;
  std::shared_ptr<LocalStore> store = std::make_shared<LocalStore>(dir.path());

  Fixture() {
    store->ensure_collection("docs", model->dim(), Metric::kCosine, model->id());
    std::vector<std::string> texts;
    for (size_t i = 0; i < 80; ++i) {
      texts.push_back(std::string(kWords[i % 14]) + " " + kWords[(i * 5 + 2) % 14] + " doc " +
                      std::to_string(i));
    }
    testing::HashedWordsModel loader(model->dim());
    const auto m = loader.embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = "d" + std::to_string(i);
      c.text = texts[i];
      c.content_hash = c.id;
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store->add("docs", chunks);
  }

  /// What a direct embed + search gives for `text`.
  Hits direct(const std::string& text, const SearchOptions& o) {
    testing::HashedWordsModel m(model->dim());
    const auto v = m.embed(std::vector<std::string>{text});
    return store->search("docs", v.row(0), o);
  }
};

BatchProcessorOptions opts(BatchSearchMode mode, size_t search_threads = 0) {
  BatchProcessorOptions o;
  o.batch_size = 100;
  o.timeout = kLong;
  o.search = {.top_k = 4};
  o.search_mode = mode;
  o.search_threads = search_threads;
  return o;
}

std::vector<std::string> queries(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::string(kWords[(i * 3) % 14]) + " " + kWords[(i + 7) % 14] + " question " +
                  std::to_string(i));
  }
  return out;
}

/// Every query of `texts` through `p` in one batch; the answers in order.
std::vector<std::future<Hits>> ask(BatchProcessor& p, const std::vector<std::string>& texts) {
  std::vector<std::future<Hits>> fs;
  for (const auto& t : texts) fs.push_back(p.add_query(t));
  p.process_batch();
  return fs;
}

void expect_same_hits(const Hits& got, const Hits& want, const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(got[k].id, want[k].id) << where << " rank " << k;
    EXPECT_EQ(got[k].score, want[k].score) << where << " rank " << k;
    EXPECT_EQ(got[k].text, want[k].text) << where << " rank " << k;
    EXPECT_EQ(got[k].source_table, "docs") << where;
  }
}

template <typename Error>
void expect_error(std::future<Hits>& f, const std::string& fragment) {
  ASSERT_EQ(f.wait_for(kBound), std::future_status::ready);
  try {
    f.get();
    FAIL() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(BatchProcessorSearchMode, PipelinedGivesTheSameAnswersAsSpread) {
  Fixture fx;
  const auto texts = queries(23);
  for (const SearchOptions& so :
       {SearchOptions{.top_k = 4}, SearchOptions{.top_k = 6, .exact = true},
        SearchOptions{.top_k = 3, .ef_search = 50}}) {
    auto spread_opts = opts(BatchSearchMode::kSpread);
    spread_opts.search = so;
    BatchProcessor spread(fx.model, fx.store, "docs", spread_opts);
    EXPECT_EQ(spread.search_mode(), BatchSearchMode::kSpread);
    auto spread_answers = ask(spread, texts);
    for (size_t threads : {1u, 2u, 5u, 40u}) {  // one group, several, more threads than queries
      auto o = opts(BatchSearchMode::kPipelined, threads);
      o.search = so;
      BatchProcessor pipelined(fx.model, fx.store, "docs", o);
      EXPECT_EQ(pipelined.search_mode(), BatchSearchMode::kPipelined);
      auto answers = ask(pipelined, texts);
      for (size_t i = 0; i < texts.size(); ++i) {
        ASSERT_EQ(answers[i].wait_for(kBound), std::future_status::ready);
        const std::string where = texts[i] + " threads=" + std::to_string(threads);
        expect_same_hits(answers[i].get(), fx.direct(texts[i], so), where);
      }
      const auto s = pipelined.get_stats();
      EXPECT_EQ(s.completed, texts.size());
      EXPECT_EQ(s.batches, 1u);
    }
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_EQ(spread_answers[i].wait_for(kBound), std::future_status::ready);
      expect_same_hits(spread_answers[i].get(), fx.direct(texts[i], so), texts[i] + " spread");
    }
  }
}

TEST(BatchProcessorSearchMode, AStoreErrorInOneQueryReachesOnlyItsFuture) {
  for (BatchSearchMode mode : {BatchSearchMode::kSpread, BatchSearchMode::kPipelined}) {
    for (size_t threads : {1u, 3u}) {
      Fixture fx;
      BatchProcessor p(fx.model, fx.store, "docs", opts(mode, threads));
      auto texts = queries(7);
      texts[3] = "NANVEC golf question";
      auto fs = ask(p, texts);
      expect_error<InputError>(fs[3], "query vector has a non-finite value at position 0");
      for (size_t i : {0u, 1u, 2u, 4u, 5u, 6u}) {
        ASSERT_EQ(fs[i].wait_for(kBound), std::future_status::ready);
        expect_same_hits(fs[i].get(), fx.direct(texts[i], {.top_k = 4}), texts[i]);
      }
      const auto s = p.get_stats();
      EXPECT_EQ(s.failed, 1u);
      EXPECT_EQ(s.completed, 6u);
      EXPECT_EQ(fx.model->n_calls(), 1u) << "one forward pass, no per-text fallback";
    }
  }
}

TEST(BatchProcessorSearchMode, AQueryAbandonedDuringEmbeddingIsNotSearched) {
  for (BatchSearchMode mode : {BatchSearchMode::kSpread, BatchSearchMode::kPipelined}) {
    Fixture fx;
    PerformanceMonitor monitor;
    auto o = opts(mode, 1);
    o.monitor = &monitor;
    BatchProcessor p(fx.model, fx.store, "docs", o);
    fx.model->close_gate();
    std::stop_source gave_up;
    auto dropped = p.add_query("alpha question", {.stop = gave_up.get_token()});
    auto late = p.add_query("bravo question", {.deadline = std::chrono::steady_clock::now() + 5ms});
    auto kept = p.add_query("charlie question");
    p.process_batch();
    ASSERT_TRUE(fx.model->wait_entered(1));  // the batch is being embedded
    gave_up.request_stop();
    std::this_thread::sleep_for(20ms);
    fx.model->open_gate();
    expect_error<CancelledError>(dropped, "cancelled by its caller");
    expect_error<TimeoutError>(late, "passed its deadline");
    ASSERT_EQ(kept.wait_for(kBound), std::future_status::ready);
    expect_same_hits(kept.get(), fx.direct("charlie question", {.top_k = 4}), "kept");
    p.close();
    EXPECT_EQ(p.get_stats().cancelled, 2u);
    EXPECT_EQ(monitor.get_stats("query")->count, 1u) << "an abandoned query was searched";
  }
}

TEST(BatchProcessorSearchMode, PipelinedRecordsStagesAndFillsTheCache) {
  Fixture fx;
  PerformanceMonitor monitor;
  SemanticCache cache({.exact_only = true}, &monitor);
  auto o = opts(BatchSearchMode::kPipelined, 2);
  o.monitor = &monitor;
  o.cache = &cache;
  BatchProcessor p(fx.model, fx.store, "docs", o);
  const auto texts = queries(5);
  auto fs = ask(p, texts);
  std::vector<Hits> first;
  for (auto& f : fs) {
    ASSERT_EQ(f.wait_for(kBound), std::future_status::ready);
    first.push_back(f.get());
  }
  // Answered by the exact tier: the pipelined searches stored their hits.
  auto again = p.add_query(texts[2]);
  ASSERT_EQ(again.wait_for(0ms), std::future_status::ready) << "not answered from the cache";
  expect_same_hits(again.get(), first[2], "cached");
  p.close();
  EXPECT_EQ(monitor.get_stats("embed")->count, 1u);
  EXPECT_EQ(monitor.get_stats("query")->count, 5u);
  EXPECT_EQ(monitor.get_stats("total")->count, 5u);
  EXPECT_EQ(p.get_stats().cache_exact_hits, 1u);
}

TEST(BatchProcessorSearchMode, AutoFollowsTheStore) {
  Fixture fx;
  EXPECT_FALSE(fx.store->prefers_search_batch());
  BatchProcessor p(fx.model, fx.store, "docs", opts(BatchSearchMode::kAuto));
  EXPECT_EQ(p.search_mode(), BatchSearchMode::kSpread);
  EXPECT_EQ(p.options().search_mode, BatchSearchMode::kAuto);
  BatchProcessor defaulted(fx.model, fx.store, "docs", BatchProcessorOptions{});
  EXPECT_EQ(defaulted.search_mode(), BatchSearchMode::kSpread);
}

}  // namespace
}  // namespace ragperf
