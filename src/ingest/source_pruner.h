// ingest/source_pruner.h: how the pipeline names a file as a store source, and the pruning of
// stored sources that a finished run no longer found under its root paths.
//
//   std::unordered_set<std::string> kept = {ingest::source_name(file), ...};  // seen this run
//   std::unordered_set<std::string> refused = {...};  // found, but refused (a link leading out)
//   ingest::PruneResult r = ingest::prune_sources(store, "docs", roots, kept, refused, cache);
//   // r.pruned: the sources removed; r.n_chunks: their chunks
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "ragperf/vector_store.h"

namespace ragperf {
class SemanticCache;
}  // namespace ragperf

namespace ragperf::ingest {

/// The source name of a file: the absolute path where it was found, its folders resolved
/// (canonical, symlinks followed; for a path that does not exist, as much of it as exists) and its
/// own name kept as it is, even when the file is a symbolic link: a linked file is stored under
/// the link's name, so that its chunks are pruned when the link disappears.
std::string source_name(const std::filesystem::path& path);

/// A root (a path given to the pipeline) as source names are compared with it: a folder (or a
/// link to one) canonical, a file by source_name().
std::filesystem::path root_name(const std::filesystem::path& root);

/// True when `source` (a source name) is `root` or lies inside it; both are compared component
/// by component, so "/a/bc" is not inside "/a/b". `root` is a source name too.
bool source_is_under(const std::filesystem::path& source, const std::filesystem::path& root);

struct PruneResult {
  std::vector<std::string> pruned;  // sources removed, sorted
  size_t n_chunks = 0;              // chunks they had
  size_t n_invalidated = 0;         // cache entries dropped
};

/// Removes (VectorStore::remove_source) every source of `collection` that lies under one of
/// `roots` (paths as given to the pipeline, resolved with root_name()), is not in `kept`, and is
/// in `refused` (found by the run but refused by its rules: a symbolic link leading outside the
/// folders given) or confirmed gone on disk: the file does not exist, is not a regular file, has an
/// unsupported extension, or lies in a hidden ('.') folder below its root. A source that exists and
/// is eligible, or whose status cannot be read, is kept (the run could not list it). `cache`
/// (optional) has entries reading `collection` dropped after each removal, even a failed one.
/// Store errors propagate; sources removed before the error stay removed.
PruneResult prune_sources(VectorStore& store, const std::string& collection,
                          std::span<const std::filesystem::path> roots,
                          const std::unordered_set<std::string>& kept,
                          const std::unordered_set<std::string>& refused, SemanticCache* cache);

}  // namespace ragperf::ingest
