// `ragperf bench halfvec [--n 20000] [--dim 384] [--queries 100]`: PostgreSQL + pgvector tables
// with float32 (`vector`) and float16 (`halfvec`) embeddings holding the same chunks: HNSW index
// and table size, top-10 ANN latency, and recall@10 against exact float32 search. Row:
// baseline = vector p50, optimized = halfvec p50. DATABASE_URL, else a throwaway cluster.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "clustered_vectors.h"
#include "command.h"
#include "ragperf/config.h"
#include "ragperf/db_pool.h"
#include "ragperf/pgvector_store.h"
#include "report.h"
#include "stats.h"
#include "throwaway_pg.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool json = false;
  std::string out;
  size_t n = 20000;
  size_t dim = 384;
  size_t queries = 100;
};

struct Measured {
  std::vector<double> seconds;
  double recall = 0;
  long long index_bytes = 0;
  long long total_bytes = 0;
};

void run(const Options& o) {
  ragperf::Settings settings = ragperf::load_settings();
  std::unique_ptr<ragperf::bench::ThrowawayServer> server;
  ragperf::bench::ensure_database(settings, server, "bench halfvec");
  ragperf::PoolConfig cfg = ragperf::PoolConfig::from_url(settings.database_url);
  cfg.min_size = 1;
  cfg.max_size = 2;
  auto pool = std::make_shared<ragperf::DatabaseConnectionPool>(cfg);
  ragperf::bench::ClusteredVectors data(o.dim, 7);
  const std::vector<float> queries = data.sample(o.queries, 999);
  const std::string pid = std::to_string(::getpid());
  ragperf::PgVectorStore full(pool);
  ragperf::PgVectorStoreOptions half_options;
  half_options.storage = "halfvec";
  ragperf::PgVectorStore half(pool, half_options);
  const std::string full_table = std::string("ragperf_bench_vector_").append(pid);
  const std::string half_table = std::string("ragperf_bench_halfvec_").append(pid);
  struct Drop {
    ragperf::PgVectorStore& a;
    ragperf::PgVectorStore& b;
    const std::string& ta;
    const std::string& tb;
    ~Drop() {
      try {
        a.drop(ta);
        b.drop(tb);
      } catch (...) {
      }
    }
  } drop{full, half, full_table, half_table};
  full.ensure_collection(full_table, o.dim, ragperf::Metric::kCosine, "synthetic");
  half.ensure_collection(half_table, o.dim, ragperf::Metric::kCosine, "synthetic");
  for (size_t b = 0; b < o.n; b += 2000) {
    const size_t m = std::min<size_t>(2000, o.n - b);
    const std::vector<float> v = data.sample(m, static_cast<uint32_t>(b) + 1);
    std::vector<ragperf::Chunk> chunks(m);
    for (size_t i = 0; i < m; ++i) {
      chunks[i].id = std::string("c").append(std::to_string(b + i));
      chunks[i].text = chunks[i].id;
      const auto at = static_cast<std::ptrdiff_t>(i * o.dim);
      chunks[i].embedding.assign(v.begin() + at,
                                 v.begin() + at + static_cast<std::ptrdiff_t>(o.dim));
    }
    full.add(full_table, chunks);
    half.add(half_table, chunks);
  }
  for (const auto* t : {&full_table, &half_table}) pool->run(pool->execute("ANALYZE " + *t));

  auto measure = [&](ragperf::PgVectorStore& store, const std::string& table) {
    Measured m;
    size_t found = 0;
    for (size_t i = 0; i < o.queries; ++i) {
      std::span<const float> q(queries.data() + i * o.dim, o.dim);
      const auto t0 = Clock::now();
      const auto hits = store.search(table, q, {.top_k = 10});
      m.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      const auto truth = full.search(full_table, q, {.top_k = 10, .exact = true});
      for (const auto& h : hits) {
        found += static_cast<size_t>(std::count_if(
            truth.begin(), truth.end(), [&](const ragperf::Hit& e) { return e.id == h.id; }));
      }
    }
    m.recall = static_cast<double>(found) / (10.0 * static_cast<double>(o.queries));
    auto sizes = pool->run(pool->fetch(
        "SELECT pg_relation_size(to_regclass($1)), pg_total_relation_size(to_regclass($2))",
        table + "_embedding_idx", table));
    m.index_bytes = sizes[0][0].as_int();
    m.total_bytes = sizes[0][1].as_int();
    return m;
  };
  full.search(full_table, std::span<const float>(queries.data(), o.dim), {.top_k = 10});  // warm
  half.search(half_table, std::span<const float>(queries.data(), o.dim), {.top_k = 10});
  const Measured f = measure(full, full_table);
  const Measured h = measure(half, half_table);

  ragperf::bench::Report report("halfvec");
  char note[200];
  std::snprintf(note, sizeof note, "recall@10 %.3f vs %.3f; HNSW index %.1f vs %.1f MiB", f.recall,
                h.recall, static_cast<double>(f.index_bytes) / 1048576.0,
                static_cast<double>(h.index_bytes) / 1048576.0);
  report.add_row("pg_search_" + std::to_string(o.n / 1000) + "k_vector_vs_halfvec",
                 ragperf::bench::median(f.seconds), ragperf::bench::median(h.seconds), note);
  report.set("vector_recall_at_10", f.recall);
  report.set("halfvec_recall_at_10", h.recall);
  report.set("vector_index_bytes", f.index_bytes);
  report.set("halfvec_index_bytes", h.index_bytes);
  report.set("vector_total_bytes", f.total_bytes);
  report.set("halfvec_total_bytes", h.total_bytes);
  report.set("vector_p95_s", ragperf::bench::percentile(f.seconds, 95));
  report.set("halfvec_p95_s", ragperf::bench::percentile(h.seconds, 95));
  report.set("n", o.n);
  report.set("dim", o.dim);
  report.note(std::to_string(o.n) + " chunks of dim " + std::to_string(o.dim) +
              ", top-10 ANN (hnsw.ef_search 100), p50 over " + std::to_string(o.queries) +
              " queries; recall@10 vs exact float32 search");
  report.note(ragperf::bench::build_description());
  report.emit(o.json, o.out);
  pool->close();
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "halfvec", "PostgreSQL: float32 vector vs float16 halfvec tables (size, latency, recall)");
  auto o = std::make_shared<Options>();
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->add_option("--n", o->n, "Chunks (default 20000)")
      ->check(CLI::Range(size_t{1000}, size_t{1000000}));
  cmd->add_option("--dim", o->dim, "Vector dimension (default 384)")
      ->check(CLI::Range(size_t{8}, size_t{4000}));
  cmd->add_option("--queries", o->queries, "Timed queries (default 100)")
      ->check(CLI::Range(size_t{1}, size_t{10000}));
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
