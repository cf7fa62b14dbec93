// `ragperf bench filter [--json] [--store local|pg|both] [--n 20000]`: filtered top-10 search
// at 1 %, 10 % and 50 % selectivity vs the same search unfiltered, in each store, with the
// filtered answers' recall@10 against exact filtered search (ragperf/filter.h). One row per store
// and selectivity: baseline = unfiltered p50, optimized = filtered p50 (a speedup below 1 is the
// filter's cost).
//
// Extras that justify the stores' choices:
// - local: exact scan over the matches vs HNSW with over-fetching, at each selectivity (the
//   crossover sets LocalStoreOptions::filter_exact_max);
// - pg: the same filters with the GIN / text_pattern_ops indexes of create_filter_indexes(), and
//   whether the planner then chose the HNSW index (EXPLAIN).
//
// PostgreSQL: DATABASE_URL, else a throwaway cluster (scripts/pg_start.sh). Data: embedding-like
// clustered vectors (bench/clustered_vectors.h), metadata {"b": i % 100, "tag": "t<i % 10>",
// "half": i % 2 == 0}.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "clustered_vectors.h"
#include "command.h"
#include "ragperf/config.h"
#include "ragperf/db_pool.h"
#include "ragperf/local_store.h"
#include "ragperf/pgvector_store.h"
#include "report.h"
#include "stats.h"
#include "throwaway_pg.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using ragperf::bench::median;
using ragperf::bench::percentile;

struct Options {
  bool json = false;
  std::string out;
  std::string store = "both";
  size_t n = 20000;
  size_t dim = 384;
  size_t queries = 50;
};

struct Selectivity {
  const char* name;  // "1pct"
  const char* where;
  double fraction;
};
constexpr Selectivity kSelectivities[] = {{"1pct", "meta.b = 7", 0.01},
                                          {"10pct", "meta.tag = 't3'", 0.10},
                                          {"50pct", "meta.half = true", 0.50}};

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string num(size_t n) {
  return std::to_string(n);
}

std::vector<ragperf::Chunk> make_chunks(const ragperf::bench::ClusteredVectors& data, size_t first,
                                        size_t n) {
  const std::vector<float> v = data.sample(n, static_cast<uint32_t>(first) + 1);
  std::vector<ragperf::Chunk> chunks(n);
  for (size_t j = 0; j < n; ++j) {
    const size_t i = first + j;
    ragperf::Chunk& c = chunks[j];
    c.id = std::string("c").append(num(i));
    c.text = std::string("synthetic chunk ").append(c.id);
    c.content_hash = c.id;
    c.metadata_json = std::string("{\"b\": ")
                          .append(num(i % 100))
                          .append(", \"tag\": \"t")
                          .append(num(i % 10))
                          .append("\", \"half\": ")
                          .append(i % 2 == 0 ? "true}" : "false}");
    const auto at = static_cast<std::ptrdiff_t>(j * data.dim());
    c.embedding.assign(v.begin() + at, v.begin() + at + static_cast<std::ptrdiff_t>(data.dim()));
  }
  return chunks;
}

void fill(ragperf::VectorStore& store, const std::string& table,
          const ragperf::bench::ClusteredVectors& data, size_t n) {
  store.ensure_collection(table, data.dim(), ragperf::Metric::kCosine, "synthetic");
  for (size_t b = 0; b < n; b += 2000)
    store.add(table, make_chunks(data, b, std::min<size_t>(2000, n - b)));
}

struct Timing {
  std::vector<double> seconds;
  double recall = 0;  // vs exact filtered search; 1 when not measured
  size_t short_answers = 0;
};

/// Times `opts` over every query; recall@10 against exact search with the same filter.
Timing time_search(ragperf::VectorStore& store, const std::string& table,
                   const std::vector<float>& queries, size_t dim,
                   const ragperf::SearchOptions& opts, bool with_recall) {
  Timing t;
  size_t found = 0, wanted = 0;
  const size_t nq = queries.size() / dim;
  for (size_t i = 0; i < nq; ++i) {
    std::span<const float> q(queries.data() + i * dim, dim);
    const auto t0 = Clock::now();
    const auto hits = store.search(table, q, opts);
    t.seconds.push_back(since(t0));
    t.short_answers += hits.size() < opts.top_k;
    if (with_recall) {
      ragperf::SearchOptions exact = opts;
      exact.exact = true;
      const auto truth = store.search(table, q, exact);
      for (const auto& h : hits) {
        found += static_cast<size_t>(std::count_if(
            truth.begin(), truth.end(), [&](const ragperf::Hit& e) { return e.id == h.id; }));
      }
      wanted += truth.size();
    }
  }
  t.recall = wanted ? static_cast<double>(found) / static_cast<double>(wanted) : 1.0;
  return t;
}

void report_store(ragperf::bench::Report& report, const std::string& store_name,
                  ragperf::VectorStore& store, const std::string& table,
                  const std::vector<float>& queries, size_t dim) {
  store.search(table, std::span<const float>(queries.data(), dim), {.top_k = 10});  // warm
  const Timing plain = time_search(store, table, queries, dim, {.top_k = 10}, false);
  report.set(store_name + "_unfiltered_p50_s", median(plain.seconds));
  for (const Selectivity& s : kSelectivities) {
    const Timing f = time_search(store, table, queries, dim, {.top_k = 10, .where = s.where}, true);
    char note[160];
    std::snprintf(note, sizeof note, "%s, recall@10 %.3f, p95 %s, short answers %zu", s.where,
                  f.recall, ragperf::bench::format_seconds(percentile(f.seconds, 95)).c_str(),
                  f.short_answers);
    report.add_row(store_name + "_filter_" + s.name + "_unfiltered_vs_filtered",
                   median(plain.seconds), median(f.seconds), note);
    report.set(store_name + "_filter_" + s.name + "_recall_at_10", f.recall);
    report.set(store_name + "_filter_" + s.name + "_p50_s", median(f.seconds));
    report.set(store_name + "_filter_" + s.name + "_p95_s", percentile(f.seconds, 95));
  }
}

