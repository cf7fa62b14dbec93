// ragperf/local_store.h defines `LocalStore`, the embedded `VectorStore` used when no database is
// configured: nothing to start, durable on disk, fast to open.
//
//   ragperf::LocalStore store("/home/me/.ragperf/store");   // a folder, created if missing
//   store.ensure_collection("docs", 100, ragperf::Metric::kCosine, model->id());
//   store.add("docs", chunks);
//   auto hits = store.search("docs", query, {.top_k = 10});
//
// On disk (inside the folder): `store.sqlite3` (SQLite in WAL mode, synchronous=FULL; every
// add/replace_source is one transaction, so a crash loses at most the batch being written and
// never corrupts what is stored; vectors are float32 blobs) and, per collection above the ANN
// threshold, `<collection>.hnsw` (an hnswlib index, written atomically beside a record of the
// store generation it reflects; a stale or unreadable index is brought up to date on load, never
// trusted blindly).
//
// Search: collections smaller than `ann_threshold` (and every `exact` search) are scanned
// brute force over a contiguous in-memory matrix; larger ones use the HNSW index. Vectors are
// loaded lazily on the first search of a collection; opening a store reads only the catalogue.
//
// Filtered search (SearchOptions::where, ragperf/filter.h): SQLite selects the matching chunks
// (json_extract over the metadata; the last 64 match sets are kept per store generation, so a
// repeated filter skips it), then the few (<= filter_exact_max) are scanned exactly, the many go
// through the HNSW index with over-fetching by the inverse selectivity; a short ANN answer falls
// back to the exact scan, so top_k hits come back whenever top_k chunks match.
//
// Thread-safety: searches run concurrently (async_search() on the Runtime's compute pool); writes
// take an exclusive lock (one writer). Several processes may share a folder: each search notices
// writes made by others.
#pragma once

#include <filesystem>
#include <memory>

#include "ragperf/vector_store.h"

namespace ragperf {

class Runtime;

struct LocalStoreOptions {
  size_t ann_threshold = 20000;       // collections with at least this many chunks use HNSW
  size_t hnsw_m = 16;                 // HNSW graph degree: higher = better recall, more memory
  size_t hnsw_ef_construction = 100;  // build-time candidate list: higher = better graph, slower
  size_t hnsw_ef_search = 96;  // default query-time candidate list (SearchOptions::ef_search=0)
  /// A filtered search (SearchOptions::where) whose filter matches at most this many chunks
  /// scans them exactly instead of using the HNSW index. `ragperf bench filter` (20k chunks, dim
  /// 384) puts the crossover near 10k matches: 10k exact 1.05 ms vs HNSW with over-fetching
  /// 1.16 ms; 2k exact 0.35 ms vs 2.3 ms.
  size_t filter_exact_max = 8192;
  bool persist_index = true;  // write <collection>.hnsw so the next open does not rebuild
  /// Where async_search() runs its scan (the compute pool); null: Runtime::shared().
  std::shared_ptr<Runtime> runtime = nullptr;
};

class LocalStore : public VectorStore {
 public:
  /// Opens (creating when missing) the store in `folder`. Throws InputError naming the path
  /// when the folder cannot be created or `store.sqlite3` is not a ragperf SQLite store.
  explicit LocalStore(const std::filesystem::path& folder, LocalStoreOptions options = {});
  ~LocalStore() override;
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  CollectionInfo ensure_collection(const std::string& name, size_t dim, Metric metric,
                                   const std::string& model_id) override;
  std::optional<CollectionInfo> collection(const std::string& name) override;
  std::vector<CollectionInfo> collections() override;
  std::optional<std::string> source_hash(const std::string& collection,
                                         const std::string& source) override;
  void replace_source(const std::string& collection, const std::string& source,
                      const std::string& source_hash, std::span<const Chunk> chunks) override;
  size_t remove_source(const std::string& collection, const std::string& source) override;
  std::vector<std::string> list_sources(const std::string& collection) override;
  void add(const std::string& collection, std::span<const Chunk> chunks) override;
  /// The scan on the Runtime's compute pool.
  boost::asio::awaitable<std::vector<Hit>> async_search(std::string collection,
                                                        std::vector<float> query,
                                                        SearchOptions options) override;
  /// Every query in one compute task.
  boost::asio::awaitable<std::vector<SearchResult>> async_search_batch(
      std::string collection, std::vector<std::vector<float>> queries,
      SearchOptions options) override;
  /// On the calling thread (see "Awaitable and blocking forms" in ragperf/vector_store.h).
  std::vector<Hit> search(const std::string& collection, std::span<const float> query,
                          const SearchOptions& options) override;
  std::vector<SearchResult> search_batch(const std::string& collection,
                                         std::span<const std::span<const float>> queries,
                                         const SearchOptions& options) override;
  /// SQLite FTS5 (porter stemming, unicode61), BM25; on the compute pool.
  boost::asio::awaitable<std::vector<Hit>> async_text_search(std::string collection,
                                                             std::string text,
                                                             SearchOptions options) override;
  /// On the calling thread.
  std::vector<Hit> text_search(const std::string& collection, const std::string& text,
                               const SearchOptions& options) override;
  bool enable_text_search(const std::string& collection) override;
  bool has_text_search(const std::string& collection) override;
  size_t count(const std::string& collection) override;
  void drop(const std::string& collection) override;
  std::string describe() const override;

  /// Loads (or builds) the in-memory structures of `collection` now instead of on the first
  /// search, and writes the HNSW index file when it was rebuilt.
  void warm(const std::string& collection);

  /// Writes every in-memory HNSW index that changed since it was last written (also done by
  /// the destructor).
  void flush();

  const std::filesystem::path& folder() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragperf
