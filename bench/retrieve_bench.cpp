// `ragperf bench retrieve [--json] [--out FILE]`: the guide's "3 table retrieval sequential vs
// parallel" row against PostgreSQL + pgvector (DATABASE_URL, else a throwaway cluster started
// with scripts/pg_start.sh), exact vs ANN latency and recall@10 (LocalStore's HNSW and pgvector's
// HNSW), and ingest throughput split into embedding and storing.
//
// Vectors are synthetic (a mixture of Gaussian clusters, L2-normalised, fixed seed) so the row
// needs no model; the ingest part uses the GloVe demo model (or --model) on the PostgreSQL
// manual (or --corpus) and is skipped with a note when either is missing.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <set>

#include "command.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/local_store.h"
#include "ragperf/pgvector_store.h"
#include "ragperf/retriever.h"
#include "report.h"
#include "stats.h"
#include "throwaway_pg.h"

namespace {

using ragperf::bench::median;
using ragperf::bench::percentile;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct BenchArgs {
  bool json = false;
  std::string out;
  size_t rows = 10000;        // chunks per PostgreSQL table
  size_t local_rows = 50000;  // chunks in the LocalStore collection (HNSW above 20k)
  size_t queries = 200;
  size_t dim = 100;
  size_t repeats = 5;
  std::string model;   // ingest model; default: the GloVe demo model when prepared
  std::string corpus;  // ingest corpus; default: the PostgreSQL manual
  size_t ingest_files = 300;
};

// Deterministic vectors: `n_clusters` random centres, points = centre + noise, normalised.
class SyntheticVectors {
 public:
  SyntheticVectors(size_t dim, size_t n_clusters, uint64_t seed) : dim_(dim), rng_(seed) {
    std::normal_distribution<float> normal(0, 1);
    centres_.resize(n_clusters * dim);
    for (float& x : centres_) x = normal(rng_);
  }
  std::vector<float> next() {
    std::normal_distribution<float> normal(0, 0.35f);
    std::uniform_int_distribution<size_t> pick(0, centres_.size() / dim_ - 1);
    const size_t c = pick(rng_);
    std::vector<float> v(dim_);
    double norm = 0;
    for (size_t d = 0; d < dim_; ++d) {
      v[d] = centres_[c * dim_ + d] + normal(rng_);
      norm += static_cast<double>(v[d]) * v[d];
    }
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
    return v;
  }

 private:
  size_t dim_;
  std::mt19937_64 rng_;
  std::vector<float> centres_;
};

// The model the synthetic tables record; texts are never embedded (retrieve_by_vector).
class SyntheticModel : public ragperf::EmbeddingModel {
 public:
  explicit SyntheticModel(size_t dim) : dim_(dim) {}
  size_t dim() const override { return dim_; }
  std::string id() const override { return "bench:synthetic-" + std::to_string(dim_); }
  size_t max_tokens() const override { return 512; }
  size_t count_tokens(std::string_view text) const override { return text.size() / 4 + 2; }
  ragperf::EmbeddingMatrix embed(std::span<const std::string> texts,
                                 std::vector<size_t>* token_counts) override {
    ragperf::EmbeddingMatrix m{texts.size(), dim_, std::vector<float>(texts.size() * dim_)};
    for (size_t i = 0; i < texts.size(); ++i) {
      SyntheticVectors v(dim_, 1, std::hash<std::string>{}(texts[i]));
      auto row = v.next();
      std::copy(row.begin(), row.end(), m.row(i).begin());
      if (token_counts) token_counts->push_back(count_tokens(texts[i]));
    }
    return m;
  }

