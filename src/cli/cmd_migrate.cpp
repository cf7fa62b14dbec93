// `ragperf migrate --table T [--filter-index]`: brings an existing table up to what this ragperf
// offers, only when asked: full-text search (the index text and hybrid queries need; on
// PostgreSQL a generated tsvector column, so the table is rewritten once) and, with
// --filter-index, the indexes that serve metadata filters. Says what it did, or that nothing
// was needed.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/vector_store.h"

namespace {

struct MigrateArgs {
  std::vector<std::string> tables;
  bool filter_index = false;
};

void run_migrate(const MigrateArgs& args) {
  for (const auto& t : args.tables) ragperf::validate_identifier(t, "table");
  const ragperf::Settings settings = ragperf::load_settings();
  std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);
  for (const auto& table : args.tables) {
    if (!store->collection(table)) {
      throw ragperf::InputError("table " + table + " does not exist in " + store->describe() +
                                "; ingest into it first (ragperf ingest PATH --table " + table +
                                ")");
    }
    std::cout << "table " << table << " (" << store->describe() << "): full-text search "
              << (store->enable_text_search(table) ? "added" : "present already");
    if (args.filter_index) {
      const std::vector<std::string> created = store->create_filter_indexes(table);
      std::cout << "; filter indexes ";
      if (created.empty()) std::cout << "present already (or none in this store)";
      for (size_t i = 0; i < created.size(); ++i) std::cout << (i ? ", " : "") << created[i];
    }
    std::cout << "\n";
  }
}

void setup_migrate(CLI::App& app) {
  auto args = std::make_shared<MigrateArgs>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Add full-text search (for query --mode text/hybrid) and, with --filter-index, filter "
      "indexes to existing tables");
  cmd->add_option("--table,-t", args->tables, "Tables to migrate")->required();
  cmd->add_flag("--filter-index", args->filter_index,
                "Also create the indexes that serve metadata filters (PostgreSQL)");
  cmd->callback([args] { run_migrate(*args); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_migrate);
