// ragperf/semantic_cache.h defines SemanticCache: answers repeated questions without embedding
// or querying again. Two tiers: an exact tier keyed by normalised text (Unicode NFKC, case
// folded, whitespace collapsed) and a similarity tier keyed by the query embedding (cosine
// similarity >= similarity_threshold; similarity is in [-1, 1], 1 = same direction; it is not a
// distance).
//
//   ragperf::SemanticCache cache({.capacity = 10000, .ttl = std::chrono::hours(1)}, &monitor);
//   ragperf::CacheScope scope{.tables = {"docs"}, .top_k = 4, .model_id = model.id(),
//                             .metric = "cosine"};
//   if (auto hit = cache.lookup_exact(scope, text)) return hit->payload;   // skips the model
//   auto embedding = model.embed({text}).row(0);
//   if (auto hit = cache.lookup(scope, text, embedding)) return hit->payload;
//   std::string payload = run_query(...);
//   cache.store(scope, text, embedding, payload);
//   ...
//   cache.invalidate_table("docs");   // after ingest into "docs"
//   (store_if_current(epoch, ...) instead of store() when ingest may run concurrently)
//
// Entries are scoped: a lookup only sees entries stored under an equal CacheScope (same tables,
// top_k, model, metric, filters). Payloads are opaque bytes (serialised hits, an LLM answer).
// Capacity is global with least-recently-used eviction; each entry has a time to live.
//
// Known weakness of every semantic cache: a question and its opposite ("is X safe" / "is X not
// safe", "enable X" / "disable X", "json to jsonb" / "jsonb to json") embed close together, often
// closer than two wordings of one question. bench/cache_threshold.py measures both with the
// pairs of bench/data/cache-pairs/ (curves: README.md, Semantic cache); set `exact_only = true`
// when a wrong cached answer is worse than a slower right one.
//
// Similarity lookups scan 256-bit random-hyperplane signatures of a scope's contiguous embedding
// matrix and compute exact cosines only for rows whose signature is close enough to reach the
// threshold: one pass over n signatures plus exact cosines for the candidates only (timings:
// `ragperf bench cache`, figures in README.md's Performance section).
// A true match is missed (a cache miss) with probability < 4e-5; an entry below the threshold is
// never returned.
//
// Thread-safety: every method may be called concurrently (a shared_mutex: lookups share it,
// store / invalidate take it exclusively).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf {

class PerformanceMonitor;

/// Everything that changes the answer to a query. Two scopes are equal when their key()s are.
struct CacheScope {
  std::vector<std::string> tables{};  // order and duplicates do not matter
  size_t top_k = 0;
  std::string model_id{};  // EmbeddingModel::id()
  std::string metric{};    // "cosine", "l2", "ip" ...
  std::string filters{};   // canonical text of the metadata filter (e.g. JSON with sorted keys)

  /// Canonical, unambiguous key (tables sorted and de-duplicated, fields length-prefixed).
  std::string key() const;
  bool reads_table(std::string_view table) const;
};

struct SemanticCacheOptions {
  /// Entries kept across all scopes; the least recently used is evicted beyond it. Must be > 0.
  size_t capacity = 10000;
  /// Bytes the entries may hold in all (texts, payloads, embeddings and bookkeeping, as counted
  /// by CacheStats::bytes); the least recently used are evicted beyond it, and an entry larger
  /// than this alone is not stored. Must be > 0. Default 256 MiB.
  size_t max_bytes = size_t{256} << 20;
  /// Query texts longer than this many bytes are neither stored nor looked up (a miss): a
  /// question is short, and a megabyte "query" would fill the cache. Must be > 0.
  size_t max_text_bytes = 4096;
  /// Default time to live of an entry; zero: entries never expire. Must not be negative.
  std::chrono::duration<double> ttl = std::chrono::hours(1);
  /// Cosine similarity in [-1, 1] a query needs to reuse a stored entry's payload. The default
  /// is the lowest threshold at which all-MiniLM-L6-v2 answers at most 2 % of opposite-meaning
  /// questions (bench/cache_threshold.py): in practice only near-duplicates ("... postgres" ~
  /// "... postgres?") hit, no reworded paraphrase. Lower it only with a model that separates
  /// paraphrases from opposites better; see README, Semantic cache.
  double similarity_threshold = 0.998;
  /// Only the exact tier answers; embeddings given to lookup()/store() are ignored.
  bool exact_only = false;
  /// A semantic hit also needs the same number of negation words (not, no, never, without,
  /// ...n't) in the query and the stored text: "is X safe" never answers "is X not safe".
  /// Antonyms ("open" / "closed") still pass; see README, Semantic cache.
  bool negation_guard = true;
  /// Time source for TTLs (tests inject one); default std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock{};
};

