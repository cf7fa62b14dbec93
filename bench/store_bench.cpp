// `ragperf bench store [--json]`: LocalStore exact (brute force) vs HNSW search latency and
// recall@10 on a 50k-chunk synthetic collection, the cost of building the index vs reopening
// with the persisted one, and the time to open a 100k-chunk store and answer its first query.
//
// Data: embedding-like vectors (bench/clustered_vectors.h, fixed seeds), cosine metric.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "clustered_vectors.h"
#include "command.h"
#include "ragperf/local_store.h"
#include "report.h"
#include "stats.h"

namespace {

using ragperf::bench::median;
using ragperf::bench::percentile;

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Options {
  bool json = false;
  std::string out;
  size_t n = 50000;
  size_t dim = 384;
  size_t queries = 200;
  size_t open_n = 100000;
  std::string dir;  // default: a fresh temp folder, removed afterwards
};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

using Data = ragperf::bench::ClusteredVectors;

/// Adds `n` chunks (ids from `first`) in batches of 2000; returns the seconds spent.
double fill(ragperf::LocalStore& store, const std::string& table, const Data& data, size_t first,
            size_t n, size_t dim, uint32_t seed) {
  double spent = 0;
  for (size_t b = 0; b < n; b += 2000) {
    size_t m = std::min<size_t>(2000, n - b);
    std::vector<float> v = data.sample(m, seed + static_cast<uint32_t>(b));
    std::vector<ragperf::Chunk> chunks(m);
    for (size_t i = 0; i < m; ++i) {
      auto& c = chunks[i];
      c.id = std::string("c").append(std::to_string(first + b + i));
      c.text = std::string("synthetic chunk ").append(c.id);
      c.content_hash = c.id;
      c.embedding.assign(v.begin() + static_cast<long>(i * dim),
                         v.begin() + static_cast<long>((i + 1) * dim));
    }
    auto t0 = Clock::now();
    store.add(table, chunks);
    spent += since(t0);
  }
  return spent;
}

void run(const Options& o) {
  fs::path dir = o.dir.empty() ? fs::temp_directory_path() /
                                     ("ragperf-bench-store-" + std::to_string(::getpid()))
                               : fs::path(o.dir);
  fs::remove_all(dir);
  struct Cleanup {
    fs::path p;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(p, ec);
    }
  } cleanup{dir, !o.dir.empty()};

  ragperf::bench::Report report("store");
  Data data(o.dim, 7);
  const std::string table = "bench";
  std::vector<float> queries = data.sample(o.queries, 999);
  auto query = [&](size_t i) { return std::span<const float>(queries.data() + i * o.dim, o.dim); };

  double ingest_s = 0, build_s = 0;
  std::vector<double> exact_s, ann_s;
  size_t found = 0;
  {
    ragperf::LocalStore store(dir);
    store.ensure_collection(table, o.dim, ragperf::Metric::kCosine, "synthetic");
    ingest_s = fill(store, table, data, 0, o.n, o.dim, 1);
    auto t0 = Clock::now();
    store.warm(table);  // builds the HNSW index (and loads the matrix) and persists the index
    build_s = since(t0);
    for (size_t i = 0; i < o.queries; ++i) {
      auto t1 = Clock::now();
      auto exact = store.search(table, query(i), {.top_k = 10, .exact = true});
      exact_s.push_back(since(t1));
      auto t2 = Clock::now();
      auto ann = store.search(table, query(i), {.top_k = 10});
      ann_s.push_back(since(t2));
      for (const auto& h : ann) {
        found += static_cast<size_t>(std::count_if(
            exact.begin(), exact.end(), [&](const ragperf::Hit& e) { return e.id == h.id; }));
      }
    }
  }
  double recall = static_cast<double>(found) / (10.0 * static_cast<double>(o.queries));
  report.add_row("search_" + std::to_string(o.n / 1000) + "k_exact_vs_hnsw", median(exact_s),
                 median(ann_s), "median latency of one top-10 query");