 private:
  size_t dim_;
};

void fill(ragperf::VectorStore& store, const std::string& table, size_t n, size_t dim,
          uint64_t seed, const std::string& model_id) {
  store.ensure_collection(table, dim, ragperf::Metric::kCosine, model_id);
  const size_t have = store.count(table);
  if (have == n) return;  // reused from an earlier run
  if (have != 0) {
    store.drop(table);
    store.ensure_collection(table, dim, ragperf::Metric::kCosine, model_id);
  }
  SyntheticVectors gen(dim, 64, seed);
  std::vector<ragperf::Chunk> batch;
  for (size_t i = 0; i < n; ++i) {
    ragperf::Chunk c;
    c.id = table + "-" + std::to_string(i);
    c.text = "chunk " + std::to_string(i) + " of " + table;
    c.embedding = gen.next();
    batch.push_back(std::move(c));
    if (batch.size() == 2000 || i + 1 == n) {
      store.add(table, batch);
      batch.clear();
    }
  }
}

// Recall@10 of ANN against exact search, and the median latency of each, on one table.
struct AnnFigures {
  double exact_s = 0, ann_s = 0, recall = 0;
};

AnnFigures exact_vs_ann(ragperf::VectorStore& store, const std::string& table,
                        const std::vector<std::vector<float>>& queries) {
  AnnFigures f;
  std::vector<double> exact_t, ann_t;
  size_t found = 0, wanted = 0;
  for (const auto& q : queries) {
    Clock::time_point t0 = Clock::now();
    auto exact = store.search(table, q, {.top_k = 10, .exact = true});
    exact_t.push_back(seconds_since(t0));
    t0 = Clock::now();
    auto ann = store.search(table, q, {.top_k = 10});
    ann_t.push_back(seconds_since(t0));
    std::set<std::string> truth;
    for (const auto& h : exact) truth.insert(h.id);
    for (const auto& h : ann) found += truth.count(h.id);
    wanted += truth.size();
  }
  f.exact_s = median(exact_t);
  f.ann_s = median(ann_t);
  f.recall = wanted ? static_cast<double>(found) / static_cast<double>(wanted) : 0;
  return f;
}

void ingest_throughput(const BenchArgs& args, const ragperf::Settings& settings,
                       const std::shared_ptr<ragperf::VectorStore>& store, const std::string& where,
                       ragperf::bench::Report& report) {
  fs::path corpus = args.corpus.empty() ? "/usr/share/doc/postgresql-doc-15/html" : args.corpus;
  std::string model_name = args.model;
  if (model_name.empty()) {
    const fs::path demo = settings.home / "models" / "glove-6b-100d";
    if (fs::exists(demo / "vectors.txt")) model_name = demo.string();
  }
  if (model_name.empty() || !fs::exists(corpus)) {
    report.note("ingest (" + where + "): skipped (needs --model or the GloVe demo model from " +
                "`ragperf demo`, and --corpus or postgresql-doc-15)");
    return;
  }
  std::vector<fs::path> files;
  for (const auto& f : ragperf::collect_files(std::vector<fs::path>{corpus})) {
    if (ragperf::format_for_path(f)) files.push_back(f);
    if (files.size() == args.ingest_files) break;
  }
  std::shared_ptr<ragperf::EmbeddingModel> model =
      ragperf::load_embedding_model(model_name, settings);
  ragperf::IngestOptions options;
  options.table = "ragperf_bench_ingest";
  store->drop(options.table);
  ragperf::IngestPipeline pipeline(model, store, options);
  ragperf::IngestStats s = pipeline.run(files);
  store->drop(options.table);
  const std::string key = "ingest_" + where;
  report.set(key, {{"files", s.n_files_ingested},
                   {"chunks", s.n_chunks},
                   {"model", model->id()},
                   {"total_s", s.total_s},
                   {"chunks_per_s", s.chunks_per_s()},
                   {"read_s", s.read_s},
                   {"embed_s", s.embed_s},
                   {"store_s", s.store_s},
                   {"embed_chunks_per_s", s.embed_s > 0 ? double(s.n_chunks) / s.embed_s : 0},
                   {"store_chunks_per_s", s.store_s > 0 ? double(s.n_chunks) / s.store_s : 0}});
  char line[256];
  std::snprintf(line, sizeof line,
                "ingest (%s): %zu chunks from %zu files in %.2f s = %.0f chunks/s; embedding "
                "%.0f chunks/s (%.2f s), storing %.0f chunks/s (%.2f s), reading %.2f s",
                where.c_str(), s.n_chunks, s.n_files_ingested, s.total_s, s.chunks_per_s(),
                s.embed_s > 0 ? double(s.n_chunks) / s.embed_s : 0.0, s.embed_s,
                s.store_s > 0 ? double(s.n_chunks) / s.store_s : 0.0, s.store_s, s.read_s);
  report.note(line);
}

void run_bench(const BenchArgs& args) {
  if (args.rows == 0 || args.queries == 0 || args.dim == 0 || args.repeats == 0) {
    throw ragperf::InputError("--rows, --queries, --dim and --repeats must be >= 1");
  }
  ragperf::Settings settings = ragperf::load_settings();
  ragperf::bench::Report report("retrieve");
  std::unique_ptr<ragperf::bench::ThrowawayServer> server;
  ragperf::bench::ensure_database(settings, server, "bench retrieve");
  auto model = std::make_shared<SyntheticModel>(args.dim);
  std::shared_ptr<ragperf::VectorStore> pg = ragperf::open_pgvector_store(settings);
  const std::vector<std::string> tables = {"ragperf_bench_t1", "ragperf_bench_t2",
                                           "ragperf_bench_t3"};
  std::cerr << "bench retrieve: loading 3 tables x " << args.rows << " vectors (dim " << args.dim
            << ") into " << pg->describe() << " ..." << std::endl;
  for (size_t t = 0; t < tables.size(); ++t) {
    fill(*pg, tables[t], args.rows, args.dim, 100 + t, model->id());
  }
  SyntheticVectors qgen(args.dim, 64, 100);  // queries from the same clusters as table 1
  std::vector<std::vector<float>> queries;
  for (size_t i = 0; i < args.queries; ++i) queries.push_back(qgen.next());

  // 3 tables: sequential (one search after the other, then the same merge) vs ParallelRetriever.
  ragperf::ParallelRetriever retriever(pg, model, tables, args.dim);
  ragperf::RetrieveOptions ro;
  ro.top_k = 10;
  ragperf::SearchOptions so{.top_k = 2 * ro.top_k};
  for (size_t i = 0; i < std::min<size_t>(20, queries.size()); ++i) {  // warm up both paths
    retriever.retrieve_by_vector(queries[i], ro).get();
    for (const auto& t : tables) pg->search(t, queries[i], so);
  }
  std::vector<double> seq_runs, par_runs;
  for (size_t rep = 0; rep < args.repeats; ++rep) {
    Clock::time_point t0 = Clock::now();
    for (const auto& q : queries) {
      std::vector<std::vector<ragperf::Hit>> per_table;
      for (const auto& t : tables) per_table.push_back(pg->search(t, q, so));
      ragperf::merge_hits(std::move(per_table), tables, ro);
    }
    seq_runs.push_back(seconds_since(t0) / static_cast<double>(queries.size()));
    t0 = Clock::now();
    for (const auto& q : queries) retriever.retrieve_by_vector(q, ro).get();
    par_runs.push_back(seconds_since(t0) / static_cast<double>(queries.size()));
  }
  report.add_row("tables_3_sequential_vs_parallel", median(seq_runs), median(par_runs),
                 "per query, top 10 of 3 x " + std::to_string(args.rows) +
                     " rows, pgvector default (ANN) search; target >= 1.9x");
  report.set("tables_3_rows_per_table", args.rows);
  report.set("tables_3_queries", args.queries);
  report.set("tables_3_repeats", args.repeats);

  // Exact vs ANN on pgvector (table 1).
  std::vector<std::vector<float>> few(queries.begin(),
                                      queries.begin() + std::min<size_t>(50, queries.size()));
  AnnFigures pgf = exact_vs_ann(*pg, tables[0], few);
  report.add_row("pgvector_exact_vs_hnsw", pgf.exact_s, pgf.ann_s,
                 "top 10 of " + std::to_string(args.rows) + "; recall@10 " +
                     std::to_string(pgf.recall).substr(0, 5));
  report.set("pgvector_hnsw_recall_at_10", pgf.recall);

  // Exact vs ANN on the embedded store.
  {
    char tmpl[] = "/tmp/ragperf-bench-local-XXXXXX";
    if (!::mkdtemp(tmpl)) throw ragperf::ConfigError("cannot create a temporary folder");
    const fs::path dir = tmpl;
    {
      std::cerr << "bench retrieve: loading " << args.local_rows << " vectors into a LocalStore ..."
                << std::endl;
      auto local = std::make_shared<ragperf::LocalStore>(dir);
      fill(*local, "bench_local", args.local_rows, args.dim, 100, model->id());
      local->warm("bench_local");
      AnnFigures lf = exact_vs_ann(*local, "bench_local", few);
      report.add_row("local_exact_vs_hnsw", lf.exact_s, lf.ann_s,
                     "top 10 of " + std::to_string(args.local_rows) + "; recall@10 " +
                         std::to_string(lf.recall).substr(0, 5));
      report.set("local_hnsw_recall_at_10", lf.recall);
      report.set("local_rows", args.local_rows);
      ingest_throughput(args, settings, local, "local", report);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  ingest_throughput(args, settings, pg, "pgvector", report);
  if (!server) {
    for (const auto& t : tables) pg->drop(t);  // leave the user's database as it was
  }
  report.note("store: " + pg->describe() + (server ? " (throwaway cluster)" : ""));
  report.note(ragperf::bench::build_description());
  report.emit(args.json, args.out);
}

void setup_retrieve_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "retrieve",
      "3-table retrieval sequential vs parallel (pgvector), exact vs ANN latency and recall@10, "
      "ingest throughput");
  cmd->add_flag("--json", args->json, "Print the figures as JSON on stdout (table on stderr)");
  cmd->add_option("--out", args->out, "Also write the JSON to this file");
  cmd->add_option("--rows", args->rows, "Vectors per PostgreSQL table (default 10000)");
  cmd->add_option("--local-rows", args->local_rows,
                  "Vectors in the LocalStore collection (default 50000; HNSW from 20000)");
  cmd->add_option("--queries", args->queries, "Queries per timed run (default 200)");
  cmd->add_option("--repeats", args->repeats, "Timed runs; the median is reported (default 5)");
  cmd->add_option("--dim", args->dim, "Vector dimension (default 100)");
  cmd->add_option("--model", args->model,
                  "Model for the ingest figures (default: the GloVe demo model when prepared)");
  cmd->add_option("--corpus", args->corpus,
                  "Documents for the ingest figures (default: the PostgreSQL 15 manual)");
  cmd->add_option("--ingest-files", args->ingest_files, "Files to ingest at most (default 300)");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_retrieve_bench);
