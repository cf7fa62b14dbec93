#include <chrono>
#include <cmath>
#include <string>

#include "monitor/histogram.h"
#include "monitor/metrics_export.h"
#include "monitor/read_mostly_map.h"
#include "ragperf/error.h"
#include "ragperf/monitor.h"

namespace ragperf {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Stage {
  monitor::LatencyHistogram histogram;
  std::atomic<int64_t> first_ns{0};  // steady clock of the first record since reset; 0: none
};

struct Counter {
  std::atomic<uint64_t> value{0};
};

void check_name(std::string_view what, std::string_view name) {
  if (name.empty())
    throw InputError(std::string(what) + " name is empty; give the stage or counter a name");
}

StageStats stats_of(const std::string& name, const Stage& stage,
                    const monitor::HistogramSnapshot& h) {
  StageStats s;
  s.name = name;
  s.count = h.count;
  s.sum_s = static_cast<double>(h.sum_ns) / 1e9;
  s.mean_s = h.count ? s.sum_s / static_cast<double>(h.count) : 0;
  s.p50_s = h.percentile(50) / 1e9;
  s.p95_s = h.percentile(95) / 1e9;
  s.p99_s = h.percentile(99) / 1e9;
  s.min_s = static_cast<double>(h.min_ns) / 1e9;
  s.max_s = static_cast<double>(h.max_ns) / 1e9;
  const int64_t first = stage.first_ns.load(std::memory_order_relaxed);
  const double elapsed = first ? static_cast<double>(now_ns() - first) / 1e9 : 0;
  s.throughput_per_s = elapsed > 0 ? static_cast<double>(h.count) / elapsed : 0;
  return s;
}

}  // namespace

struct PerformanceMonitor::Impl {
  monitor::ReadMostlyMap<Stage> stages;
  monitor::ReadMostlyMap<Counter> counters;

  std::vector<monitor::StageExport> snapshot_stages() const {
    std::vector<monitor::StageExport> out;
    stages.for_each([&](const std::string& name, const Stage& stage) {
      monitor::HistogramSnapshot h = stage.histogram.snapshot();
      if (h.count == 0) return;
      StageStats s = stats_of(name, stage, h);
      out.push_back({std::move(s), std::move(h)});
    });
    return out;
  }

  std::vector<monitor::CounterExport> snapshot_counters() const {
    std::vector<monitor::CounterExport> out;
    counters.for_each([&](const std::string& name, const Counter& c) {
      out.push_back({name, c.value.load(std::memory_order_relaxed)});
    });
    return out;
  }
};

PerformanceMonitor::PerformanceMonitor() : impl_(std::make_unique<Impl>()) {}
PerformanceMonitor::~PerformanceMonitor() = default;

PerformanceMonitor::Span::Span(PerformanceMonitor* monitor, std::string_view name)
    : monitor_(monitor), name_(name), start_(std::chrono::steady_clock::now()) {}

PerformanceMonitor::Span::~Span() {
  if (monitor_) stop();
}

PerformanceMonitor::Span::Span(Span&& other) noexcept
    : monitor_(other.monitor_), name_(std::move(other.name_)), start_(other.start_) {
  other.monitor_ = nullptr;
}

double PerformanceMonitor::Span::stop() {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (monitor_) {
    PerformanceMonitor* m = monitor_;
    monitor_ = nullptr;
    m->record(name_, s);
  }
  return s;
}

PerformanceMonitor::Span PerformanceMonitor::track(std::string_view name) {
  check_name("stage", name);
  return Span(this, name);
}

void PerformanceMonitor::record(std::string_view name, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    throw InputError("record('" + std::string(name) + "', " + std::to_string(seconds) +
                     "): a duration must be a finite number of seconds >= 0");
  Stage* stage = impl_->stages.find(name);
  if (!stage) {
    check_name("stage", name);
    stage = &impl_->stages.get_or_create(name);
  }
  const double ns = seconds * 1e9;
  const auto v = ns >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(std::llround(ns));
  if (stage->first_ns.load(std::memory_order_relaxed) == 0) {
    int64_t expected = 0;
    stage->first_ns.compare_exchange_strong(expected, now_ns(), std::memory_order_relaxed);
  }
  stage->histogram.record(v);
}

void PerformanceMonitor::increment(std::string_view counter, uint64_t n) {
  Counter* c = impl_->counters.find(counter);
  if (!c) {
    check_name("counter", counter);
    c = &impl_->counters.get_or_create(counter);
  }
  c->value.fetch_add(n, std::memory_order_relaxed);
}

uint64_t PerformanceMonitor::counter(std::string_view counter) const {
  const Counter* c = impl_->counters.find(counter);
  return c ? c->value.load(std::memory_order_relaxed) : 0;
}

std::optional<StageStats> PerformanceMonitor::get_stats(std::string_view name) const {
  const Stage* stage = impl_->stages.find(name);
  if (!stage) return std::nullopt;
  monitor::HistogramSnapshot h = stage->histogram.snapshot();
  if (h.count == 0) return std::nullopt;
  return stats_of(std::string(name), *stage, h);
}

std::vector<StageStats> PerformanceMonitor::get_stats() const {
  std::vector<StageStats> out;
  for (auto& s : impl_->snapshot_stages()) out.push_back(std::move(s.stats));
  return out;
}

std::string PerformanceMonitor::export_metrics(MetricsFormat format) const {
  auto stages = impl_->snapshot_stages();
  auto counters = impl_->snapshot_counters();
  return format == MetricsFormat::kPrometheus ? monitor::export_prometheus(stages, counters)
                                              : monitor::export_json(stages, counters);
}

void PerformanceMonitor::reset() {
  impl_->stages.for_each([](const std::string&, Stage& s) {
    s.histogram.reset();
    s.first_ns.store(0, std::memory_order_relaxed);
  });
  impl_->counters.for_each(
      [](const std::string&, Counter& c) { c.value.store(0, std::memory_order_relaxed); });
}

void PerformanceMonitor::reset(std::string_view name) {
  if (Stage* s = impl_->stages.find(name)) {
    s->histogram.reset();
    s->first_ns.store(0, std::memory_order_relaxed);
  }
  if (Counter* c = impl_->counters.find(name)) c->value.store(0, std::memory_order_relaxed);
}

}  // namespace ragperf
