// PerformanceMonitor::export_metrics: Prometheus text format parsed back, and JSON.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ragperf/monitor.h"

namespace ragperf {
namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Family {
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

bool is_metric_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  return true;
}

// A strict reader of the text exposition format 0.0.4 (the subset ragperf writes):
// `# HELP name text`, `# TYPE name type`, `name{label="v",...} value` or `name value`.
std::map<std::string, Family> parse_prometheus(const std::string& text) {
  std::map<std::string, Family> families;
  std::istringstream in(text);
  std::string line;
  std::string current;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "blank line in exposition";
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      current = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(is_metric_name(current)) << line;
      EXPECT_EQ(families.count(current), 0u) << "family declared twice: " << current;
      families[current].help = rest.substr(current.size() + 1);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream fields(line.substr(7));
      std::string name, type;
      fields >> name >> type;
      EXPECT_EQ(name, current) << "TYPE must follow HELP of the same family: " << line;
      families[name].type = type;
    } else {
      const size_t space = line.rfind(' ');
      if (space == std::string::npos) {
        ADD_FAILURE() << "not a sample line: " << line;
        continue;
      }
      std::string head = line.substr(0, space);
      const std::string value = line.substr(space + 1);
      Sample s;
      const size_t brace = head.find('{');
      s.name = head.substr(0, brace);
      EXPECT_TRUE(is_metric_name(s.name)) << line;
      if (brace != std::string::npos) {
        EXPECT_EQ(head.back(), '}') << line;
        std::string labels = head.substr(brace + 1, head.size() - brace - 2);
        size_t pos = 0;
        while (pos < labels.size()) {
          const size_t eq = labels.find("=\"", pos);
          const size_t close = eq == std::string::npos ? eq : labels.find('"', eq + 2);
          if (close == std::string::npos) {
            ADD_FAILURE() << "bad labels: " << line;
            break;
          }
          s.labels[labels.substr(pos, eq - pos)] = labels.substr(eq + 2, close - eq - 2);
          pos = close + 1;
          if (pos < labels.size()) {
            EXPECT_EQ(labels[pos], ',') << line;
            ++pos;
          }
        }
      }
      size_t used = 0;
      s.value = value == "+Inf" ? INFINITY : std::stod(value, &used);
      if (value != "+Inf") {
        EXPECT_EQ(used, value.size()) << line;
      }
      EXPECT_EQ(s.name.rfind(current, 0), 0u) << s.name << " outside family " << current;
      families[current].samples.push_back(s);
    }
  }
  return families;
}

TEST(MetricsExport, PrometheusHistogramParsesBackWithCumulativeBuckets) {
  PerformanceMonitor m;
  // Samples away from bucket bounds: 3 at 20 µs, 5 at 3 ms, 2 at 0.7 s, 1 at 42 s (> 10 s).
  for (int i = 0; i < 3; ++i) m.record("embed", 20e-6);
  for (int i = 0; i < 5; ++i) m.record("embed", 3e-3);
  for (int i = 0; i < 2; ++i) m.record("embed", 0.7);
  m.record("embed", 42.0);
  m.increment("cache_hits", 7);

  auto families = parse_prometheus(m.export_metrics(MetricsFormat::kPrometheus));
  ASSERT_EQ(families.count("ragperf_embed_duration_seconds"), 1u);
  const Family& h = families["ragperf_embed_duration_seconds"];
  EXPECT_EQ(h.type, "histogram");
  EXPECT_FALSE(h.help.empty());

  double prev_le = 0, prev_count = 0, sum = -1, count = -1, inf = -1;
  int buckets = 0;
  std::vector<double> les;
  for (const Sample& s : h.samples) {
    if (s.name == "ragperf_embed_duration_seconds_bucket") {
      ASSERT_EQ(s.labels.count("le"), 1u);
      const std::string le = s.labels.at("le");
      if (le == "+Inf") {
        inf = s.value;
        continue;
      }
      const double bound = std::stod(le);
      EXPECT_GT(bound, prev_le) << "le must increase";
      EXPECT_GE(s.value, prev_count) << "buckets must be cumulative";
      les.push_back(bound);
      const double want =
          (bound >= 20e-6 ? 3 : 0) + (bound >= 3e-3 ? 5 : 0) + (bound >= 0.7 ? 2 : 0);
      EXPECT_EQ(s.value, want) << "le=" << le;
      prev_le = bound;
      prev_count = s.value;
      ++buckets;
    } else if (s.name == "ragperf_embed_duration_seconds_sum") {
      sum = s.value;
    } else if (s.name == "ragperf_embed_duration_seconds_count") {
      count = s.value;
    } else {
      ADD_FAILURE() << "unexpected sample " << s.name;
    }
  }
  ASSERT_FALSE(les.empty());
  EXPECT_NEAR(les.front(), 1e-5, 1e-12);  // 10 µs ... 10 s
  EXPECT_NEAR(les.back(), 10.0, 1e-12);
  EXPECT_GE(buckets, 10);
  EXPECT_EQ(inf, 11);
  EXPECT_EQ(count, 11);
  EXPECT_NEAR(sum, 3 * 20e-6 + 5 * 3e-3 + 2 * 0.7 + 42.0, 1e-9);

  ASSERT_EQ(families.count("ragperf_cache_hits_total"), 1u);
  const Family& c = families["ragperf_cache_hits_total"];
  EXPECT_EQ(c.type, "counter");
  ASSERT_EQ(c.samples.size(), 1u);
  EXPECT_EQ(c.samples[0].value, 7);
}

