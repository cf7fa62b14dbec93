#include "report.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ragperf/error.h"

namespace ragperf::bench {

void Report::add_row(std::string name, double baseline_s, double optimized_s, std::string note) {
  rows_.push_back({std::move(name), baseline_s, optimized_s, std::move(note)});
}

void Report::set(const std::string& key, nlohmann::json value) {
  extras_[key] = std::move(value);
}

void Report::note(std::string line) {
  notes_.push_back(std::move(line));
}

nlohmann::json Report::to_json() const {
  nlohmann::json j = extras_;
  j["benchmark"] = benchmark_;
  j["rows"] = nlohmann::json::array();
  for (const auto& r : rows_) {
    j["rows"].push_back({{"name", r.name},
                         {"baseline_s", r.baseline_s},
                         {"optimized_s", r.optimized_s},
                         {"speedup", r.speedup()}});
    if (!r.note.empty()) j["rows"].back()["note"] = r.note;
  }
  j["build"] = build_description();
  return j;
}

std::string format_seconds(double s) {
  char buf[64];
  if (s < 1e-3)
    std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else if (s < 1.0)
    std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

std::string Report::to_table() const {
  std::ostringstream out;
  out << "ragperf bench " << benchmark_ << "\n\n";
  out << "| operation | baseline | optimized | speedup | note |\n";
  out << "|---|---:|---:|---:|---|\n";
  for (const auto& r : rows_) {
    char sp[32];
    std::snprintf(sp, sizeof sp, "%.2fx", r.speedup());
    out << "| " << r.name << " | " << format_seconds(r.baseline_s) << " | "
        << format_seconds(r.optimized_s) << " | " << sp << " | " << r.note << " |\n";
  }
  if (!extras_.empty()) {
    out << "\n";
    for (const auto& [k, v] : extras_.items()) out << "- " << k << ": " << v.dump() << "\n";
  }
  for (const auto& n : notes_) out << "\n" << n;
  out << "\nbuild: " << build_description() << "\n";
  return out.str();
}

void Report::emit(bool json, const std::string& out_path) const {
  (json ? std::cerr : std::cout) << to_table() << std::flush;
  const std::string text = to_json().dump(2);
  if (json) std::cout << text << std::endl;
  if (!out_path.empty()) {
    std::ofstream f(out_path);
    if (!f) throw InputError("--out '" + out_path + "' cannot be written; check the folder exists");
    f << text << "\n";
  }
}

std::string build_description() {
  std::ostringstream out;
#ifdef NDEBUG
  out << "optimized (NDEBUG)";
#else
  out << "debug (assertions on)";
#endif
#if defined(__AVX512F__)
  out << ", AVX-512";
#elif defined(__AVX2__)
  out << ", AVX2";
#endif
#if defined(__SANITIZE_ADDRESS__)
  out << ", ASan";
#endif
  out << ", " << std::thread::hardware_concurrency() << " hardware threads";
  return out.str();
}

}  // namespace ragperf::bench
