// monitor/metrics_export.h renders monitor snapshots as JSON and as Prometheus text format 0.0.4.
//
//   std::string text = export_prometheus(stages, counters);
//   // # HELP ragperf_embed_duration_seconds ...
//   // # TYPE ragperf_embed_duration_seconds histogram
//   // ragperf_embed_duration_seconds_bucket{le="1e-05"} 0 ... {le="+Inf"} 42, _sum, _count
//
// Histogram buckets are geometric (x1.5) from 10 µs to ~9.7 s, then 10 s and +Inf; a sample
// counts towards `le` when its histogram bucket's midpoint is <= le (resolution 0.4 %).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/histogram.h"
#include "ragperf/monitor.h"

namespace ragperf::monitor {

struct StageExport {
  StageStats stats;
  HistogramSnapshot histogram;
};

struct CounterExport {
  std::string name;
  uint64_t value = 0;
};

/// Upper bounds (seconds) of the finite Prometheus buckets, ascending.
const std::vector<double>& prometheus_bucket_bounds();

/// `name` with every character outside [a-zA-Z0-9_] replaced by '_' (and a leading '_' when it
/// starts with a digit), so that `ragperf_<name>_...` is a valid Prometheus metric name.
std::string sanitize_metric_name(std::string_view name);

std::string export_json(const std::vector<StageExport>& stages,
                        const std::vector<CounterExport>& counters);
std::string export_prometheus(const std::vector<StageExport>& stages,
                              const std::vector<CounterExport>& counters);

}  // namespace ragperf::monitor