void run_local(const Options& o, ragperf::bench::Report& report,
               const ragperf::bench::ClusteredVectors& data, const std::vector<float>& queries) {
  const fs::path dir =
      fs::temp_directory_path() / std::string("ragperf-bench-filter-").append(num(::getpid()));
  fs::remove_all(dir);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{dir};
  {
    ragperf::LocalStoreOptions lo;
    lo.ann_threshold = std::min<size_t>(lo.ann_threshold, o.n);  // HNSW whatever --n is
    ragperf::LocalStore store(dir, lo);
    fill(store, "bench", data, o.n);
    store.warm("bench");
    report_store(report, "local", store, "bench", queries, o.dim);
  }
  // The local store's crossover: every filtered search exact over its matches, or through HNSW.
  for (bool exact_scan : {true, false}) {
    ragperf::LocalStoreOptions lo;
    lo.ann_threshold = std::min<size_t>(lo.ann_threshold, o.n);
    lo.filter_exact_max = exact_scan ? o.n : 0;
    ragperf::LocalStore store(dir, lo);
    store.warm("bench");
    for (const Selectivity& s : kSelectivities) {
      store.search("bench", std::span<const float>(queries.data(), o.dim),
                   {.top_k = 10, .where = s.where});  // loads the match set and the matrix
      const Timing t =
          time_search(store, "bench", queries, o.dim, {.top_k = 10, .where = s.where}, !exact_scan);
      const std::string key =
          std::string("local_filter_")
              .append(s.name)
              .append(exact_scan ? "_exact_over_matches_p50_s" : "_hnsw_overfetch_p50_s");
      report.set(key, median(t.seconds));
      if (!exact_scan) {
        report.set(std::string("local_filter_").append(s.name).append("_hnsw_overfetch_recall"),
                   t.recall);
      }
    }
  }
}

void run_pg(const Options& o, ragperf::bench::Report& report,
            const ragperf::bench::ClusteredVectors& data, const std::vector<float>& queries) {
  ragperf::Settings settings = ragperf::load_settings();
  std::unique_ptr<ragperf::bench::ThrowawayServer> server;
  ragperf::bench::ensure_database(settings, server, "bench filter");
  ragperf::PoolConfig cfg = ragperf::PoolConfig::from_url(settings.database_url);
  cfg.min_size = 1;
  cfg.max_size = 2;
  auto pool = std::make_shared<ragperf::DatabaseConnectionPool>(cfg);
  ragperf::PgVectorStore store(pool);
  const std::string table = std::string("ragperf_bench_filter_").append(num(::getpid()));
  struct Drop {
    ragperf::PgVectorStore& s;
    const std::string& t;
    ~Drop() {
      try {
        s.drop(t);
      } catch (...) {
      }
    }
  } drop{store, table};
  fill(store, table, data, o.n);
  pool->run(pool->execute("ANALYZE " + table));
  report_store(report, "pg", store, table, queries, o.dim);
  store.create_filter_indexes(table);
  for (const Selectivity& s : kSelectivities) {
    const ragperf::SearchOptions opts{.top_k = 10, .where = s.where};
    const Timing t = time_search(store, table, queries, o.dim, opts, true);
    const std::string plan =
        store.explain_search(table, std::span<const float>(queries.data(), o.dim), opts);
    const std::string key = std::string("pg_filter_").append(s.name).append("_with_filter_index");
    report.set(key + "_p50_s", median(t.seconds));
    report.set(key + "_recall_at_10", t.recall);
    report.set(key + "_plan", plan.find("_embedding_idx") != std::string::npos ? "hnsw"
                              : plan.find("Bitmap") != std::string::npos       ? "gin bitmap + sort"
                                                                               : "other");
  }
  pool->close();
}

void run(const Options& o) {
  ragperf::bench::Report report("filter");
  ragperf::bench::ClusteredVectors data(o.dim, 7);
  const std::vector<float> queries = data.sample(o.queries, 999);
  if (o.store == "local" || o.store == "both") run_local(o, report, data, queries);
  if (o.store == "pg" || o.store == "both") run_pg(o, report, data, queries);
  report.set("n", o.n);
  report.set("dim", o.dim);
  report.set("queries", o.queries);
  report.note(std::to_string(o.n) + " chunks of dim " + std::to_string(o.dim) +
              ", top-10, p50 over " + std::to_string(o.queries) +
              " queries; recall@10 vs exact filtered search");
  report.note(ragperf::bench::build_description());
  report.emit(o.json, o.out);
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "filter", "Filtered vs unfiltered top-10 at 1/10/50 % selectivity, both stores, recall");
  auto o = std::make_shared<Options>();
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->add_option("--store", o->store, "local, pg or both (default both)")
      ->check(CLI::IsMember({"local", "pg", "both"}));
  cmd->add_option("--n", o->n, "Chunks (default 20000)")
      ->check(CLI::Range(size_t{1000}, size_t{1000000}));
  cmd->add_option("--dim", o->dim, "Vector dimension (default 384)")
      ->check(CLI::Range(size_t{8}, size_t{4096}));
  cmd->add_option("--queries", o->queries, "Timed queries per case (default 50)")
      ->check(CLI::Range(size_t{1}, size_t{10000}));
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
