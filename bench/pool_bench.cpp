// `ragperf bench pool`: DatabaseConnectionPool against DATABASE_URL (or a throwaway server started
// with scripts/pg_start.sh when it is unset).
//
// Rows (baseline vs optimized):
//   connection_new_vs_pooled        open + close a libpq connection  vs  pooled acquire + release
//   queries_10_unpooled_vs_pooled   10 queries, a new connection each  vs  10 pool.fetch()
// Extras: top-4 vector query (pgvector, seq scan over a generated table) at 10 concurrent callers
// through the pool (qps, p50, p99) and the same SQL run by pgbench -c 10 -M prepared, so the
// pool's overhead over the server's own limit is visible.
// --chaos: while the vector phase runs, the server terminates the pool's backends every 200 ms;
// the run must finish, counts failed calls, and checks that no connection is left open.
// GCC 12 reports a false -Wmismatched-new-delete for Asio coroutine frames inlined at -O1.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "ragperf/db_pool.h"  // first: Asio (see the pragma there)

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "ragperf/error.h"
#include "ragperf/pg_copy.h"
#include "report.h"
#include "stats.h"

namespace {

using ragperf::bench::median;
using ragperf::bench::percentile;

namespace fs = std::filesystem;
namespace asio = boost::asio;
using ragperf::DatabaseConnectionPool;
using ragperf::PoolConfig;
using ragperf::db::awaitable;
using Clock = std::chrono::steady_clock;

constexpr const char* kAppName = "ragperf_bench_pool";
constexpr const char* kTable = "ragperf_bench_vectors";
constexpr const char* kQueries = "ragperf_bench_queries";
constexpr int kClients = 10;

struct Options {
  bool json = false;
  std::string out;
  bool chaos = false;
  double duration_s = 3;
  int rows = 5000;
  int dim = 64;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::pair<int, std::string> run_shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  return {rc, out};
}

/// scripts/ of the source tree: from the working directory or above the binary.
fs::path scripts_dir() {
  std::vector<fs::path> starts = {fs::current_path()};
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  for (auto dir : starts)
    for (int up = 0; up < 6 && !dir.empty(); ++up, dir = dir.parent_path())
      if (fs::exists(dir / "scripts" / "pg_start.sh")) return dir / "scripts";
  throw ragperf::ConfigError(
      "DATABASE_URL is not set and scripts/pg_start.sh was not found; set DATABASE_URL or run "
      "from the source tree");
}

/// A throwaway server when DATABASE_URL is unset; stopped on destruction.
struct Server {
  std::string url;
  std::string dir;
  ~Server() {
    if (!dir.empty()) run_shell(shell_quote((scripts_dir() / "pg_stop.sh").string()) + " " + dir);
  }
};

// ---- the two guide rows ----------------------------------------------------------------------

std::string conninfo(const PoolConfig& c) {
  auto kv = [](const char* k, const std::string& v) {
    return std::string(k) + "=" + shell_quote(v) + " ";
  };
  return kv("host", c.host) + kv("port", std::to_string(c.port)) + kv("dbname", c.database) +
         kv("user", c.user) + kv("password", c.password) +
         kv("application_name", "ragperf_bench_raw");
}

/// Blocking connect + close: what a connection-per-call client pays.
double new_connection_s(const std::string& info) {
  const auto t0 = Clock::now();
  PGconn* c = PQconnectdb(info.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    throw ragperf::ConnectionError("bench pool: cannot connect: " + m);
  }
  PQfinish(c);
  return seconds_since(t0);
}

double unpooled_queries_s(const std::string& info, int n) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    PGconn* c = PQconnectdb(info.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string m = PQerrorMessage(c);
      PQfinish(c);
      throw ragperf::ConnectionError("bench pool: cannot connect: " + m);
    }
    PGresult* r = PQexec(c, "SELECT 1");
    PQclear(r);
    PQfinish(c);
  }
  return seconds_since(t0);
}

awaitable<std::vector<double>> pooled_acquire_times(DatabaseConnectionPool& pool, int n) {
  std::vector<double> t;
  t.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    { auto conn = co_await pool.acquire(); }
    t.push_back(seconds_since(t0));
  }
  co_return t;
}

awaitable<double> pooled_queries_s(DatabaseConnectionPool& pool, int n) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) co_await pool.fetch("SELECT 1");
  co_return seconds_since(t0);
}

// ---- vector queries --------------------------------------------------------------------------

std::string vector_sql() {
  return std::string("SELECT id FROM ") + kTable +
         " ORDER BY embedding <-> (SELECT embedding FROM " + kQueries + " WHERE id = $1) LIMIT 4";
}