enum class CacheHitKind { kExact, kSemantic };

struct CacheHit {
  std::string payload{};
  CacheHitKind kind = CacheHitKind::kExact;
  double similarity = 1.0;    // cosine similarity of the embeddings; 1 for exact hits
  std::string stored_text{};  // the text the entry was stored under (as given to store())
};

struct CacheStats {
  uint64_t exact_hits = 0;
  uint64_t semantic_hits = 0;
  uint64_t misses = 0;              // lookup() calls that found nothing
  uint64_t exact_probe_misses = 0;  // lookup_exact() calls that found nothing
  uint64_t stores = 0;
  uint64_t evictions = 0;      // removed because the cache was full
  uint64_t expirations = 0;    // removed because their TTL passed
  uint64_t invalidations = 0;  // removed by invalidate_table()
  uint64_t not_stored = 0;     // store() calls refused: text over max_text_bytes, entry over
                               // max_bytes
  size_t entries = 0;
  size_t bytes = 0;         // held by the entries now (see SemanticCacheOptions::max_bytes)
  double lookup_p50_s = 0;  // lookup() and lookup_exact() latency
  double lookup_p99_s = 0;
  double hit_rate() const {
    const double total = static_cast<double>(exact_hits + semantic_hits + misses);
    return total > 0 ? static_cast<double>(exact_hits + semantic_hits) / total : 0;
  }
};

class SemanticCache {
 public:
  /// Throws ConfigError for capacity, max_bytes or max_text_bytes 0, a negative ttl or a
  /// threshold outside [-1, 1].
  /// `monitor` (optional, not owned, must outlive the cache) receives the stage "cache" and the
  /// counters cache_exact_hits, cache_semantic_hits, cache_misses, cache_evictions.
  explicit SemanticCache(SemanticCacheOptions options = {}, PerformanceMonitor* monitor = nullptr);
  ~SemanticCache();
  SemanticCache(const SemanticCache&) = delete;
  SemanticCache& operator=(const SemanticCache&) = delete;

  /// Exact tier first, then (when `embedding` is not empty and exact_only is off) the similarity
  /// tier. `embedding` [dim] need not be normalised. Throws InputError for invalid UTF-8, a
  /// non-finite or all-zero embedding, or a dim other than the scope's stored entries.
  std::optional<CacheHit> lookup(const CacheScope& scope, std::string_view text,
                                 std::span<const float> embedding);
  /// Exact tier only: call it before embedding to skip the model on a repeat.
  std::optional<CacheHit> lookup_exact(const CacheScope& scope, std::string_view text);

  /// Stores (or replaces) the entry for `text` in `scope`; `embedding` may be empty (exact tier
  /// only). `ttl` overrides the default (zero: never expires). Throws InputError as lookup()
  /// does, and for a negative ttl.
  void store(const CacheScope& scope, std::string_view text, std::span<const float> embedding,
             std::string payload, std::optional<std::chrono::duration<double>> ttl = std::nullopt);

  /// A point in the cache's invalidation history. Take it before reading the tables; give it to
  /// store_if_current() with the answer, so an answer read before an ingest that finished while
  /// the query ran is not stored after that ingest's invalidation:
  ///   auto epoch = cache.epoch();  auto payload = run_query(...);
  ///   cache.store_if_current(epoch, scope, text, embedding, payload);
  uint64_t epoch() const;

  /// store() unless a table of `scope` was invalidated after `epoch`, the text is longer than
  /// max_text_bytes or the entry alone is larger than max_bytes; returns whether it stored.
  bool store_if_current(uint64_t epoch, const CacheScope& scope, std::string_view text,
                        std::span<const float> embedding, std::string payload,
                        std::optional<std::chrono::duration<double>> ttl = std::nullopt);

  /// Drops every entry whose scope reads `table` (call after ingesting into it), and makes
  /// store_if_current() refuse answers read before this call. Returns the number of entries
  /// dropped.
  size_t invalidate_table(std::string_view table);
  /// Drops expired entries now (they are otherwise dropped when met). Returns how many.
  size_t purge_expired();
  void clear();
  CacheStats get_stats() const;
  size_t size() const;
  const SemanticCacheOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Negation words in normalised `text` (not, no, never, none, nothing, nobody, neither, nor,
/// without, cannot, and words ending in n't), as negation_guard compares them.
size_t count_negations(std::string_view normalized_text);

/// The exact tier's key for `text`: NFKC, case folded, default-ignorables removed, runs of
/// whitespace collapsed to one space, trimmed. Throws InputError for invalid UTF-8.
std::string normalize_query_text(std::string_view text);

}  // namespace ragperf
