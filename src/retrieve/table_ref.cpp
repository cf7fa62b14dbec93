// TableRef ("name" / "name@location"), Fusion names, and the default opener of a location's store.
#include <memory>
#include <string>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "ragperf/retriever.h"

namespace ragperf {

const char* to_string(Fusion fusion) {
  return fusion == Fusion::kRrf ? "rrf" : "score";
}

Fusion parse_fusion(std::string_view text) {
  if (text == "score") return Fusion::kScore;
  if (text == "rrf") return Fusion::kRrf;
  throw InputError("fusion '" + std::string(text) +
                   "' is not known; use score (by similarity) or rrf (reciprocal-rank fusion)");
}

TableRef TableRef::parse(std::string_view text) {
  TableRef ref;
  // Table names are identifiers and never hold '@'; a URL's own '@' (user@host) comes after.
  const size_t at = text.find('@');
  ref.name = std::string(text.substr(0, at));
  if (at != std::string_view::npos) {
    ref.location = std::string(text.substr(at + 1));
    if (ref.location.find_first_not_of(" \t") == std::string::npos) {
      throw InputError("table '" + mask_secrets(std::string(text)) +
                       "' names no location after '@'; write name@postgresql://host/db or "
                       "name@/path/to/store, or drop the '@'");
    }
  }
  validate_identifier(ref.name, "table");
  return ref;
}

std::string TableRef::display() const {
  return location.empty() ? name : name + "@" + mask_secrets(location);
}

namespace {

bool is_postgres_location(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0 ||
         location.find('=') != std::string::npos;
}

}  // namespace

StoreOpener default_store_opener(const Settings& settings) {
  return [settings](const std::string& location) -> std::shared_ptr<VectorStore> {
    if (is_postgres_location(location)) {
      Settings at = settings;
      at.database_url = location;
      return std::shared_ptr<VectorStore>(open_store(at));
    }
    std::string folder = location;
    if (folder.rfind("file:", 0) == 0) folder = folder.substr(5);
    return std::make_shared<LocalStore>(std::filesystem::path(folder));
  };
}

}  // namespace ragperf
