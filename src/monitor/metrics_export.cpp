#include "monitor/metrics_export.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace ragperf::monitor {

namespace {

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// Names unique after sanitising: a second stage that maps to the same name gets a suffix.
std::string unique_name(std::string_view raw, std::set<std::string>& used) {
  std::string base = sanitize_metric_name(raw);
  std::string name = base;
  for (int i = 2; !used.insert(name).second; ++i) name = base + "_" + std::to_string(i);
  return name;
}

}  // namespace

const std::vector<double>& prometheus_bucket_bounds() {
  static const std::vector<double> bounds = [] {
    std::vector<double> b;
    for (double v = 1e-5; v < 10.0; v *= 1.5) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4g", v);  // the bound as printed is the bound counted
      b.push_back(std::strtod(buf, nullptr));
    }
    b.push_back(10.0);
    return b;
  }();
  return bounds;
}

std::string sanitize_metric_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) out += '_';
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

std::string export_json(const std::vector<StageExport>& stages,
                        const std::vector<CounterExport>& counters) {
  nlohmann::json j;
  j["stages"] = nlohmann::json::array();
  for (const auto& s : stages) {
    const StageStats& st = s.stats;
    j["stages"].push_back({{"name", st.name},
                           {"count", st.count},
                           {"sum_s", st.sum_s},
                           {"mean_s", st.mean_s},
                           {"p50_s", st.p50_s},
                           {"p95_s", st.p95_s},
                           {"p99_s", st.p99_s},
                           {"min_s", st.min_s},
                           {"max_s", st.max_s},
                           {"throughput_per_s", st.throughput_per_s}});
  }
  j["counters"] = nlohmann::json::object();
  for (const auto& c : counters) j["counters"][c.name] = c.value;
  return j.dump(2);
}

std::string export_prometheus(const std::vector<StageExport>& stages,
                              const std::vector<CounterExport>& counters) {
  std::ostringstream out;
  std::set<std::string> used;
  for (const auto& s : stages) {
    const std::string metric = "ragperf_" + unique_name(s.stats.name, used) + "_duration_seconds";
    out << "# HELP " << metric << " Seconds spent in ragperf stage '" << escape_help(s.stats.name)
        << "'.\n";
    out << "# TYPE " << metric << " histogram\n";
    for (double le : prometheus_bucket_bounds()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4g", le);
      out << metric << "_bucket{le=\"" << buf << "\"} " << s.histogram.count_at_or_below(le * 1e9)
          << "\n";
    }
    out << metric << "_bucket{le=\"+Inf\"} " << s.histogram.count << "\n";
    out << metric << "_sum " << format_double(static_cast<double>(s.histogram.sum_ns) / 1e9)
        << "\n";
    out << metric << "_count " << s.histogram.count << "\n";
  }
  std::set<std::string> used_counters;
  for (const auto& c : counters) {
    std::string base = unique_name(c.name, used_counters);
    if (base.size() >= 6 && base.compare(base.size() - 6, 6, "_total") == 0)
      base.resize(base.size() - 6);
    const std::string metric = "ragperf_" + base + "_total";
    out << "# HELP " << metric << " ragperf counter '" << escape_help(c.name) << "'.\n";
    out << "# TYPE " << metric << " counter\n";
    out << metric << " " << c.value << "\n";
  }
  return out.str();
}

}  // namespace ragperf::monitor
