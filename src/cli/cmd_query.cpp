// `ragperf query TEXT`: runs the query path (QueryPipeline: embed once, search every table at the
// same time, merge), prints the ranked hits and the time of each stage. Without TEXT it reads
// JSON lines {"text": ...} on stdin and writes one JSON result per line, loading the model and
// opening the store once.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/printable.h"
#include "command.h"
#include "json_lines.h"
#include "model_choice.h"
#include "ragperf/config.h"
#include "ragperf/cross_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/filter.h"
#include "ragperf/model_locator.h"
#include "ragperf/query_pipeline.h"
#include "ragperf/retriever.h"
#include "ragperf/vector_store.h"

namespace {

struct QueryArgs {
  std::string text;
  std::vector<std::string> tables;
  size_t top_k = 4;
  std::string model;
  bool json = false;
  bool exact = false;
  bool rrf = false;
  bool partial = false;
  bool no_dedup = false;
  int ef_search = 0;
  size_t snippet = 200;
  std::string rerank_model;
  size_t rerank_candidates = 50;
  std::string where;
  std::string mode = "vector";
  std::string hybrid_fusion = "rrf";
  double text_weight = 0.5;
};

std::string describe_tables(const std::vector<ragperf::CollectionInfo>& infos) {
  std::string out;
  for (const auto& c : infos) {
    out += (out.empty() ? "" : ", ") + c.name + " (model " + c.model_id + ", dim " +
           std::to_string(c.dim) + ")";
  }
  return out;
}

// One stdin line -> its query text; InputError naming the line otherwise.
std::string parse_line(const std::string& line, size_t number) {
  static constexpr std::string_view kExpected = R"({"text": "..."})";
  const ragperf::cli::JsonLine parsed{number,
                                      ragperf::cli::parse_json_line(line, number, kExpected)};
  std::string text = ragperf::cli::string_field(parsed, "text", kExpected);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw ragperf::InputError("stdin line " + std::to_string(number) +
                              ": \"text\" is empty; give the question to search for");
  }
  return text;
}

void run_query(const QueryArgs& args, bool text_given) {
  if (args.top_k == 0) throw ragperf::InputError("--top-k 0: ask for at least 1 hit");
  if (args.ef_search < 0) throw ragperf::InputError("--ef-search must be >= 0 (0: default)");
  if (text_given && args.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw ragperf::InputError("the query TEXT is empty; give the question to search for");
  }
  for (const auto& t : args.tables) ragperf::TableRef::parse(t);  // names checked before loading
  ragperf::Filter::parse(args.where);                             // so is the filter

  const ragperf::Settings settings = ragperf::load_settings();
  std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);

  // The tables to search and the model to embed with.
  std::vector<std::string> tables = args.tables;
  std::vector<ragperf::CollectionInfo> infos;
  if (tables.empty()) {
    infos = store->collections();
    if (infos.empty()) {
      throw ragperf::InputError("no tables in " + store->describe() +
                                "; ingest files first (ragperf ingest PATH --table T) or run "
                                "`ragperf demo`");
    }
  } else {
    for (const auto& t : tables) {
      if (ragperf::TableRef::parse(t).location.empty()) {
        if (auto info = store->collection(t)) infos.push_back(*info);
      }
    }
  }
  const std::string model_name = ragperf::cli::choose_model(args.model, settings, infos);
  std::shared_ptr<ragperf::EmbeddingModel> model;
  try {
    model = ragperf::cli::load_model(model_name, settings);
  } catch (const ragperf::ModelError& e) {
    if (infos.empty()) throw;
    throw ragperf::ModelError(std::string(e.what()) +
                              " (the tables were ingested with: " + describe_tables(infos) + ")");
  }
  if (tables.empty()) {
    std::vector<ragperf::CollectionInfo> others;
    for (const auto& c : infos) {
      if (c.dim == model->dim() && (c.model_id.empty() || c.model_id == model->id())) {
        tables.push_back(c.name);
      } else {
        others.push_back(c);
      }
    }
    if (tables.empty()) {
      throw ragperf::InputError("no table in " + store->describe() + " was ingested with model " +
                                model->id() + "; the tables are: " + describe_tables(infos) +
                                ". Pass --model with a table's model, or --tables");
    }
  }

  ragperf::QueryTarget target;
  target.tables = tables;
  target.options.top_k = args.top_k;
  target.options.exact = args.exact;
  target.options.fusion = args.rrf ? ragperf::Fusion::kRrf : ragperf::Fusion::kScore;
  target.options.partial_results = args.partial;
  target.options.deduplicate = !args.no_dedup;
  target.options.ef_search = args.ef_search;
  target.options.where = args.where;
  target.options.mode = ragperf::parse_search_mode(args.mode);
  target.options.hybrid_fusion = ragperf::parse_hybrid_fusion(args.hybrid_fusion);
  target.options.text_weight = args.text_weight;
  if (!args.rerank_model.empty()) {
    target.rerank.model =
        ragperf::CrossEncoder::load(ragperf::resolve_model(args.rerank_model, settings));
    target.rerank.candidates = args.rerank_candidates;
  }
  ragperf::QueryPipelineOptions pipeline_options;
  pipeline_options.open_location = ragperf::default_store_opener(settings);  // name@location
  ragperf::QueryPipeline pipeline(store, model, pipeline_options);
  std::vector<std::string> names;
  for (const auto& t : tables) names.push_back(ragperf::TableRef::parse(t).display());

  if (text_given) {
    ragperf::RetrieveResult r = pipeline.query(target, args.text).result;
    if (args.json) {
      std::cout << ragperf::to_json(r, names, args.text) << "\n";
    } else {
      std::cout << "query: " << ragperf::base::printable(args.text) << "\n"
                << "tables: ";
      for (size_t i = 0; i < names.size(); ++i) std::cout << (i ? ", " : "") << names[i];
      std::cout << " in " << store->describe() << "; model " << model->id() << "\n"
                << ragperf::format_result(r, names, args.snippet);
    }
    return;
  }

  // JSON lines on stdin: one result (or {"error": ...}) per line, in order.
  std::string line;
  size_t number = 0;
  bool failed = false;
  while (std::getline(std::cin, line)) {
    ++number;
    if (ragperf::cli::blank_line(line)) continue;
    try {
      const std::string text = parse_line(line, number);
      std::cout << ragperf::to_json(pipeline.query(target, text).result, names, text) << "\n";
    } catch (const ragperf::Error& e) {
      failed = true;
      nlohmann::json err = {{"error", e.what()}, {"line", number}};
      std::cout << ragperf::base::printable_json(
                       err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
                << "\n";
      std::cerr << "ragperf: error: " << ragperf::base::printable(e.what()) << "\n";
    }
    std::cout.flush();
  }
  if (std::cin.bad()) throw ragperf::InputError("stdin: read error");
  if (failed) ragperf::cli::exit_status() = 1;
}

