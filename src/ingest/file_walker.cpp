// collect_files(): the files under the paths given, recursively, sorted, without duplicates.
#include <algorithm>
#include <set>

#include "ragperf/error.h"
#include "ragperf/ingest.h"

namespace ragperf {
namespace fs = std::filesystem;

std::vector<fs::path> collect_files(std::span<const fs::path> paths) {
  std::set<fs::path> files;
  for (const fs::path& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      throw InputError("cannot ingest '" + p.string() +
                       "': no such file or folder (check the path)");
    }
    if (!fs::is_directory(st)) {
      files.insert(p.lexically_normal());
      continue;
    }
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      throw InputError("cannot list folder '" + p.string() + "': " + ec.message());
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        throw InputError("cannot list folder '" + p.string() + "': " + ec.message());
      }
      const fs::path& entry = it->path();
      std::string name = entry.filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec)) continue;  // symlinked folders are not followed
      files.insert(entry.lexically_normal());
    }
  }
  return {files.begin(), files.end()};
}

}  // namespace ragperf
