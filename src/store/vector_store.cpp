// VectorStore helpers shared by every store: metric names, identifier validation, the blocking
// searches built on the awaitable ones, the default async_search_batch() and list_sources(),
// open_store().
#include "ragperf/vector_store.h"

#include <string>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "ragperf/pgvector_store.h"
#include "ragperf/runtime.h"

namespace ragperf {

const char* to_string(Metric metric) {
  switch (metric) {
    case Metric::kCosine:
      return "cosine";
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kL2:
      return "l2";
  }
  return "cosine";
}

Metric parse_metric(std::string_view text) {
  if (text == "cosine") return Metric::kCosine;
  if (text == "ip" || text == "inner_product") return Metric::kInnerProduct;
  if (text == "l2") return Metric::kL2;
  throw InputError("metric '" + std::string(text) +
                   "' is not known; use one of cosine, ip (inner product), l2");
}

void validate_identifier(std::string_view name, std::string_view what) {
  auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 63 && head(name.front());
  for (size_t i = 1; ok && i < name.size(); ++i) ok = tail(name[i]);
  if (!ok) {
    std::string shown(name.substr(0, 80));
    throw InputError(std::string(what) + " name '" + shown +
                     "' is not a valid identifier: use 1 to 63 letters, digits or underscores, "
                     "starting with a letter or underscore");
  }
}

std::vector<Hit> VectorStore::search(const std::string& collection, std::span<const float> query,
                                     const SearchOptions& options) {
  return Runtime::shared()->run_blocking(
      async_search(collection, std::vector<float>(query.begin(), query.end()), options));
}

std::vector<SearchResult> VectorStore::search_batch(const std::string& collection,
                                                    std::span<const std::span<const float>> queries,
                                                    const SearchOptions& options) {
  if (queries.empty()) return {};
  std::vector<std::vector<float>> copies;
  copies.reserve(queries.size());
  for (const auto& q : queries) copies.emplace_back(q.begin(), q.end());
  return Runtime::shared()->run_blocking(
      async_search_batch(collection, std::move(copies), options));
}

boost::asio::awaitable<std::vector<SearchResult>> VectorStore::async_search_batch(
    std::string collection, std::vector<std::vector<float>> queries, SearchOptions options) {
  std::vector<SearchResult> out(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    try {
      out[i].hits = co_await async_search(collection, std::move(queries[i]), options);
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  co_return out;
}

std::vector<SearchResult> VectorStore::search_each(const std::string& collection,
                                                   std::span<const std::span<const float>> queries,
                                                   const SearchOptions& options) {
  std::vector<SearchResult> out(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    try {
      out[i].hits = search(collection, queries[i], options);
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  return out;
}

std::vector<std::string> VectorStore::list_sources(const std::string& collection) {
  throw UnavailableError("this store (" + describe() + ") cannot list the sources of table '" +
                         collection + "'; ingest with --no-prune (IngestOptions::prune = false)");
}

boost::asio::awaitable<std::vector<Hit>> VectorStore::async_text_search(std::string collection,
                                                                        std::string text,
                                                                        SearchOptions options) {
  (void)text;
  (void)options;
  throw UnavailableError("this store (" + describe() + ") has no full-text search (table " +
                         collection + "); use mode vector");
  co_return std::vector<Hit>{};
}

std::vector<Hit> VectorStore::text_search(const std::string& collection, const std::string& text,
                                          const SearchOptions& options) {
  return Runtime::shared()->run_blocking(async_text_search(collection, text, options));
}

bool VectorStore::enable_text_search(const std::string& collection) {
  throw UnavailableError("this store (" + describe() + ") has no full-text search (table " +
                         collection + ")");
}

bool VectorStore::has_text_search(const std::string&) {
  return false;
}

std::vector<std::string> VectorStore::create_filter_indexes(const std::string& collection) {
  (void)count(collection);  // validates the name and that the collection exists
  return {};
}

std::unique_ptr<VectorStore> open_store(const Settings& settings) {
  bool postgres = !settings.database_url.empty();
  for (const char* var : {"PGHOST", "PGDATABASE", "PGSERVICE"}) {
    if (auto v = settings.lookup(var); v && !v->empty()) postgres = true;
  }
  if (postgres) return open_pgvector_store(settings);
  std::filesystem::path home = settings.home;
  if (home.empty()) {
    throw ConfigError(
        "RAGPERF_HOME is empty and no database is configured; set RAGPERF_HOME or "
        "DATABASE_URL");
  }
  return std::make_unique<LocalStore>(home / "store");
}

}  // namespace ragperf
