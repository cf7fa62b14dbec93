// CacheScope: the canonical key of everything that changes a query's answer.
#include <algorithm>
#include <string>

#include "ragperf/semantic_cache.h"

namespace ragperf {

namespace {

void append_field(std::string& key, std::string_view field) {
  key += std::to_string(field.size());
  key += ':';
  key += field;
  key += ';';
}

}  // namespace

std::string CacheScope::key() const {
  std::vector<std::string_view> sorted(tables.begin(), tables.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string key;
  key.append("t").append(std::to_string(sorted.size())).append(";");
  for (std::string_view t : sorted) append_field(key, t);
  key.append("k").append(std::to_string(top_k)).append(";");
  append_field(key, model_id);
  append_field(key, metric);
  append_field(key, filters);
  return key;
}

bool CacheScope::reads_table(std::string_view table) const {
  return std::find(tables.begin(), tables.end(), table) != tables.end();
}

}  // namespace ragperf