awaitable<void> create_tables(DatabaseConnectionPool& pool, int rows, int dim) {
  auto conn = co_await pool.acquire();
  co_await conn.execute(std::string("DROP TABLE IF EXISTS ") + kTable + ", " + kQueries);
  const std::string vec = "vector(" + std::to_string(dim) + ")";
  co_await conn.execute(std::string("CREATE TABLE ") + kTable + " (id int8, embedding " + vec +
                        ")");
  co_await conn.execute(std::string("CREATE TABLE ") + kQueries +
                        " (id int8 PRIMARY KEY, embedding " + vec + ")");
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(dim));
  for (const char* table : {kTable, kQueries}) {
    ragperf::db::BinaryCopyWriter w;
    const int n = table == kTable ? rows : 100;
    for (int i = 1; i <= n; ++i) {
      for (auto& x : v) x = nd(rng);
      w.begin_row(2);
      w.add_int8(i);
      w.add_vector(v);
    }
    w.finish();
    co_await conn.copy_from(
        std::string("COPY ") + table + " (id, embedding) FROM STDIN (FORMAT BINARY)", w.data());
  }
  co_await conn.execute(std::string("ANALYZE ") + kTable);
}

struct Load {
  std::vector<double> latencies;
  int failed = 0;
};

awaitable<void> vector_client(DatabaseConnectionPool& pool, Clock::time_point until, unsigned seed,
                              Load& load) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> qid(1, 100);
  const std::string sql = vector_sql();
  while (Clock::now() < until) {
    const auto t0 = Clock::now();
    try {
      auto r = co_await pool.fetch(sql, qid(rng));
      if (r.rows() != 4) ++load.failed;
      load.latencies.push_back(seconds_since(t0));
    } catch (const ragperf::Error&) {
      ++load.failed;
    }
  }
}

double pgbench_qps(const PoolConfig& c, double duration_s, const Options& o, std::string& detail) {
  const std::string bin = "/usr/lib/postgresql/15/bin/pgbench";
  if (!fs::exists(bin)) {
    detail = "pgbench not found at " + bin + " (postgresql-15 client)";
    return 0;
  }
  char tmpl[] = "/tmp/ragperf_pgbench_XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw ragperf::InputError("bench pool: cannot create a temporary pgbench script");
  ::close(fd);
  {
    std::ofstream f(tmpl);
    f << "\\set qid random(1, 100)\n"
      << "SELECT id FROM " << kTable << " ORDER BY embedding <-> (SELECT embedding FROM "
      << kQueries << " WHERE id = :qid) LIMIT 4;\n";
  }
  const std::string cmd = "PGPASSWORD=" + shell_quote(c.password) + " " + bin +
                          " -n -M prepared -c " + std::to_string(kClients) + " -j 2 -T " +
                          std::to_string(std::max(1, static_cast<int>(std::lround(duration_s)))) +
                          " -h " + shell_quote(c.host) + " -p " + std::to_string(c.port) + " -U " +
                          shell_quote(c.user) + " -f " + tmpl + " " + shell_quote(c.database);
  auto [rc, out] = run_shell(cmd);
  std::remove(tmpl);
  (void)o;
  const auto at = out.find("tps = ");
  if (rc != 0 || at == std::string::npos) {
    detail = "pgbench failed: " + out.substr(0, 300);
    return 0;
  }
  return std::strtod(out.c_str() + at + 6, nullptr);
}

