// bench/report.h defines the shape every `ragperf bench <name>` prints and writes.
//
//   ragperf::bench::Report r("embed");
//   r.add_row("single_embedding", baseline_s, optimized_s, "guide: 5x");
//   r.set("short_p50_s", 0.0011);
//   r.emit(json_flag, out_path);   // a table (stderr with --json), JSON on stdout or a file
//
// JSON: {"benchmark": name, "rows": [{"name","baseline_s","optimized_s","speedup"}...], extras...}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ragperf::bench {

struct Row {
  std::string name;
  double baseline_s = 0;   // seconds for the baseline path
  double optimized_s = 0;  // seconds for the optimized path
  std::string note;        // e.g. the guide's claimed speedup
  double speedup() const { return optimized_s > 0 ? baseline_s / optimized_s : 0; }
};

class Report {
 public:
  explicit Report(std::string benchmark) : benchmark_(std::move(benchmark)) {}

  void add_row(std::string name, double baseline_s, double optimized_s, std::string note = "");
  /// An extra top-level figure (seconds, rates, counts) written beside "rows".
  void set(const std::string& key, nlohmann::json value);
  /// A free-form line printed under the table (machine, threads, build type).
  void note(std::string line);

  const std::vector<Row>& rows() const { return rows_; }
  nlohmann::json to_json() const;
  std::string to_table() const;

  /// Prints the table to stdout (stderr when `json`), the JSON to stdout when `json`, and the
  /// JSON to `out_path` when it is not empty.
  void emit(bool json, const std::string& out_path) const;

 private:
  std::string benchmark_;
  std::vector<Row> rows_;
  nlohmann::json extras_ = nlohmann::json::object();
  std::vector<std::string> notes_;
};

/// "1.23 ms", "45.6 µs", "2.10 s"
std::string format_seconds(double s);

/// Build type, compiler flags relevant to speed, and core count, for the notes.
std::string build_description();

}  // namespace ragperf::bench
