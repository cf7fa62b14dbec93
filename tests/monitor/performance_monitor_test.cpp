// PerformanceMonitor: percentiles against exact sorted percentiles, stats, spans, counters,
// reset, bad input and concurrent recording.
#include "ragperf/monitor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "ragperf/error.h"

namespace ragperf {
namespace {

// Nearest-rank percentile of the samples (the definition the monitor documents).
double exact_percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(p / 100.0 * v.size())));
  return v[rank - 1];
}

void expect_percentiles_within_1pct(const std::vector<double>& samples, const char* what) {
  PerformanceMonitor m;
  for (double s : samples) m.record("stage", s);
  auto st = m.get_stats("stage");
  ASSERT_TRUE(st.has_value()) << what;
  EXPECT_EQ(st->count, samples.size()) << what;
  const std::pair<double, double> checks[] = {{50, st->p50_s}, {95, st->p95_s}, {99, st->p99_s}};
  for (auto [p, got] : checks) {
    const double want = exact_percentile(samples, p);
    EXPECT_NEAR(got, want, want * 0.01) << what << " p" << p;
  }
  EXPECT_NEAR(st->min_s, *std::min_element(samples.begin(), samples.end()), 1e-9) << what;
  EXPECT_NEAR(st->max_s, *std::max_element(samples.begin(), samples.end()), 1e-9) << what;
  double sum = 0;
  for (double s : samples) sum += s;
  EXPECT_NEAR(st->sum_s, sum, sum * 1e-6) << what;
  EXPECT_NEAR(st->mean_s, sum / samples.size(), sum / samples.size() * 1e-6) << what;
}

TEST(PerformanceMonitor, PercentilesMatchExactForUniformSamples) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> d(1e-6, 0.5);
  std::vector<double> v(20000);
  for (auto& x : v) x = d(rng);
  expect_percentiles_within_1pct(v, "uniform 1us..0.5s");
}

TEST(PerformanceMonitor, PercentilesMatchExactForLogNormalSamples) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> d(std::log(2e-3), 1.5);  // ms-scale with a long tail
  std::vector<double> v(50000);
  for (auto& x : v) x = std::clamp(d(rng), 1e-6, 100.0);
  expect_percentiles_within_1pct(v, "lognormal around 2 ms");
}

TEST(PerformanceMonitor, PercentilesMatchExactForBimodalAndTinySamples) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(50e-6, 5e-6);  // cache hits
  std::normal_distribution<double> slow(0.2, 0.03);    // full queries
  std::vector<double> v;
  for (int i = 0; i < 9000; ++i) v.push_back(std::max(1e-6, fast(rng)));
  for (int i = 0; i < 1000; ++i) v.push_back(std::max(1e-6, slow(rng)));
  expect_percentiles_within_1pct(v, "bimodal 50us / 200ms");

  std::vector<double> tiny = {1e-6, 1.5e-6, 2e-6, 3e-6, 7e-6, 1e-5};
  expect_percentiles_within_1pct(tiny, "microseconds");
  std::vector<double> huge = {1.0, 5.0, 30.0, 99.0};
  expect_percentiles_within_1pct(huge, "seconds");
}

TEST(PerformanceMonitor, SingleSampleIsExactEverywhere) {
  PerformanceMonitor m;
  m.record("q", 0.0123);
  auto st = m.get_stats("q");
  ASSERT_TRUE(st);
  EXPECT_DOUBLE_EQ(st->p50_s, 0.0123);
  EXPECT_DOUBLE_EQ(st->p99_s, 0.0123);
  EXPECT_DOUBLE_EQ(st->min_s, 0.0123);
  EXPECT_GT(st->throughput_per_s, 0);
}

TEST(PerformanceMonitor, TrackRecordsTheScopeAndStopRecordsOnce) {
  PerformanceMonitor m;
  {
    auto span = m.track("embed");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto span = m.track("embed");
  const double s = span.stop();
  EXPECT_GE(s, 0);
  span.stop();  // second stop records nothing
  auto moved = m.track("query");
  auto other = std::move(moved);
  (void)other.stop();
  auto st = m.get_stats("embed");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->count, 2u);
  EXPECT_GE(st->max_s, 0.002);
  EXPECT_EQ(m.get_stats("query")->count, 1u);
}

