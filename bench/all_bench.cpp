// `ragperf bench [--json] [--out FILE] [--quick] [--timeout S]` (no benchmark named): runs every
// row of the guide's "Performance Benchmarks" table that needs no LLM, on this machine, and prints
// ONE table: operation, baseline, optimized, speedup, and the guide's claim beside it.
//
// Each benchmark runs as a child process of this same binary (`ragperf bench <name> --json`, plus
// --quick when asked and the benchmark offers it), one after another so that they never compete
// for the cores. A benchmark that is missing from the binary, fails, times out or prints no JSON is
// reported as such in the table and in the JSON ("children"), never hidden. Children's tables and
// progress go to a log file per child (its path is printed when it fails).
//
// JSON (bench/report.h's shape): {"benchmark": "all", "rows": [{"name", "baseline_s",
// "optimized_s", "speedup", "note", "from", "guide_speedup"}...], "cache_hit_p99_s_100k",
// "concurrency" (from `bench batch`), "pool_vs_pgbench" (from `bench pool`), "children":
// {name: {"status", "seconds", "error"}}, ...}.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.h"
#include "ragperf/error.h"
#include "report.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// The guide's "Performance Benchmarks" table (its "M1 Mac Mini 16GB" section), as published in
// the Performance Optimizations Guide whose API ragperf implements. These are the guide's CLAIMS,
// printed beside what this machine measures; they are not measured here. Rows the guide does not
// give a speedup for print "n/a".
struct GuideClaim {
  const char* row;        // JSON row name used by ragperf's benchmarks
  const char* operation;  // the guide's wording
  const char* baseline;   // the guide's "Sync" column
  const char* optimized;  // the guide's "Async" column
  const char* speedup;    // the guide's "Speedup" column
};
constexpr GuideClaim kGuideClaims[] = {
    {"single_embedding", "Single embedding", "50ms", "-", "n/a"},
    {"embeddings_10_sequential_vs_batched", "10 embeddings: sequential vs batched", "1.5s", "0.5s",
     "3x"},
    {"connection_new_vs_pooled", "Database connection: new vs pooled", "20-50ms", "0-1ms",
     "20-50x"},
    {"queries_10_unpooled_vs_pooled", "10 queries: no pooling vs with pooling", "2.0s", "0.4s",
     "5x"},
    {"tables_3_sequential_vs_parallel", "3 table retrieval: sequential vs parallel", "0.9s", "0.3s",
     "3x"},
    {"queries_10_single_vs_batched", "10 single queries vs 10 batched queries", "15s", "5s", "3x"},
    {"full_query_miss_vs_hit", "Full query: cache miss vs cache hit (guide: full RAG query)", "10s",
     "0.001s", "10,000x"},
};

const GuideClaim* claim_for(const std::string& row) {
  for (const auto& c : kGuideClaims) {
    if (row == c.row) return &c;
  }
  return nullptr;
}

// The benchmarks run, in this order (each one's rows are listed in its own file).
constexpr const char* kChildren[] = {"embed", "pool", "retrieve", "cache", "batch", "rerank"};

struct Options {
  bool json = false;
  bool quick = false;
  std::string out;
  double timeout_s = 600;  // per child
  std::string logs;        // folder for the children's logs (default: a temporary folder)
};

struct Child {
  std::string name;
  std::string status = "ok";  // ok | missing | failed | timed out | bad output
  std::string error;
  double seconds = 0;
  fs::path log;
  json result;
};

std::string last_lines(const fs::path& file, size_t n) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += (out.empty() ? "" : "\n") + lines[i];
  }
  return out;
}