int64_t open_connections(DatabaseConnectionPool& observer) {
  auto r = observer.run(observer.fetch(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", kAppName));
  return r[0]["n"].as_int();
}

void run(const Options& o) {
  Server server;
  const char* env = std::getenv("DATABASE_URL");
  if (env && *env) {
    server.url = env;
  } else {
    char tmpl[] = "/tmp/ragperf_bench_pg_XXXXXX";
    if (!::mkdtemp(tmpl)) throw ragperf::InputError("bench pool: cannot create a temporary folder");
    server.dir = tmpl;
    auto [rc, out] =
        run_shell(shell_quote((scripts_dir() / "pg_start.sh").string()) + " " + server.dir);
    if (rc != 0) throw ragperf::ConnectionError("bench pool: scripts/pg_start.sh failed: " + out);
    server.url = out.substr(0, out.find('\n'));
  }
  PoolConfig cfg = PoolConfig::from_url(server.url);
  cfg.min_size = kClients;
  cfg.max_size = kClients;
  cfg.application_name = kAppName;
  cfg.acquire_timeout = std::chrono::duration<double>(5);
  cfg.connect_timeout = std::chrono::duration<double>(5);
  PoolConfig observer_cfg = cfg;
  observer_cfg.min_size = 1;
  observer_cfg.max_size = 1;
  observer_cfg.application_name = "ragperf_bench_observer";
  DatabaseConnectionPool observer(observer_cfg);

  ragperf::bench::Report report("pool");
  const std::string info = conninfo(cfg);
  {
    DatabaseConnectionPool pool(cfg);
    pool.initialize();

    // Row 1: a new connection per call vs a pooled acquire (medians).
    std::vector<double> fresh;
    for (int i = 0; i < 30; ++i) fresh.push_back(new_connection_s(info));
    auto acquire = pool.run(pooled_acquire_times(pool, 20000));
    const double acquire_p50 = percentile(acquire, 50);
    report.add_row("connection_new_vs_pooled", percentile(fresh, 50), acquire_p50,
                   "target: pooled acquire <= 10 us p50");
    report.set("pooled_acquire_p50_s", acquire_p50);
    report.set("pooled_acquire_p99_s", percentile(acquire, 99));
    report.set("new_connection_p50_s", percentile(fresh, 50));

    // Row 2: 10 queries, each on a new connection vs through the pool.
    std::vector<double> unpooled, pooled;
    for (int rep = 0; rep < 7; ++rep) {
      unpooled.push_back(unpooled_queries_s(info, 10));
      pooled.push_back(pool.run(pooled_queries_s(pool, 10)));
    }
    report.add_row("queries_10_unpooled_vs_pooled", percentile(unpooled, 50),
                   percentile(pooled, 50), "target: >= 5x");

    // Vector queries at 10 concurrent callers.
    pool.run(create_tables(pool, o.rows, o.dim));
    for (int i = 0; i < 200; ++i) pool.run(pool.fetch(vector_sql(), 1 + i % 100));  // warm up
    std::vector<Load> loads(kClients);
    std::atomic<int64_t> killed{0};
    std::atomic<bool> stop_killer{false};
    std::thread killer;
    if (o.chaos) {
      killer = std::thread([&] {
        while (!stop_killer) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          try {
            auto r = observer.run(observer.fetch(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE "
                "application_name = $1",
                kAppName));
            killed += r[0]["n"].as_int();
          } catch (const ragperf::Error&) {
          }
        }
      });
    }
    const auto t0 = Clock::now();
    const auto until = t0 + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(o.duration_s));
    std::vector<std::future<void>> clients;
    for (int c = 0; c < kClients; ++c)
      clients.push_back(pool.spawn(vector_client(pool, until, 1000u + static_cast<unsigned>(c),
                                                 loads[static_cast<size_t>(c)])));
    for (auto& f : clients) f.get();
    const double elapsed = seconds_since(t0);
    stop_killer = true;
    if (killer.joinable()) killer.join();
    std::vector<double> all;
    int failed = 0;
    for (auto& l : loads) {
      all.insert(all.end(), l.latencies.begin(), l.latencies.end());
      failed += l.failed;
    }
    const double qps = static_cast<double>(all.size()) / elapsed;
    report.set("vector_query_qps_c10", qps);
    report.set("vector_query_p50_s", percentile(all, 50));
    report.set("vector_query_p99_s", percentile(all, 99));
    const auto stats = pool.get_stats();
    report.set("pool_total_queries", stats.total_queries);
    report.set("pool_connections_lost", stats.connections_lost);
    report.set("pool_queries_retried", stats.queries_retried);
    if (o.chaos) {
      report.set("chaos_backends_killed", killed.load());
      report.set("chaos_failed_calls", failed);
      report.set("chaos_ok_calls", static_cast<int64_t>(all.size()));
    }
    pool.close(std::chrono::seconds(5));
  }
  // No connection of the pool may survive close().
  int64_t left = -1;
  for (int i = 0; i < 100 && (left = open_connections(observer)) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  report.set("connections_left_open", left);

  std::string detail;
  const double pg_qps = o.chaos ? 0 : pgbench_qps(cfg, o.duration_s, o, detail);
  if (!o.chaos) {
    report.set("pgbench_qps_c10", pg_qps);
    if (pg_qps > 0) {
      const double pool_qps = report.to_json()["vector_query_qps_c10"].get<double>();
      report.set("pool_vs_pgbench", pool_qps / pg_qps);
    }
  }
  if (!detail.empty()) report.note(detail);
  observer.run(observer.execute(std::string("DROP TABLE IF EXISTS ") + kTable + ", " + kQueries));
  report.note(
      "vector query: top-4 by L2 over " + std::to_string(o.rows) + " random " +
      std::to_string(o.dim) + "-d vectors (seq scan), " + std::to_string(kClients) +
      " concurrent callers for " + std::to_string(o.duration_s).substr(0, 4) +
      " s; pgbench runs the same SQL with -c 10 -j 2 -M prepared; target: pool >= 90% of pgbench");
  if (o.chaos) report.note("chaos: backends terminated every 200 ms during the vector phase");
  report.note(ragperf::bench::build_description());
  report.emit(o.json, o.out);
  if (left != 0)
    throw ragperf::ConnectionError("bench pool: " + std::to_string(left) +
                                   " pool connections still open after close()");
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "pool",
      "DatabaseConnectionPool: new vs pooled connections, 10 queries, vector-query throughput vs "
      "pgbench");
  auto o = std::make_shared<Options>();
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->add_flag(
      "--chaos", o->chaos,
      "Terminate the pool's backends every 200 ms during the vector phase; count failed calls");
  cmd->add_option("--duration", o->duration_s, "Seconds of the vector-query phase (default 3)")
      ->check(CLI::Range(0.2, 600.0));
  cmd->add_option("--rows", o->rows, "Rows in the generated vector table (default 5000)")
      ->check(CLI::Range(10, 10000000));
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
