// `ragperf bench quality --set DIR [--table T] [--model M] [--k 10]`: retrieval quality of the
// vector, text and hybrid modes on a labelled set in BEIR's layout, with the model the table was
// ingested with (EMBED_MODEL by default: the demo's all-MiniLM-L6-v2).
//
// The set (DIR):
//   queries.jsonl      {"_id": "q1", "text": "..."} per line
//   qrels/test.tsv     query-id <TAB> corpus-id <TAB> score (a header line is skipped); also
//                      qrels.tsv in DIR itself
//   corpus.jsonl       {"_id": "d1", "title": "...", "text": "..."} per line (optional: without
//                      it, --table names an ingested table whose chunks' source file names are
//                      the corpus-ids, as bench/data/pgdocs is for the demo's table pgdocs)
// With corpus.jsonl each document becomes one chunk (title and text; the model truncates what
// is past its maximum length, full-text search indexes all of it) in a temporary local store.
//
// Metrics, per mode, over documents (a document's rank is its best chunk's; top-10 documents
// come from the top 5 * k chunks): recall@k (relevant documents found / relevant documents),
// nDCG@k with the qrels' scores as gains (BEIR's definition), MRR@k, and the p50 query latency.
// Printed as a table and written as JSON ("modes": {mode: {...}}).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "json_lines.h"
#include "model_choice.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "ragperf/retriever.h"
#include "ragperf/vector_store.h"
#include "report.h"
#include "stats.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  bool json = false;
  std::string out;
  std::string set;
  std::string table;
  std::string model;
  size_t k = 10;
  std::string where;
};

struct Query {
  std::string id;
  std::string text;
};

std::ifstream open_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) {
    throw ragperf::InputError("cannot read " + p.string() +
                              "; give --set a folder in BEIR's layout (queries.jsonl, "
                              "qrels/test.tsv, optionally corpus.jsonl)");
  }
  return in;
}

std::string string_field(const ragperf::cli::JsonLine& l, const char* key, const fs::path& file) {
  const auto it = l.value.find(key);
  if (it == l.value.end() || !it->is_string()) {
    throw ragperf::InputError(file.string() + " line " + std::to_string(l.number) +
                              ": expected a string field \"" + key + "\"");
  }
  return it->get<std::string>();
}

std::vector<Query> read_queries(const fs::path& file) {
  std::ifstream in = open_file(file);
  std::vector<Query> out;
  for (const auto& l : ragperf::cli::read_json_lines(in, R"({"_id": "q1", "text": "..."})")) {
    out.push_back({string_field(l, "_id", file), string_field(l, "text", file)});
  }
  return out;
}

/// query-id -> corpus-id -> graded relevance (> 0 only).
std::map<std::string, std::map<std::string, int>> read_qrels(const fs::path& file) {
  std::ifstream in = open_file(file);
  std::map<std::string, std::map<std::string, int>> out;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("query-id", 0) == 0)) continue;
    std::istringstream fields(line);
    std::string q, d, score;
    if (!std::getline(fields, q, '\t') || !std::getline(fields, d, '\t') ||
        !std::getline(fields, score, '\t')) {
      throw ragperf::InputError(file.string() + " line " + std::to_string(number) +
                                ": expected query-id<TAB>corpus-id<TAB>score");
    }
    int s = 0;
    try {
      s = std::stoi(score);
    } catch (const std::exception&) {
      throw ragperf::InputError(file.string() + " line " + std::to_string(number) + ": score '" +
                                score + "' is not an integer");
    }
    if (s > 0) out[q][d] = s;
  }
  return out;
}

