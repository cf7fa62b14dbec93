#include "monitor/histogram.h"

#include <algorithm>
#include <cmath>

namespace ragperf::monitor {

BucketRange bucket_range(size_t index) {
  int bucket = static_cast<int>(index >> kSubBucketHalfMagnitude) - 1;
  uint64_t sub = (index & (kSubBucketHalf - 1)) + kSubBucketHalf;
  if (bucket < 0) {
    bucket = 0;
    sub -= kSubBucketHalf;
  }
  return {sub << bucket, uint64_t{1} << bucket};
}

double HistogramSnapshot::percentile(double p) const {
  if (count == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count))));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) {
      const uint64_t mid = bucket_range(i).midpoint();
      return static_cast<double>(std::clamp(mid, min_ns, max_ns));
    }
  }
  return static_cast<double>(max_ns);
}

uint64_t HistogramSnapshot::count_at_or_below(double ns) const {
  uint64_t n = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(bucket_range(i).midpoint()) > ns) break;
    n += counts[i];
  }
  return n;
}

LatencyHistogram::LatencyHistogram() = default;

void LatencyHistogram::record(uint64_t ns) {
  const uint64_t v = std::min(ns, kMaxNs);
  counts_[bucket_index(v)].fetch_add(1, std::memory_order_relaxed);
  sums_[thread_stripe()].sum_ns.fetch_add(ns, std::memory_order_relaxed);
  uint64_t cur = min_ns_.load(std::memory_order_relaxed);
  while (v < cur && !min_ns_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
  cur = max_ns_.load(std::memory_order_relaxed);
  while (v > cur && !max_ns_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

HistogramSnapshot LatencyHistogram::snapshot() const {
  HistogramSnapshot s;
  s.counts.resize(kBucketCount);
  for (size_t i = 0; i < kBucketCount; ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  for (const auto& stripe : sums_) s.sum_ns += stripe.sum_ns.load(std::memory_order_relaxed);
  if (s.count > 0) {
    s.min_ns = min_ns_.load(std::memory_order_relaxed);
    s.max_ns = max_ns_.load(std::memory_order_relaxed);
    if (s.min_ns > s.max_ns) s.min_ns = s.max_ns;  // a record racing with the snapshot
  }
  return s;
}

void LatencyHistogram::reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  for (auto& stripe : sums_) stripe.sum_ns.store(0, std::memory_order_relaxed);
  min_ns_.store(UINT64_MAX, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
}

size_t thread_stripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kSumStripes;
  return stripe;
}

}  // namespace ragperf::monitor