/// Runs `exe args...` with stdout captured and stderr to `log`; kills it (SIGTERM, then SIGKILL)
/// after `timeout_s`. Returns the exit status (-1 when killed), stdout in `out`.
int run_process(const std::string& exe, const std::vector<std::string>& args, const fs::path& log,
                double timeout_s, std::string& out, bool& timed_out) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw ragperf::InputError("cannot create a pipe");
  const int err_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw ragperf::InputError(log.string() + ": cannot be written");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipe_fds[1]);
  ::close(err_fd);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw ragperf::InputError("cannot start " + exe + ": " + std::strerror(rc));
  }
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s));
  timed_out = false;
  bool killed_hard = false;
  auto term_sent = Clock::time_point{};
  char buf[65536];
  for (;;) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, 250);
    if (ready > 0) {
      const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) break;  // the child closed stdout
    }
    const auto now = Clock::now();
    if (!timed_out && now > deadline) {
      timed_out = true;
      ::kill(pid, SIGTERM);
      term_sent = now;
    } else if (timed_out && !killed_hard && now - term_sent > std::chrono::seconds(5)) {
      ::kill(pid, SIGKILL);
      killed_hard = true;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -1;
}

Child run_child(const std::string& exe, CLI::App& bench, const std::string& name,
                const Options& opt, const fs::path& logs) {
  Child c;
  c.name = name;
  c.log = logs / ("bench-" + name + ".log");
  CLI::App* sub = nullptr;
  for (CLI::App* s : bench.get_subcommands([&](CLI::App* a) { return a->get_name() == name; })) {
    sub = s;
  }
  if (!sub) {
    c.status = "missing";
    c.error = "`ragperf bench " + name + "` is not built into this binary";
    return c;
  }
  std::vector<std::string> args = {"bench", name, "--json"};
  if (opt.quick && sub->get_option_no_throw("--quick")) args.push_back("--quick");
  std::cerr << "bench: running ragperf bench " << name << (args.size() > 3 ? " --quick" : "")
            << " ..." << std::flush;
  const auto t0 = Clock::now();
  std::string out;
  bool timed_out = false;
  const int rc = run_process(exe, args, c.log, opt.timeout_s, out, timed_out);
  c.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (timed_out) {
    c.status = "timed out";
    c.error = "stopped after " + std::to_string(static_cast<int>(opt.timeout_s)) +
              " s (--timeout); log: " + c.log.string();
  } else if (rc != 0) {
    c.status = "failed";
    c.error = "exit status " + std::to_string(rc) + ": " + last_lines(c.log, 1) +
              " (log: " + c.log.string() + ")";
  } else {
    const auto brace = out.find('{');
    try {
      if (brace == std::string::npos) throw std::runtime_error("no JSON object on stdout");
      c.result = json::parse(out.substr(brace));
      if (!c.result.contains("rows") || !c.result["rows"].is_array()) {
        throw std::runtime_error("the JSON has no \"rows\" array");
      }
    } catch (const std::exception& e) {
      c.status = "bad output";
      c.error = std::string(e.what()) + " (log: " + c.log.string() + ")";
    }
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f s", c.seconds);
  std::cerr << " " << c.status << " (" << secs << ")\n";
  if (c.status != "ok") std::cerr << "  " << c.error << "\n";
  return c;
}

std::string speedup_text(double baseline, double optimized) {
  if (!(optimized > 0)) return "n/a";
  char buf[32];
  const double s = baseline / optimized;
  std::snprintf(buf, sizeof buf, s >= 100 ? "%.0fx" : "%.2fx", s);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

std::string ms(double s) {
  return ragperf::bench::format_seconds(s);
}

void run_all(CLI::App& bench, const Options& opt) {
  const auto started = Clock::now();
  std::error_code ec;
  const std::string exe = fs::read_symlink("/proc/self/exe", ec).string();
  if (exe.empty()) throw ragperf::InputError("cannot find this program's path (/proc/self/exe)");
  fs::path logs = opt.logs.empty()
                      ? fs::temp_directory_path() / ("ragperf-bench-" + std::to_string(::getpid()))
                      : fs::path(opt.logs);
  fs::create_directories(logs);

  std::vector<Child> children;
  for (const char* name : kChildren) children.push_back(run_child(exe, bench, name, opt, logs));

  // Rows: the guide's rows first (in the guide's order), then every other row each child wrote.
  struct RowOut {
    std::string name, from, note;
    double baseline = 0, optimized = 0;
  };
  std::vector<RowOut> rows;
  for (const auto& c : children) {
    if (c.status != "ok") continue;
    for (const auto& r : c.result["rows"]) {
      rows.push_back({r.value("name", std::string("?")), c.name, r.value("note", std::string()),
                      r.value("baseline_s", 0.0), r.value("optimized_s", 0.0)});
    }
  }
  std::vector<RowOut> ordered;
  for (const auto& g : kGuideClaims) {
    for (const auto& r : rows) {
      if (r.name == g.row) ordered.push_back(r);
    }
  }
  for (const auto& r : rows) {
    if (!claim_for(r.name)) ordered.push_back(r);
  }

  ragperf::bench::Report report("all");
  std::ostringstream table;
  table << "ragperf bench: the guide's Performance Benchmarks table, measured on this machine\n\n";
  table << "| operation | baseline | optimized | speedup | guide claims (M1 Mac Mini) | from |\n";
  table << "|---|---:|---:|---:|---|---|\n";
  for (const auto& r : ordered) {
    const GuideClaim* g = claim_for(r.name);
    std::string claim = "n/a";
    if (g) {
      claim = std::string(g->speedup) + " (" + g->baseline + " -> " + g->optimized + ")";
    }
    table << "| " << (g ? std::string(g->operation) + " `" + r.name + "`" : "`" + r.name + "`")
          << " | " << ms(r.baseline) << " | " << ms(r.optimized) << " | "
          << speedup_text(r.baseline, r.optimized) << " | " << claim << " | bench " << r.from
          << " |\n";
    report.add_row(r.name, r.baseline, r.optimized, r.note);
  }
  for (const auto& c : children) {
    if (c.status == "ok") continue;
    table << "| `bench " << c.name << "`: " << c.status << " | - | - | - | - | " << c.error
          << " |\n";
  }

  // Figures beside the table.
  json extras_children = json::object();
  for (const auto& c : children) {
    extras_children[c.name] = {{"status", c.status}, {"seconds", c.seconds}};
    if (!c.error.empty()) extras_children[c.name]["error"] = c.error;
  }
  table << "\n";
  for (const auto& c : children) {
    if (c.status != "ok") continue;
    if (c.name == "cache" && c.result.contains("cache_hit_p99_s_100k")) {
      const double p99 = c.result["cache_hit_p99_s_100k"].get<double>();
      report.set("cache_hit_p99_s_100k", p99);
      table << "- cache hit p99 with 100k entries: " << ms(p99)
            << " (target < 100 us: " << (p99 < 100e-6 ? "met" : "missed") << ")\n";
    }
    if (c.name == "pool" && c.result.contains("pool_vs_pgbench")) {
      const double ratio = c.result["pool_vs_pgbench"].get<double>();
      for (const char* k : {"vector_query_qps_c10", "pgbench_qps_c10", "pool_vs_pgbench"})
        if (c.result.contains(k)) report.set(k, c.result[k]);
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "- top-4 vector query at 10 callers through the pool: %.0f q/s, pgbench %.0f "
                    "q/s: %.2f (target >= 0.9: %s)\n",
                    c.result.value("vector_query_qps_c10", 0.0),
                    c.result.value("pgbench_qps_c10", 0.0), ratio, ratio >= 0.9 ? "met" : "missed");
      table << buf;
    }
    if (c.name == "batch") {
      const auto& b = c.result;
      if (b.contains("concurrency")) report.set("concurrency", b["concurrency"]);
      for (const char* k :
           {"queries_10_single_s", "queries_10_batched_s", "concurrency_qps_unbatched",
            "concurrency_qps_batched", "full_query_hit_p99_s"}) {
        if (b.contains(k)) report.set(k, b[k]);
      }
      const double single = b.value("queries_10_single_s", 0.0);
      const double batched = b.value("queries_10_batched_s", 0.0);
      const double qu = b.value("concurrency_qps_unbatched", 0.0);
      const double qb = b.value("concurrency_qps_batched", 0.0);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "- 10 single full queries: %s (seed's Python 163 ms, target <= 54 ms: %s); "
                    "10 batched: %s (seed 57 ms, target <= 19 ms: %s)\n",
                    ms(single).c_str(), single <= 0.163 / 3 ? "met" : "missed", ms(batched).c_str(),
                    batched <= 0.057 / 3 ? "met" : "missed");
      table << buf;
      std::snprintf(buf, sizeof buf,
                    "- 10 concurrent clients: unbatched %.1f q/s (seed 61, target >= 183: %s); "
                    "batched %.1f q/s (seed 150, target >= 450: %s)\n",
                    qu, qu >= 183 ? "met" : "missed", qb, qb >= 450 ? "met" : "missed");
      table << buf;
      if (b.contains("concurrency")) {
        for (const char* mode : {"unbatched", "batched", "batched_cache"}) {
          if (!b["concurrency"].contains(mode)) continue;
          const auto& m = b["concurrency"][mode];
          const auto& f = m["fixed_rate"];
          std::snprintf(buf, sizeof buf,
                        "  - %s: max %.1f q/s; at a fixed %.1f q/s (latency from the intended "
                        "start): %.1f q/s, p50 %s, p95 %s, p99 %s\n",
                        mode, m.value("max_qps", 0.0), m.value("offered_qps", 0.0),
                        f.value("qps", 0.0), ms(f.value("p50_s", 0.0)).c_str(),
                        ms(f.value("p95_s", 0.0)).c_str(), ms(f.value("p99_s", 0.0)).c_str());
          table << buf;
        }
      }
      for (const auto& r : b["rows"]) {
        if (r.value("name", "") == "full_query_miss_vs_hit") {
          const double x = r.value("speedup", 0.0);
          std::snprintf(buf, sizeof buf,
                        "- cache hit vs the full query it replaces: %.0fx (target >= 1000x: %s)\n",
                        x, x >= 1000 ? "met" : "missed");
          table << buf;
        }
      }
    }
  }
  report.set("children", extras_children);
  report.set("machine", cpu_model());
  json claims = json::array();
  for (const auto& g : kGuideClaims) {
    claims.push_back({{"row", g.row},
                      {"operation", g.operation},
                      {"baseline", g.baseline},
                      {"optimized", g.optimized},
                      {"speedup", g.speedup}});
  }
  report.set("guide_claims", claims);
  const double total = std::chrono::duration<double>(Clock::now() - started).count();
  report.set("seconds", total);
  char buf[160];
  std::snprintf(buf, sizeof buf, "\nmachine: %s; build: %s\nrun took %.1f s; logs in %s\n",
                cpu_model().c_str(), ragperf::bench::build_description().c_str(), total,
                logs.string().c_str());
  table << buf;

  json j = report.to_json();
  for (auto& r : j["rows"]) {
    for (const auto& row : ordered) {
      if (row.name == r["name"]) r["from"] = row.from;
    }
    const GuideClaim* g = claim_for(r["name"].get<std::string>());
    r["guide_speedup"] = g ? g->speedup : "n/a";
  }
  (opt.json ? std::cerr : std::cout) << table.str() << std::flush;
  const std::string text = j.dump(2);
  if (opt.json) std::cout << text << std::endl;
  if (!opt.out.empty()) {
    std::ofstream f(opt.out);
    if (!f)
      throw ragperf::InputError("--out '" + opt.out + "' cannot be written; check the folder");
    f << text << "\n";
  }
  bool all_ok = true;
  for (const auto& c : children) all_ok = all_ok && c.status == "ok";
  if (!all_ok) ragperf::cli::exit_status() = 1;
}

void setup_all_bench(CLI::App& app) {
  CLI::App& bench = ragperf::cli::bench_command(app);
  auto opt = std::make_shared<Options>();
  bench.add_flag("--json", opt->json,
                 "Without a benchmark name: write every row as JSON on stdout (table on stderr)");
  bench.add_option("--out", opt->out, "Without a benchmark name: also write the JSON to this file");
  bench.add_flag("--quick", opt->quick,
                 "Without a benchmark name: pass --quick to the benchmarks that offer it");
  bench.add_option("--timeout", opt->timeout_s,
                   "Without a benchmark name: seconds each benchmark may run (default 600)");
  bench.add_option("--logs", opt->logs,
                   "Without a benchmark name: folder for each benchmark's log (default: a "
                   "temporary folder)");
  CLI::App* self = &bench;
  bench.callback([self, opt] {
    if (!self->get_subcommands().empty()) return;  // `ragperf bench <name>` ran its own
    run_all(*self, *opt);
  });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_all_bench);