/// Each document of corpus.jsonl as one chunk of table `table` in `store` (FTS enabled).
void load_corpus(const fs::path& file, ragperf::VectorStore& store, const std::string& table,
                 ragperf::EmbeddingModel& model) {
  std::ifstream in = open_file(file);
  store.ensure_collection(table, model.dim(), ragperf::Metric::kCosine, model.id());
  store.enable_text_search(table);
  std::vector<ragperf::Chunk> batch;
  auto flush = [&] {
    std::vector<std::string> texts;
    for (const auto& c : batch) texts.push_back(c.text);
    ragperf::EmbeddingMatrix m = model.embed(texts);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].embedding.assign(m.row(i).begin(), m.row(i).end());
    }
    store.add(table, batch);
    batch.clear();
  };
  for (const auto& l : ragperf::cli::read_json_lines(in, R"({"_id": "d1", "text": "..."})")) {
    ragperf::Chunk c;
    c.id = string_field(l, "_id", file);
    c.source = c.id;
    std::string title;
    if (auto t = l.value.find("title"); t != l.value.end() && t->is_string()) title = *t;
    c.text = title.empty() ? string_field(l, "text", file)
                           : title + "\n" + string_field(l, "text", file);
    batch.push_back(std::move(c));
    if (batch.size() == 64) flush();
  }
  if (!batch.empty()) flush();
}

struct Scores {
  double recall = 0, ndcg = 0, mrr = 0;
  std::vector<double> seconds;
};

/// The run's distinct documents in rank order, at most k.
std::vector<std::string> top_documents(const ragperf::RetrieveResult& r, bool basename, size_t k) {
  std::vector<std::string> docs;
  std::set<std::string> seen;
  for (const auto& h : r.hits) {
    std::string d = basename ? fs::path(h.source).filename().string() : h.source;
    if (seen.insert(d).second) docs.push_back(std::move(d));
    if (docs.size() == k) break;
  }
  return docs;
}

void score_query(Scores& s, const std::vector<std::string>& docs,
                 const std::map<std::string, int>& relevant) {
  double dcg = 0, found = 0;
  bool first = true;
  for (size_t i = 0; i < docs.size(); ++i) {
    auto it = relevant.find(docs[i]);
    if (it == relevant.end()) continue;
    dcg += it->second / std::log2(static_cast<double>(i) + 2);
    found += 1;
    if (first) s.mrr += 1.0 / static_cast<double>(i + 1);
    first = false;
  }
  std::vector<int> gains;
  for (const auto& [d, g] : relevant) gains.push_back(g);
  std::sort(gains.rbegin(), gains.rend());
  double ideal = 0;
  for (size_t i = 0; i < gains.size() && i < docs.size(); ++i) {
    ideal += gains[i] / std::log2(static_cast<double>(i) + 2);
  }
  s.ndcg += ideal > 0 ? dcg / ideal : 0;
  s.recall += found / static_cast<double>(relevant.size());
}