  // Reopen: the persisted index replaces a rebuild.
  double reopen_first_s = 0;
  {
    auto t0 = Clock::now();
    ragperf::LocalStore store(dir);
    store.search(table, query(0), {.top_k = 10});
    reopen_first_s = since(t0);
  }
  report.add_row("first_query_" + std::to_string(o.n / 1000) + "k_rebuild_vs_persisted_index",
                 build_s, reopen_first_s, "open + first ANN query; baseline builds the index");

  // A 100k store: open, first ANN query (loads the persisted index), first exact query.
  double open_s = 0, first_ann_s = 0, first_exact_s = 0, grow_s = 0;
  if (o.open_n > o.n) {
    {
      ragperf::LocalStore store(dir);
      store.warm(table);
      auto t0 = Clock::now();
      fill(store, table, data, o.n, o.open_n - o.n, o.dim, 2);
      grow_s = since(t0);  // includes incremental index inserts; the destructor persists it
    }
    auto t0 = Clock::now();
    ragperf::LocalStore store(dir);
    auto info = store.collection(table);
    open_s = since(t0);
    auto t1 = Clock::now();
    store.search(table, query(1), {.top_k = 10});
    first_ann_s = since(t1);
    auto t2 = Clock::now();
    store.search(table, query(1), {.top_k = 10, .exact = true});
    first_exact_s = since(t2);
    report.set("open_" + std::to_string(o.open_n / 1000) + "k_s", open_s);
    report.set("open_" + std::to_string(o.open_n / 1000) + "k_first_ann_query_s", first_ann_s);
    report.set("open_" + std::to_string(o.open_n / 1000) + "k_first_exact_query_s", first_exact_s);
    report.set("grow_to_" + std::to_string(o.open_n / 1000) + "k_s", grow_s);
    (void)info;
  }
  report.set("recall_at_10", recall);
  report.set("exact_p50_s", median(exact_s));
  report.set("hnsw_p50_s", median(ann_s));
  report.set("index_build_s", build_s);
  report.set("ingest_chunks_per_s", static_cast<double>(o.n) / ingest_s);
  report.set("n", o.n);
  report.set("dim", o.dim);
  report.note("recall@10 of HNSW vs exact: " + std::to_string(recall) + " over " +
              std::to_string(o.queries) + " queries (M=16, ef_construction=100, ef_search=96)");
  report.note("ingest " + std::to_string(static_cast<size_t>(o.n / ingest_s)) +
              " chunks/s into SQLite (batches of 2000, WAL, synchronous=FULL)");
  if (o.open_n > o.n) {
    report.note(std::to_string(o.open_n) + "-chunk store: open " +
                ragperf::bench::format_seconds(open_s) + ", first HNSW query " +
                ragperf::bench::format_seconds(first_ann_s) +
                " (loads the persisted index), "
                "first exact query " +
                ragperf::bench::format_seconds(first_exact_s) + " (loads the vectors)");
  }
  report.note(ragperf::bench::build_description());
  report.emit(o.json, o.out);
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "store",
      "LocalStore: exact vs HNSW search (latency, recall@10), index persistence, open "
      "time of a 100k store");
  auto o = std::make_shared<Options>();
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->add_option("--n", o->n, "Chunks in the search collection (default 50000)")
      ->check(CLI::Range(size_t{1000}, size_t{5000000}));
  cmd->add_option("--dim", o->dim, "Vector dimension (default 384)")
      ->check(CLI::Range(size_t{8}, size_t{4096}));
  cmd->add_option("--queries", o->queries, "Timed queries (default 200)")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  cmd->add_option("--open-n", o->open_n,
                  "Chunks in the store whose open time is measured (default 100000; <= --n "
                  "skips it)");
  cmd->add_option("--dir", o->dir, "Keep the store in this folder (default: a temp folder)");
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
