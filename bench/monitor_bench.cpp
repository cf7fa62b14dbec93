// `ragperf bench monitor`: the cost of PerformanceMonitor::record(), alone and under threads.
//
// Baseline: the recorder a first version writes: one mutex, a std::vector of samples per stage
// (std::map by name) and a sort when percentiles are read. Optimized: PerformanceMonitor (a
// lock-free read-mostly name map, atomic log-linear histogram buckets, striped sums).
#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "ragperf/monitor.h"
#include "report.h"
#include "stats.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool json = false;
  std::string out;
  size_t records = 2'000'000;
  size_t threads = 4;
};

class MutexRecorder {
 public:
  void record(std::string_view name, double seconds) {
    std::lock_guard lock(mu_);
    samples_[std::string(name)].push_back(seconds);
  }
  double p99(std::string_view name) {
    std::vector<double> v;
    {
      std::lock_guard lock(mu_);
      v = samples_[std::string(name)];
    }
    return ragperf::bench::percentile(std::move(v), 99);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<double>, std::less<>> samples_;
};

// CPU seconds per record() call: `threads` threads each record `per_thread` samples at once;
// wall time x the threads that can run at once (min(threads, cores)) / records.
template <typename Recorder>
double time_records(Recorder& r, size_t threads, size_t per_thread) {
  static const char* kStages[] = {"tokenize", "embed", "query", "total"};
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&r, per_thread, t] {
      for (size_t i = 0; i < per_thread; ++i)
        r.record(kStages[(i + t) % 4], 1e-6 * static_cast<double>(1 + (i % 5000)));
    });
  }
  for (auto& th : pool) th.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const size_t running =
      std::min<size_t>(threads, std::max(1u, std::thread::hardware_concurrency()));
  return wall * static_cast<double>(running) / static_cast<double>(threads * per_thread);
}

template <typename Fn>
double time_once(Fn&& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void run(const Options& o) {
  ragperf::bench::Report report("monitor");
  {
    MutexRecorder base;
    ragperf::PerformanceMonitor opt;
    const double b = time_records(base, 1, o.records);
    const double p = time_records(opt, 1, o.records);
    report.add_row("1000_records_1_thread", b * 1000, p * 1000, "1000 record() calls");
    report.set("record_s_1_thread", p);
    const double b_read = time_once([&] { (void)base.p99("embed"); });
    const double p_read = time_once([&] { (void)opt.get_stats("embed"); });
    report.add_row("p99_read_" + std::to_string(o.records / 4) + "_samples", b_read, p_read);
  }
  {
    MutexRecorder base;
    ragperf::PerformanceMonitor opt;
    const size_t per_thread = o.records / o.threads;
    const double b = time_records(base, o.threads, per_thread);
    const double p = time_records(opt, o.threads, per_thread);
    report.add_row("1000_records_" + std::to_string(o.threads) + "_threads", b * 1000, p * 1000,
                   "CPU time of 1000 record() calls, threads contending");
    report.set("record_s_" + std::to_string(o.threads) + "_threads", p);
  }
  {
    ragperf::PerformanceMonitor opt;
    const double span_s = time_once([&] {
      for (size_t i = 0; i < o.records / 4; ++i) {
        auto span = opt.track("embed");
      }
    });
    report.set("track_span_s", span_s / static_cast<double>(o.records / 4));
  }
  report.set("records", o.records);
  report.set("threads", o.threads);
  report.set("hardware_threads", std::thread::hardware_concurrency());
  report.note("1000_records_N_threads: N threads record at once on " +
              std::to_string(std::thread::hardware_concurrency()) +
              " hardware threads; CPU time = wall x min(N, cores). record_s_*: seconds per call.");
  report.emit(o.json, o.out);
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "monitor", "PerformanceMonitor::record() cost (mutex + vector + sort vs histograms)");
  auto o = std::make_shared<Options>();
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->add_option("--records", o->records, "record() calls per measurement (default 2000000)")
      ->check(CLI::Range(size_t{1000}, size_t{1'000'000'000}));
  cmd->add_option("--threads", o->threads, "Threads for the contended measurement (default 4)")
      ->check(CLI::Range(size_t{1}, size_t{256}));
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