TEST(PerformanceMonitor, GetStatsListsStagesInCreationOrder) {
  PerformanceMonitor m;
  EXPECT_FALSE(m.get_stats("never").has_value());
  EXPECT_TRUE(m.get_stats().empty());
  m.record("tokenize", 1e-5);
  m.record("embed", 1e-3);
  m.record("tokenize", 2e-5);
  auto all = m.get_stats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "tokenize");
  EXPECT_EQ(all[0].count, 2u);
  EXPECT_EQ(all[1].name, "embed");
}

TEST(PerformanceMonitor, CountersIncrementAndReset) {
  PerformanceMonitor m;
  EXPECT_EQ(m.counter("hits"), 0u);
  m.increment("hits");
  m.increment("hits", 4);
  EXPECT_EQ(m.counter("hits"), 5u);
  m.reset("hits");
  EXPECT_EQ(m.counter("hits"), 0u);
}

TEST(PerformanceMonitor, ResetOneStageOrAll) {
  PerformanceMonitor m;
  m.record("a", 1e-3);
  m.record("b", 2e-3);
  m.increment("c");
  m.reset("a");
  EXPECT_FALSE(m.get_stats("a").has_value());
  EXPECT_TRUE(m.get_stats("b").has_value());
  m.record("a", 5e-3);
  EXPECT_EQ(m.get_stats("a")->count, 1u);
  EXPECT_DOUBLE_EQ(m.get_stats("a")->min_s, 5e-3);
  m.reset();
  EXPECT_TRUE(m.get_stats().empty());
  EXPECT_EQ(m.counter("c"), 0u);
  m.reset("does-not-exist");  // no-op
}

TEST(PerformanceMonitor, ValuesBeyondTheRangeAreClampedInPercentilesButSummed) {
  PerformanceMonitor m;
  m.record("slow", 250.0);
  m.record("fast", 0.0);
  auto slow = m.get_stats("slow");
  EXPECT_DOUBLE_EQ(slow->sum_s, 250.0);
  EXPECT_DOUBLE_EQ(slow->p99_s, 100.0);
  EXPECT_DOUBLE_EQ(m.get_stats("fast")->p50_s, 0.0);
}

TEST(PerformanceMonitor, BadInputThrowsInputErrorNamingTheValue) {
  PerformanceMonitor m;
  try {
    m.record("embed", -1.0);
    FAIL() << "negative duration accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("embed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(">= 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.record("embed", std::nan("")), InputError);
  EXPECT_THROW(m.record("embed", INFINITY), InputError);
  EXPECT_THROW(m.record("", 1.0), InputError);
  EXPECT_THROW((void)m.track(""), InputError);
  EXPECT_THROW(m.increment(""), InputError);
  EXPECT_FALSE(m.get_stats("embed").has_value());
}

TEST(PerformanceMonitor, ConcurrentRecordsAreAllCounted) {
  PerformanceMonitor m;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      // Every thread creates stages too, racing with the others' lookups.
      for (int i = 0; i < kPerThread; ++i) {
        m.record(i % 2 ? "query" : "stage" + std::to_string(i % 16), 1e-4 * (1 + t));
        m.increment("n");
      }
    });
  }
  std::thread reader([&m] {
    for (int i = 0; i < 50; ++i) (void)m.export_metrics(MetricsFormat::kPrometheus);
  });
  for (auto& th : threads) th.join();
  reader.join();
  uint64_t total = 0;
  for (const auto& s : m.get_stats()) total += s.count;
  EXPECT_EQ(total, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.counter("n"), uint64_t{kThreads} * kPerThread);
  auto q = m.get_stats("query");
  EXPECT_NEAR(q->min_s, 1e-4, 1e-9);
  EXPECT_NEAR(q->max_s, 8e-4, 1e-9);
  EXPECT_NEAR(q->sum_s, 1e-4 * (kPerThread / 2) * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8), 1e-6);
}

}  // namespace
}  // namespace ragperf