void setup_query(CLI::App& app) {
  auto args = std::make_shared<QueryArgs>();
  auto* cmd = app.add_subcommand(
      "query",
      "Search tables for TEXT: ranked hits (snippet, score, table) and stage timings. Without "
      "TEXT: JSON lines {\"text\": ...} on stdin, one JSON result per line");
  auto* text = cmd->add_option("text", args->text, "The question to search for");
  cmd->add_option("--tables,-t", args->tables,
                  "Tables to search at once, comma-separated; name@postgresql://host/db (or "
                  "name@/store/folder) searches a table on another server. Default: every table "
                  "in the store ingested with the query model")
      ->delimiter(',');
  cmd->add_option("--top-k,-k", args->top_k, "Hits to return after merging (default 4)");
  cmd->add_option("--model,-m", args->model,
                  "Embedding model folder or hub id; must be the tables' model. Default: "
                  "EMBED_MODEL when set, else the demo model for tables ingested with it");
  cmd->add_flag("--json", args->json,
                "Print {\"hits\": [{\"id\",\"text\",\"score\",\"source_table\",...}], "
                "\"timings\": {...}}");
  cmd->add_flag("--exact", args->exact,
                "Brute-force search (exact ranking; slower than the ANN index on big tables)");
  cmd->add_flag("--rrf", args->rrf,
                "Merge tables by reciprocal-rank fusion instead of by score (for tables whose "
                "scores are not comparable)");
  cmd->add_flag("--partial", args->partial,
                "Return the other tables' hits when a table fails (its error is listed)");
  cmd->add_flag("--no-dedup", args->no_dedup,
                "Keep every copy of a text found in several tables (default: best copy only)");
  cmd->add_option("--ef-search", args->ef_search,
                  "ANN candidate list per table (0: the store's default): higher = better "
                  "recall, slower");
  cmd->add_option("--mode", args->mode,
                  "vector (embeddings, the default), text (full-text) or hybrid (both, fused)")
      ->check(CLI::IsMember({"vector", "text", "hybrid"}));
  cmd->add_option("--hybrid-fusion", args->hybrid_fusion,
                  "How hybrid fuses a table's two lists: rrf (the default) or weighted")
      ->check(CLI::IsMember({"rrf", "weighted"}));
  cmd->add_option("--text-weight", args->text_weight,
                  "Weighted hybrid fusion: the text list's share, 0..1 (0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--where", args->where,
                  "Only chunks this metadata filter accepts, e.g. \"source ^= 'docs/' and "
                  "meta.year >= 2020\" (syntax: README, Filters)");
  cmd->add_option("--snippet", args->snippet, "Characters of each hit's text to print (200)");
  cmd->add_option("--rerank-model", args->rerank_model,
                  "Rerank the candidates with this cross-encoder (folder or hub id, such as "
                  "cross-encoder/ms-marco-MiniLM-L-6-v2)");
  cmd->add_option("--rerank-candidates", args->rerank_candidates,
                  "Hits the reranker scores before the top-k are kept (50)")
      ->check(CLI::Range(size_t{1}, ragperf::RerankOptions::kMaxCandidates));
  cmd->callback([args, text] { run_query(*args, text->count() > 0); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_query);
