// monitor/histogram.h defines LatencyHistogram: a log-linear (HdrHistogram-style) histogram of
// durations in nanoseconds with atomic bucket counters, and its snapshot with percentiles.
//
//   LatencyHistogram h;
//   h.record(1500);                          // ns; thread-safe, lock-free
//   HistogramSnapshot s = h.snapshot();
//   double p99_ns = s.percentile(99.0);      // within 1/256 (0.4 %) of the exact sample
//
// Layout: values below 256 ns are counted exactly; above, each power-of-two range [2^k, 2^(k+1))
// is split into 128 equal sub-buckets, so a bucket is at most 1/128 of its lowest value wide and
// its midpoint is within 1/256 of every value in it. Values are clamped to kMaxNs (100 s).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ragperf::monitor {

inline constexpr int kSubBucketHalfMagnitude = 7;  // 128 sub-buckets
inline constexpr uint64_t kSubBucketCount = 1ull << (kSubBucketHalfMagnitude + 1);  // 256
inline constexpr uint64_t kSubBucketHalf = kSubBucketCount / 2;
inline constexpr uint64_t kMaxNs = 100'000'000'000ull;  // 100 s
inline constexpr size_t kSumStripes = 16;               // per-thread stripes for the sum

/// Index of the bucket holding `ns` (already clamped to kMaxNs).
constexpr size_t bucket_index(uint64_t ns) {
  const int pow2ceiling = 64 - __builtin_clzll(ns | (kSubBucketCount - 1));
  const int bucket = pow2ceiling - (kSubBucketHalfMagnitude + 1);
  const uint64_t sub = ns >> bucket;
  return (static_cast<size_t>(bucket + 1) << kSubBucketHalfMagnitude) + (sub - kSubBucketHalf);
}

/// Number of counters needed for values up to kMaxNs (3968).
inline constexpr size_t kBucketCount = bucket_index(kMaxNs) + 1;

/// Lowest value and width (ns) of bucket `index`.
struct BucketRange {
  uint64_t lowest;
  uint64_t width;
  uint64_t midpoint() const { return lowest + width / 2; }
};
BucketRange bucket_range(size_t index);

struct HistogramSnapshot {
  std::vector<uint64_t> counts;  // [kBucketCount]
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t min_ns = 0;  // exact (0 when empty)
  uint64_t max_ns = 0;  // exact

  /// Nearest-rank percentile (p in [0, 100]) in ns: the midpoint of the bucket holding the
  /// ceil(p/100 * count)-th smallest sample, clamped to [min, max]. 0 when empty.
  double percentile(double p) const;
  /// Samples whose bucket midpoint is <= `ns` (for cumulative Prometheus buckets).
  uint64_t count_at_or_below(double ns) const;
};

/// Thread-safe: record() is wait-free apart from rare min/max CAS retries.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void record(uint64_t ns);
  HistogramSnapshot snapshot() const;
  /// Zeroes every counter. Records racing with reset() may survive it or be dropped.
  void reset();

 private:
  struct alignas(64) Stripe {
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<std::atomic<uint64_t>, kBucketCount> counts_{};
  std::array<Stripe, kSumStripes> sums_;
  std::atomic<uint64_t> min_ns_{UINT64_MAX};
  std::atomic<uint64_t> max_ns_{0};
};

/// A small per-thread number in [0, kSumStripes) used to spread contended counters.
size_t thread_stripe();

}  // namespace ragperf::monitor