void run(const Options& o) {
  const fs::path dir(o.set);
  const std::vector<Query> queries = read_queries(dir / "queries.jsonl");
  const fs::path qrels_file =
      fs::exists(dir / "qrels" / "test.tsv") ? dir / "qrels" / "test.tsv" : dir / "qrels.tsv";
  const auto qrels = read_qrels(qrels_file);
  const ragperf::Settings settings = ragperf::load_settings();
  std::shared_ptr<ragperf::EmbeddingModel> model =
      ragperf::cli::load_model(o.model.empty() ? settings.embed_model : o.model, settings);

  std::shared_ptr<ragperf::VectorStore> store;
  std::string table = o.table;
  fs::path temp;
  struct Cleanup {
    fs::path& p;
    ~Cleanup() {
      std::error_code ec;
      if (!p.empty()) fs::remove_all(p, ec);
    }
  } cleanup{temp};
  const bool has_corpus = fs::exists(dir / "corpus.jsonl");
  if (table.empty()) {
    if (!has_corpus) {
      throw ragperf::InputError(
          dir.string() +
          " has no corpus.jsonl: name the ingested table its corpus-ids refer "
          "to with --table (e.g. --table pgdocs for bench/data/pgdocs)");
    }
    temp = fs::temp_directory_path() /
           std::string("ragperf-bench-quality-").append(std::to_string(::getpid()));
    store = std::make_shared<ragperf::LocalStore>(temp);
    table = "corpus";
    std::cerr << "bench quality: embedding " << (dir / "corpus.jsonl").string() << " ...\n";
    load_corpus(dir / "corpus.jsonl", *store, table, *model);
  } else {
    store = ragperf::open_store(settings);
  }
  ragperf::ParallelRetriever retriever(store, model, {table}, model->dim());

  ragperf::bench::Report report("quality");
  nlohmann::json modes = nlohmann::json::object();
  size_t judged = 0;
  std::string table_text = "| mode | recall@" + std::to_string(o.k) + " | nDCG@" +
                           std::to_string(o.k) + " | MRR@" + std::to_string(o.k) +
                           " | p50 latency |\n|---|---:|---:|---:|---:|\n";
  std::map<std::string, double> p50;
  for (ragperf::SearchMode mode :
       {ragperf::SearchMode::kVector, ragperf::SearchMode::kText, ragperf::SearchMode::kHybrid}) {
    ragperf::RetrieveOptions ro;
    ro.mode = mode;
    ro.top_k = 5 * o.k;
    ro.where = o.where;
    Scores s;
    judged = 0;
    for (const Query& q : queries) {
      auto rel = qrels.find(q.id);
      if (rel == qrels.end()) continue;  // BEIR: queries without judgements are not scored
      const auto t0 = Clock::now();
      const ragperf::RetrieveResult r = retriever.retrieve(q.text, ro);
      s.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      score_query(s, top_documents(r, !o.table.empty(), o.k), rel->second);
      ++judged;
    }
    if (judged == 0) {
      throw ragperf::InputError("no query of " + (dir / "queries.jsonl").string() +
                                " has a judgement in " + qrels_file.string());
    }
    const double n = static_cast<double>(judged);
    const char* name = ragperf::to_string(mode);
    p50[name] = ragperf::bench::median(s.seconds);
    modes[name] = {{"recall_at_k", s.recall / n},
                   {"ndcg_at_k", s.ndcg / n},
                   {"mrr_at_k", s.mrr / n},
                   {"p50_s", p50[name]}};
    char row[160];
    std::snprintf(row, sizeof row, "| %s | %.3f | %.3f | %.3f | %s |\n", name, s.recall / n,
                  s.ndcg / n, s.mrr / n, ragperf::bench::format_seconds(p50[name]).c_str());
    table_text += row;
  }
  report.add_row("query_p50_vector_vs_hybrid", p50["vector"], p50["hybrid"],
                 "latency of one query (hybrid runs both searches)");
  report.set("modes", modes);
  report.set("k", o.k);
  report.set("queries", judged);
  report.set("set", o.set);
  report.set("table", o.table.empty() ? std::string("(corpus.jsonl)") : o.table);
  report.set("model", model->id());
  report.note("quality over " + std::to_string(judged) + " judged queries of " + o.set +
              ", model " + model->id() + ":\n" + table_text);
  report.note(ragperf::bench::build_description());
  report.emit(o.json, o.out);
}

void setup(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "quality", "recall@k, nDCG@k, MRR@k of vector, text and hybrid search on a BEIR-style set");
  auto o = std::make_shared<Options>();
  cmd->add_option("--set", o->set, "The labelled set's folder (BEIR layout)")->required();
  cmd->add_option("--table", o->table,
                  "Ingested table whose chunks' source file names are the corpus-ids (without "
                  "it, the set's corpus.jsonl is embedded into a temporary store)");
  cmd->add_option("--model,-m", o->model, "Embedding model (default EMBED_MODEL)");
  cmd->add_option("--k", o->k, "Cut-off of the metrics (default 10)")
      ->check(CLI::Range(size_t{1}, size_t{100}));
  cmd->add_option("--where", o->where, "A metadata filter applied to every query");
  cmd->add_flag("--json", o->json, "Print JSON on stdout (the table goes to stderr)");
  cmd->add_option("--out", o->out, "Also write the JSON to this file");
  cmd->callback([o] { run(*o); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup);
