// bench/stats.h defines the one statistics helper every benchmark uses, so that a p50 or p99 in
// any `ragperf bench` table or JSON means the same thing.
//
//   double p99 = ragperf::bench::percentile(latencies_s, 99);
//   double mid = ragperf::bench::median(latencies_s);  // percentile(v, 50)
//
// Percentile definition: linear interpolation between the closest ranks, numpy's default
// (`numpy.percentile(v, p)`, method "linear", Hyndman & Fan type 7): with the n samples sorted,
// position (p / 100) * (n - 1) is interpolated between the samples on either side. p = 0 is the
// minimum, p = 100 the maximum, and the median of an even count is the mean of the middle two.
#pragma once

#include <vector>

namespace ragperf::bench {

/// The p-th percentile (p in [0, 100]) of `samples` as defined above; 0 for no samples.
double percentile(std::vector<double> samples, double p);

/// percentile(samples, 50).
double median(std::vector<double> samples);

}  // namespace ragperf::bench
