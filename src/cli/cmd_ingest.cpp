// `ragperf ingest PATH... --table T`: reads .txt/.md/.html files (folders recursively), chunks,
// embeds and stores them; unchanged files are skipped, changed ones replaced, and the chunks of
// files that vanished from the given paths since the last run are pruned (unless --no-prune). A
// progress bar on a terminal, a one-line summary always; skipped files are listed on stderr with
// their reason, pruned ones by name.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "base/printable.h"
#include "command.h"
#include "model_choice.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/vector_store.h"

namespace {

struct IngestArgs {
  std::vector<std::string> paths;
  std::string table;
  std::string model;        // empty: EMBED_MODEL
  size_t chunk_tokens = 0;  // 0: min(256, the model's max tokens)
  size_t overlap = 32;
  std::string metric = "cosine";
  bool no_prune = false;
  bool follow_symlinks = false;
  uint64_t max_file_bytes = uint64_t{64} << 20;
  bool filter_index = false;
  bool no_text_search = false;
  std::string storage;  // "" : RAGPERF_PG_STORAGE or vector
};

void setup_ingest(CLI::App& app) {
  auto args = std::make_shared<IngestArgs>();
  auto* cmd = app.add_subcommand(
      "ingest", "Chunk, embed and store .txt/.md/.html files (folders recursively) in a table");
  cmd->add_option("paths", args->paths, "Files or folders to ingest")->required();
  cmd->add_option("--table,-t", args->table, "Table (collection) to write; created when missing")
      ->required();
  cmd->add_option("--model,-m", args->model,
                  "Embedding model folder or hub id (default: EMBED_MODEL); a table keeps the "
                  "model it was first ingested with");
  cmd->add_option("--chunk-tokens", args->chunk_tokens,
                  "Tokens per chunk at most, heading included: larger chunks carry more context "
                  "per hit, smaller ones match more precisely (default: min(256, model limit))");
  auto* overlap = cmd->add_option(
      "--overlap", args->overlap,
      "Tokens of trailing whole sentences repeated at the next chunk's start "
      "(default 32, at most a quarter of --chunk-tokens): more keeps context across "
      "chunk borders, at the cost of more chunks");
  cmd->add_option("--metric", args->metric,
                  "Similarity for a new table: cosine, ip or l2 (default cosine)");
  cmd->add_flag("--no-prune", args->no_prune,
                "Keep the chunks of files deleted, renamed or no longer ingestible under the given "
                "paths. By default they are removed after a run that succeeds, so the table "
                "mirrors the folders; files outside the given paths are never touched, and files "
                "skipped for errors (unreadable, binary) keep their chunks");
  cmd->add_flag("--follow-symlinks", args->follow_symlinks,
                "Also ingest files that a symbolic link inside the folders leads to outside them "
                "(skipped by default)");
  cmd->add_option("--max-file-bytes", args->max_file_bytes,
                  "Skip files larger than this many bytes (default 67108864, 64 MiB)")
      ->check(CLI::PositiveNumber)
      ->envname("RAGPERF_INGEST_MAX_FILE_BYTES");
  cmd->add_flag("--filter-index", args->filter_index,
                "Also create the indexes that serve metadata filters (query --where) on "
                "PostgreSQL: GIN on the metadata, text_pattern_ops on the source");
  cmd->add_option("--storage", args->storage,
                  "PostgreSQL: element type of a table this creates, vector (float32, default) or "
                  "halfvec (float16, half the memory); RAGPERF_PG_STORAGE")
      ->check(CLI::IsMember({"vector", "halfvec"}));
  cmd->add_flag("--no-text-search", args->no_text_search,
                "Do not give the table full-text search (query --mode text/hybrid need it)");
  cmd->callback([args, overlap] {
    ragperf::Settings settings = ragperf::load_settings();
    if (!args->storage.empty()) settings.variables["RAGPERF_PG_STORAGE"] = args->storage;
    ragperf::IngestOptions options;
    options.table = args->table;
    options.chunker.max_tokens = args->chunk_tokens;
    options.chunker.overlap_tokens = args->overlap;
    if (overlap->count() == 0 && args->chunk_tokens != 0) {
      options.chunker.overlap_tokens = std::min(args->overlap, args->chunk_tokens / 4);
    }
    options.embed_batch = static_cast<size_t>(settings.embed_batch);
    options.metric = ragperf::parse_metric(args->metric);
    options.prune = !args->no_prune;
    options.follow_symlinks = args->follow_symlinks;
    options.max_file_bytes = args->max_file_bytes;
    options.text_search = !args->no_text_search;
    ragperf::validate_identifier(options.table, "table");
    std::vector<std::filesystem::path> paths(args->paths.begin(), args->paths.end());
    ragperf::collect_files(paths);  // a missing path fails before the model loads

    std::shared_ptr<ragperf::EmbeddingModel> model = ragperf::cli::load_model(
        args->model.empty() ? settings.embed_model : args->model, settings);
    std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);
    ragperf::IngestPipeline pipeline(model, store, options);
    auto progress = ragperf::make_console_progress(stderr);
    ragperf::IngestStats stats = pipeline.run(paths, progress.get());

    constexpr size_t kMaxListed = 20;
    for (size_t i = 0; i < stats.skipped.size() && i < kMaxListed; ++i) {
      std::cerr << "skipped " << ragperf::base::printable(stats.skipped[i].path.string()) << ": "
                << ragperf::base::printable(stats.skipped[i].reason) << "\n";
    }
    if (stats.skipped.size() > kMaxListed) {
      std::cerr << "skipped " << stats.skipped.size() - kMaxListed << " more files\n";
    }
    for (size_t i = 0; i < stats.pruned.size() && i < kMaxListed; ++i) {
      std::cerr << "pruned " << ragperf::base::printable(stats.pruned[i])
                << ": deleted, renamed or no longer ingestible\n";
    }
    if (stats.pruned.size() > kMaxListed) {
      std::cerr << "pruned " << stats.pruned.size() - kMaxListed << " more files\n";
    }
    std::cout << "table " << options.table << " (" << store->describe()
              << "): " << ragperf::format_summary(stats) << "\n";
    if (args->filter_index) {
      const std::vector<std::string> created = store->create_filter_indexes(options.table);
      std::cout << "filter indexes: ";
      if (created.empty()) std::cout << "none needed (present already, or the store has none)";
      for (size_t i = 0; i < created.size(); ++i) std::cout << (i ? ", " : "") << created[i];
      std::cout << "\n";
    }
  });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_ingest);
