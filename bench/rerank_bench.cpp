// `ragperf bench rerank [--model M]`: reranking one query's candidates with a cross-encoder.
//
// Baseline: one forward pass per (query, passage) pair, the loop a first version writes.
// Optimized: CrossEncoder::score with every candidate at once (packed sequences, one pass).
// Without --model it builds a random-weight folder of cross-encoder/ms-marco-MiniLM-L-6-v2's
// shape (6 layers, hidden 384, 12 heads, FFN 1536, one-label head): the cost depends on the
// shape, not on the values. Passages are random vocabulary words of about --tokens tokens.
#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

#include <vector>

#include "command.h"
#include "ragperf/config.h"
#include "ragperf/cross_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/local_store.h"
#include "ragperf/model_locator.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/runtime.h"
#include "random_bert.h"
#include "report.h"
#include "stats.h"
#include "word_texts.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  bool json = false;
  std::string out;
  std::string model;
  size_t candidates = 50;
  size_t tokens = 128;  // per passage, about
  size_t runs = 20;
  bool quick = false;  // 5 runs
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void run(const Options& o) {
  const ragperf::Settings settings = ragperf::load_settings();
  fs::path model_dir;
  fs::path temp_dir;
  std::string model_note;
  if (o.model.empty()) {
    temp_dir = fs::temp_directory_path() / ("ragperf-bench-rerank-" + std::to_string(::getpid()));
    const auto shape = ragperf::bench::BertShape::ms_marco_minilm_l6_v2();
    std::cerr << "building a random-weight ms-marco-MiniLM-L-6-v2-shaped cross-encoder in "
              << temp_dir << "\n";
    ragperf::bench::write_random_bert(temp_dir, shape);
    model_dir = temp_dir;
    model_note = "random weights, " + shape.describe();
  } else {
    model_dir = ragperf::resolve_model(o.model, settings);
    model_note = model_dir.string();
  }
  std::shared_ptr<const ragperf::CrossEncoder> ce = ragperf::CrossEncoder::load(model_dir);
  const size_t len = std::min(o.tokens, ce->max_length() / 2);
  const std::vector<std::string> passages = ragperf::bench::word_texts(
      model_dir / "vocab.txt", o.candidates, len - len / 16, len + len / 16, 11);
  const std::string query = ragperf::bench::word_texts(model_dir / "vocab.txt", 1, 10, 12, 12)[0];

  auto one_by_one = [&] {
    for (const std::string& p : passages) {
      const std::vector<std::string> one = {p};
      (void)ce->score(query, one);
    }
  };
  auto batched = [&] { (void)ce->score(query, passages); };
  for (int i = 0; i < 2; ++i) {  // warm up: page in the weights, start the pool
    one_by_one();
    batched();
  }
  const size_t runs = o.quick ? 5 : o.runs;
  std::vector<double> base, opt;
  for (size_t r = 0; r < runs; ++r) {  // alternate, so that drift hits both alike
    auto t0 = Clock::now();
    one_by_one();
    base.push_back(seconds_since(t0));
    t0 = Clock::now();
    batched();
    opt.push_back(seconds_since(t0));
  }
  namespace b = ragperf::bench;
  // The whole query with and without reranking: embed (a random-weight all-MiniLM-L6-v2-shaped
  // encoder), top-4 search of a local table of passages like the candidates, and the rerank of 50.
  std::vector<double> plain_s, reranked_s;
  {
    const fs::path work =
        fs::temp_directory_path() / ("ragperf-bench-rerank-query-" + std::to_string(::getpid()));
    struct Cleanup {
      fs::path p;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    } cleanup{work};
    ragperf::bench::write_random_bert(work / "encoder",
                                      ragperf::bench::BertShape::all_minilm_l6_v2());
    std::shared_ptr<ragperf::EmbeddingModel> encoder =
        ragperf::load_embedding_model((work / "encoder").string(), settings);
    auto store = std::make_shared<ragperf::LocalStore>(work / "store");
    store->ensure_collection("docs", encoder->dim(), ragperf::Metric::kCosine, encoder->id());
    const std::vector<std::string> corpus = ragperf::bench::word_texts(
        model_dir / "vocab.txt", 400, len - len / 16, len + len / 16, 21);
    const ragperf::EmbeddingMatrix m = encoder->embed(corpus);
    std::vector<ragperf::Chunk> chunks(corpus.size());
    for (size_t i = 0; i < corpus.size(); ++i) {
      chunks[i].id = "p" + std::to_string(i);
      chunks[i].text = corpus[i];
      chunks[i].embedding.assign(m.row(i).begin(), m.row(i).end());
    }
    store->add("docs", chunks);
    ragperf::QueryPipeline pipeline(store, encoder);
    ragperf::QueryTarget plain;
    plain.tables = {"docs"};
    plain.options.top_k = 4;
    ragperf::QueryTarget reranked = plain;
    reranked.rerank.model = ce;
    reranked.rerank.candidates = o.candidates;
    (void)pipeline.query(plain, query);
    (void)pipeline.query(reranked, query);
    for (size_t r = 0; r < (o.quick ? 3 : std::max<size_t>(3, o.runs / 2)); ++r) {
      auto t0 = Clock::now();
      (void)pipeline.query(plain, query);
      plain_s.push_back(seconds_since(t0));
      t0 = Clock::now();
      (void)pipeline.query(reranked, query);
      reranked_s.push_back(seconds_since(t0));
    }
  }
  b::Report report("rerank");
  const std::string row = "rerank_" + std::to_string(o.candidates) + "x" + std::to_string(len);
  report.add_row(row, b::median(base), b::median(opt),
                 "one query, " + std::to_string(o.candidates) + " candidates of ~" +
                     std::to_string(len) + " tokens: one pass per pair vs one batch (p50)");
  report.set("rerank_p50_s", b::median(opt));
  report.set("rerank_p95_s", b::percentile(opt, 95));
  report.set("rerank_one_by_one_p50_s", b::median(base));
  report.set("rerank_one_by_one_p95_s", b::percentile(base, 95));
  report.set("pairs_per_s", static_cast<double>(o.candidates) / b::median(opt));
  report.set("candidates", o.candidates);
  report.set("passage_tokens", len);
  report.set("runs", runs);
  report.set("model", model_note);
  report.set("compute_threads", ragperf::Runtime::shared()->compute_threads());
  report.set("full_query_p50_s", b::median(plain_s));
  report.set("full_query_reranked_p50_s", b::median(reranked_s));
  report.set("full_query_reranked_p95_s", b::percentile(reranked_s, 95));
  report.note("full query (embed + top-4 of 400 local passages, no cache) p50 " +
              b::format_seconds(b::median(plain_s)) + "; with reranking of " +
              std::to_string(o.candidates) + " candidates p50 " +
              b::format_seconds(b::median(reranked_s)) + " (p95 " +
              b::format_seconds(b::percentile(reranked_s, 95)) + ")");
  report.note("model: " + model_note + "; activation " + ce->activation());
  report.note("p50 / p95 over " + std::to_string(runs) + " alternating runs; compute threads: " +
              std::to_string(ragperf::Runtime::shared()->compute_threads()));
  report.note(b::build_description());
  if (!temp_dir.empty()) {
    std::error_code ec;
    fs::remove_all(temp_dir, ec);
  }
  report.emit(o.json, o.out);
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "rerank", "Cross-encoder reranking of one query's candidates: one pass per pair vs batched");
  auto o = std::make_shared<Options>();
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->add_option("--model", o->model,
                  "Cross-encoder folder or hub id (default: random weights of "
                  "ms-marco-MiniLM-L-6-v2's shape)");
  cmd->add_option("--candidates", o->candidates, "Passages per query (default 50)")
      ->check(CLI::Range(size_t{1}, size_t{10000}));
  cmd->add_option("--tokens", o->tokens, "Tokens per passage, about (default 128)")
      ->check(CLI::Range(size_t{16}, size_t{4096}));
  cmd->add_option("--runs", o->runs, "Timed runs of each path (default 20)")
      ->check(CLI::Range(size_t{3}, size_t{100000}));
  cmd->add_flag("--quick", o->quick, "5 runs instead of --runs");
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
