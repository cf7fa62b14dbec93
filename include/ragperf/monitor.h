// ragperf/monitor.h defines PerformanceMonitor: per-stage latency histograms with p50/p95/p99,
// counters, and JSON / Prometheus export, as the guide's API has it.
//
//   ragperf::PerformanceMonitor monitor;
//   { auto span = monitor.track("embed"); model.embed(texts); }   // records on scope exit
//   monitor.record("query", 0.0031);
//   auto s = monitor.get_stats("embed");     // count, mean, p50, p95, p99, min, max, throughput
//   std::string prom = monitor.export_metrics(ragperf::MetricsFormat::kPrometheus);
//
// Percentiles come from a log-linear (HdrHistogram-style) histogram over 1 µs … 100 s, within 1 %
// of the exact percentile. Thread-safe; record() takes no global lock on the hot path.
// Stage names used across ragperf: tokenize, embed, acquire, query, merge, cache, total.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf {

struct StageStats {
  std::string name;
  uint64_t count = 0;
  double sum_s = 0;
  double mean_s = 0;
  double p50_s = 0;
  double p95_s = 0;
  double p99_s = 0;
  double min_s = 0;
  double max_s = 0;
  double throughput_per_s = 0;  // count / seconds since the first record (or reset)
};

enum class MetricsFormat { kJson, kPrometheus };

class PerformanceMonitor {
 public:
  PerformanceMonitor();
  ~PerformanceMonitor();
  PerformanceMonitor(const PerformanceMonitor&) = delete;
  PerformanceMonitor& operator=(const PerformanceMonitor&) = delete;

  /// Records the time from construction to destruction (or stop()) under `name`.
  class Span {
   public:
    Span(PerformanceMonitor* monitor, std::string_view name);
    ~Span();
    Span(Span&& other) noexcept;
    Span& operator=(Span&&) = delete;
    Span(const Span&) = delete;
    /// Records now instead of at destruction; returns the seconds recorded.
    double stop();

   private:
    PerformanceMonitor* monitor_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
  };

  /// RAII timing scope; works across co_await too (it only holds a start time).
  [[nodiscard]] Span track(std::string_view name);
  void record(std::string_view name, double seconds);
  /// Counters (exported as `ragperf_<name>_total`).
  void increment(std::string_view counter, uint64_t n = 1);
  uint64_t counter(std::string_view counter) const;

  std::optional<StageStats> get_stats(std::string_view name) const;
  std::vector<StageStats> get_stats() const;
  std::string export_metrics(MetricsFormat format = MetricsFormat::kJson) const;
  void reset();
  void reset(std::string_view name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragperf
