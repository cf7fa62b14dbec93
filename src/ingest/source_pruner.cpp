// Source names and pruning: stored sources under the run's roots that vanished from disk go.
#include "source_pruner.h"

#include <system_error>

#include "ragperf/ingest.h"
#include "ragperf/semantic_cache.h"

namespace ragperf::ingest {
namespace fs = std::filesystem;
namespace {

// The non-empty components of a path ("/a/b/" -> "/", "a", "b").
std::vector<fs::path> components(const fs::path& p) {
  std::vector<fs::path> out;
  for (const fs::path& c : p) {
    if (!c.empty()) out.push_back(c);
  }
  return out;
}

// Whether `source`, not seen by the run, is really gone or no longer ingestible. `below` holds
// the components of `source` under its root.
bool confirmed_gone(const fs::path& source, std::span<const fs::path> below) {
  std::error_code ec;
  fs::file_status st = fs::status(source, ec);
  if (st.type() == fs::file_type::not_found) return true;  // deleted or renamed
  if (ec) return false;                                    // cannot tell (permissions): keep
  if (!fs::is_regular_file(st)) return true;
  if (!format_for_path(source)) return true;
  for (const fs::path& c : below) {
    const std::string name = c.string();
    if (!name.empty() && name[0] == '.') return true;  // collect_files skips hidden names
  }
  return false;  // exists and is eligible, yet the run did not list it (an unreadable folder)
}

// The canonical absolute path (as much of it as exists), else the lexically normal absolute one.
fs::path canonical_or_normal(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(path, ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  return p;
}

}  // namespace

std::string source_name(const fs::path& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  const fs::path name = abs.filename();
  if (ec || name.empty() || name == "." || name == "..") return canonical_or_normal(path).string();
  return (canonical_or_normal(abs.parent_path()) / name).string();
}

fs::path root_name(const fs::path& root) {
  std::error_code ec;
  if (fs::is_directory(root, ec)) return canonical_or_normal(root);
  return source_name(root);
}

bool source_is_under(const fs::path& source, const fs::path& root) {
  const std::vector<fs::path> s = components(source);
  const std::vector<fs::path> r = components(root);
  if (r.empty() || s.size() < r.size()) return false;
  for (size_t i = 0; i < r.size(); ++i) {
    if (s[i] != r[i]) return false;
  }
  return true;
}

PruneResult prune_sources(VectorStore& store, const std::string& collection,
                          std::span<const fs::path> roots,
                          const std::unordered_set<std::string>& kept,
                          const std::unordered_set<std::string>& refused, SemanticCache* cache) {
  std::vector<fs::path> resolved;
  resolved.reserve(roots.size());
  for (const fs::path& root : roots) resolved.push_back(root_name(root));

  PruneResult result;
  for (const std::string& source : store.list_sources(collection)) {
    if (kept.count(source) != 0) continue;
    const fs::path path(source);
    if (!path.is_absolute()) continue;  // not a file name the pipeline wrote
    bool gone = false;
    for (const fs::path& root : resolved) {
      if (!source_is_under(path, root)) continue;
      if (refused.count(source) != 0) {
        gone = true;
        break;
      }
      const std::vector<fs::path> all = components(path);
      const size_t n_root = components(root).size();
      gone = confirmed_gone(path, std::span<const fs::path>(all).subspan(n_root));
      if (gone) break;
    }
    if (!gone) continue;
    size_t n = 0;
    try {
      n = store.remove_source(collection, source);
    } catch (...) {
      // The delete may have committed before the error reached us: drop what may be stale.
      if (cache != nullptr) result.n_invalidated += cache->invalidate_table(collection);
      throw;
    }
    if (cache != nullptr) result.n_invalidated += cache->invalidate_table(collection);
    result.n_chunks += n;
    result.pruned.push_back(source);
  }
  return result;
}

}  // namespace ragperf::ingest