TEST(MetricsExport, StageNamesAreSanitisedAndKeptDistinct) {
  PerformanceMonitor m;
  m.record("db.query-time", 1e-3);
  m.record("db_query_time", 2e-3);
  m.record("9lives", 1e-3);
  m.record("naïve stage", 1e-3);
  m.increment("requests_total");  // not doubled to _total_total
  auto families = parse_prometheus(m.export_metrics(MetricsFormat::kPrometheus));
  EXPECT_EQ(families.count("ragperf_db_query_time_duration_seconds"), 1u);
  EXPECT_EQ(families.count("ragperf_db_query_time_2_duration_seconds"), 1u);
  EXPECT_EQ(families.count("ragperf__9lives_duration_seconds"), 1u);
  EXPECT_EQ(families.count("ragperf_na__ve_stage_duration_seconds"), 1u);
  EXPECT_EQ(families.count("ragperf_requests_total"), 1u);
  EXPECT_NE(families["ragperf_db_query_time_duration_seconds"].help.find("db.query-time"),
            std::string::npos);
}

TEST(MetricsExport, EmptyMonitorExportsNothingButValidText) {
  PerformanceMonitor m;
  EXPECT_EQ(m.export_metrics(MetricsFormat::kPrometheus), "");
  auto j = nlohmann::json::parse(m.export_metrics(MetricsFormat::kJson));
  EXPECT_TRUE(j["stages"].empty());
  EXPECT_TRUE(j["counters"].empty());
}

TEST(MetricsExport, JsonHasEveryStatPerStageAndCounters) {
  PerformanceMonitor m;
  m.record("query", 0.002);
  m.record("query", 0.004);
  m.increment("hits", 3);
  auto j = nlohmann::json::parse(m.export_metrics());  // JSON is the default
  ASSERT_EQ(j["stages"].size(), 1u);
  const auto& q = j["stages"][0];
  EXPECT_EQ(q["name"], "query");
  EXPECT_EQ(q["count"], 2);
  EXPECT_NEAR(q["sum_s"].get<double>(), 0.006, 1e-12);
  EXPECT_NEAR(q["mean_s"].get<double>(), 0.003, 1e-12);
  EXPECT_NEAR(q["p50_s"].get<double>(), 0.002, 0.002 * 0.01);
  EXPECT_NEAR(q["p99_s"].get<double>(), 0.004, 0.004 * 0.01);
  EXPECT_NEAR(q["min_s"].get<double>(), 0.002, 1e-12);
  EXPECT_NEAR(q["max_s"].get<double>(), 0.004, 1e-12);
  EXPECT_TRUE(q.contains("p95_s"));
  EXPECT_TRUE(q.contains("throughput_per_s"));
  EXPECT_EQ(j["counters"]["hits"], 3);
}

}  // namespace
}  // namespace ragperf
