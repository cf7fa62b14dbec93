#include "ragperf/semantic_cache.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <unordered_map>

#include "base/distance.h"
#include "cache/vector_index.h"
#include "ragperf/error.h"
#include "ragperf/monitor.h"

namespace ragperf {

namespace {

using Clock = std::chrono::steady_clock;

// `value` as a person writes it (0.998, not std::to_string's 0.998000).
std::string shortest(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct ScopeData;

struct Entry {
  ScopeData* scope = nullptr;
  std::string normalized;
  std::string text;
  std::string payload;
  bool indexed = false;  // has an embedding in scope->vectors
  size_t bytes = 0;      // entry_bytes() when stored
  size_t negations = 0;  // count_negations(normalized)
  Clock::time_point expires_at = Clock::time_point::max();
  std::list<uint64_t>::iterator lru;
};

struct ScopeData {
  std::string key;
  CacheScope scope;
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> exact;
  std::unique_ptr<cache::VectorIndex> vectors;  // created with the first embedding
};

// The embedding scaled to unit length (cosine similarity becomes a dot product).
std::vector<float> unit_vector(std::span<const float> v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      throw InputError("embedding[" + std::to_string(i) + "] = " + std::to_string(v[i]) +
                       " is not finite; the embedding model produced NaN/Inf, check its input");
  }
  const double norm2 = base::squared_norm(v.data(), v.size());
  if (!(norm2 > 0))
    throw InputError("embedding of " + std::to_string(v.size()) +
                     " dims is all zeros; cosine similarity is undefined for it");
  const double inv = 1.0 / std::sqrt(norm2);
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] * inv);
  return out;
}

std::string checked_normalize(std::string_view text) {
  std::string n = normalize_query_text(text);
  if (n.empty())
    throw InputError("query text is empty (or only whitespace); the cache needs a question");
  return n;
}

// What an entry holds, as max_bytes counts it: its strings (the normalised text twice: the
// entry's and the exact tier's key), its embedding and a fixed allowance for the map, list and
// index nodes.
size_t entry_bytes(size_t normalized, size_t text, size_t payload, size_t dim) {
  constexpr size_t kOverhead = 256;
  return 2 * normalized + text + payload + dim * sizeof(float) + kOverhead;
}

void check_dim(const ScopeData& sd, size_t dim) {
  if (sd.vectors && sd.vectors->dim() != dim)
    throw InputError("embedding has " + std::to_string(dim) +
                     " dims but this cache scope (model '" + sd.scope.model_id + "') holds " +
                     std::to_string(sd.vectors->dim()) +
                     "-dim embeddings; use one model per scope (CacheScope::model_id)");
}

}  // namespace

struct SemanticCache::Impl {
  SemanticCacheOptions options;
  PerformanceMonitor* monitor = nullptr;
  PerformanceMonitor timings;  // stage "lookup"

  mutable std::shared_mutex mu;
  std::mutex lru_mu;        // guards `lru` order changes made under a shared lock of `mu`
  std::list<uint64_t> lru;  // entry ids, most recently used first
  std::unordered_map<uint64_t, Entry> entries;
  std::unordered_map<std::string, std::unique_ptr<ScopeData>, StringHash, std::equal_to<>> scopes;
  uint64_t next_id = 1;  // ids are never reused
  // Invalidation history: the counter grows by one per invalidate_table(); each table keeps the
  // value of its last invalidation (guarded by `mu`).
  uint64_t invalidation_epoch = 0;
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> table_invalidated_at;

  std::atomic<uint64_t> exact_hits{0}, semantic_hits{0}, misses{0}, exact_probe_misses{0},
      stores{0}, evictions{0}, expirations{0}, invalidations{0}, not_stored{0};
  size_t bytes = 0;  // sum of the entries' `bytes` (guarded by `mu`)

  Clock::time_point now() const { return options.clock(); }

  // Requires `mu` held exclusively.
  void remove_entry(uint64_t id) {
    auto it = entries.find(id);
    if (it == entries.end()) return;
    Entry& e = it->second;
    ScopeData* sd = e.scope;
    sd->exact.erase(e.normalized);
    if (e.indexed) sd->vectors->remove(id);
    lru.erase(e.lru);
    bytes -= e.bytes;
    entries.erase(it);
    if (sd->exact.empty()) scopes.erase(sd->key);
  }

  void remove_if_expired(const std::vector<uint64_t>& ids) {
    std::unique_lock lock(mu);
    const auto t = now();
    for (uint64_t id : ids) {
      auto it = entries.find(id);
      if (it != entries.end() && it->second.expires_at <= t) {
        remove_entry(id);
        expirations.fetch_add(1, std::memory_order_relaxed);
        if (monitor) monitor->increment("cache_expirations");
      }
    }
  }

  void count(std::atomic<uint64_t>& stat, const char* counter) {
    stat.fetch_add(1, std::memory_order_relaxed);
    if (monitor) monitor->increment(counter);
  }

  std::optional<CacheHit> find(const CacheScope& scope, std::string_view text,
                               std::span<const float> embedding, bool semantic) {
    const auto t0 = Clock::now();
    if (text.size() > options.max_text_bytes) {  // never stored: a miss without the work
      count(misses, "cache_misses");
      return std::nullopt;
    }
    const std::string normalized = checked_normalize(text);
    std::vector<float> query;
    if (semantic) query = unit_vector(embedding);
    const std::string key = scope.key();
    std::vector<uint64_t> expired;
    std::optional<CacheHit> hit;
    {
      std::shared_lock lock(mu);
      const auto t = now();
      if (auto sit = scopes.find(key); sit != scopes.end()) {
        ScopeData& sd = *sit->second;
        if (semantic) check_dim(sd, query.size());
        const Entry* found = nullptr;
        uint64_t found_id = 0;
        if (auto eit = sd.exact.find(normalized); eit != sd.exact.end()) {
          const Entry& e = entries.at(eit->second);
          if (e.expires_at <= t) {
            expired.push_back(eit->second);
          } else {
            found = &e;
            found_id = eit->second;
            hit.emplace(CacheHit{{}, CacheHitKind::kExact, 1.0, {}});
          }
        }
        if (!found && semantic && sd.vectors) {
          const float threshold = static_cast<float>(options.similarity_threshold);
          const size_t negations = count_negations(normalized);
          for (const auto& m : sd.vectors->search(query, threshold)) {
            const Entry& e = entries.at(m.entry_id);
            if (e.expires_at <= t) {
              expired.push_back(m.entry_id);
              continue;
            }
            if (options.negation_guard && e.negations != negations) continue;
            found = &e;
            found_id = m.entry_id;
            hit.emplace(CacheHit{{}, CacheHitKind::kSemantic, m.similarity, {}});
            break;
          }
        }
        if (found) {
          hit->payload = found->payload;
          hit->stored_text = found->text;
          std::lock_guard lru_lock(lru_mu);
          lru.splice(lru.begin(), lru, entries.at(found_id).lru);
        }
      }
    }
    if (!expired.empty()) remove_if_expired(expired);
    if (hit) {
      if (hit->kind == CacheHitKind::kExact)
        count(exact_hits, "cache_exact_hits");
      else
        count(semantic_hits, "cache_semantic_hits");
    } else if (semantic || !embedding.empty() || options.exact_only) {
      count(misses, "cache_misses");
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    timings.record("lookup", seconds);
    if (monitor) monitor->record("cache", seconds);
    return hit;
  }
};

SemanticCache::SemanticCache(SemanticCacheOptions options, PerformanceMonitor* monitor)
    : impl_(std::make_unique<Impl>()) {
  if (options.capacity == 0)
    throw ConfigError(
        "SemanticCache capacity is 0; set capacity to the number of entries to keep (e.g. 10000)");
  if (!(options.similarity_threshold >= -1.0 && options.similarity_threshold <= 1.0))
    throw ConfigError("SemanticCache similarity_threshold " +
                      std::to_string(options.similarity_threshold) +
                      " is outside [-1, 1]; it is a cosine similarity (1 = identical), not a "
                      "distance; " +
                      shortest(SemanticCacheOptions{}.similarity_threshold) + " is the default");
  if (!std::isfinite(options.ttl.count()) || options.ttl.count() < 0)
    throw ConfigError("SemanticCache ttl " + std::to_string(options.ttl.count()) +
                      " s is negative or not finite; use seconds > 0, or 0 for no expiry");
  if (options.max_bytes == 0)
    throw ConfigError("SemanticCache max_bytes is 0; set the bytes the cache may hold (e.g. " +
                      std::to_string(size_t{256} << 20) + ")");
  if (options.max_text_bytes == 0)
    throw ConfigError(
        "SemanticCache max_text_bytes is 0; set the longest query text to cache (e.g. 4096)");
  if (!options.clock) options.clock = [] { return Clock::now(); };
  impl_->options = std::move(options);
  impl_->monitor = monitor;
}

SemanticCache::~SemanticCache() = default;

std::optional<CacheHit> SemanticCache::lookup(const CacheScope& scope, std::string_view text,
                                              std::span<const float> embedding) {
  const bool semantic = !impl_->options.exact_only && !embedding.empty();
  auto hit = impl_->find(scope, text, embedding, semantic);
  if (!hit && !semantic && embedding.empty() && !impl_->options.exact_only)
    impl_->count(impl_->misses, "cache_misses");
  return hit;
}

std::optional<CacheHit> SemanticCache::lookup_exact(const CacheScope& scope,
                                                    std::string_view text) {
  auto hit = impl_->find(scope, text, {}, false);
  if (!hit && !impl_->options.exact_only)
    impl_->exact_probe_misses.fetch_add(1, std::memory_order_relaxed);
  return hit;
}

void SemanticCache::store(const CacheScope& scope, std::string_view text,
                          std::span<const float> embedding, std::string payload,
                          std::optional<std::chrono::duration<double>> ttl) {
  store_if_current(std::numeric_limits<uint64_t>::max(), scope, text, embedding, std::move(payload),
                   ttl);
}

uint64_t SemanticCache::epoch() const {
  std::shared_lock lock(impl_->mu);
  return impl_->invalidation_epoch;
}

bool SemanticCache::store_if_current(uint64_t epoch, const CacheScope& scope, std::string_view text,
                                     std::span<const float> embedding, std::string payload,
                                     std::optional<std::chrono::duration<double>> ttl) {
  Impl& m = *impl_;
  if (text.size() > m.options.max_text_bytes) {
    m.not_stored.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const std::string normalized = checked_normalize(text);
  std::vector<float> vec;
  if (!m.options.exact_only && !embedding.empty()) vec = unit_vector(embedding);
  const double ttl_s = ttl ? ttl->count() : m.options.ttl.count();
  if (!std::isfinite(ttl_s) || ttl_s < 0)
    throw InputError("cache entry ttl " + std::to_string(ttl_s) +
                     " s is negative or not finite; use seconds > 0, or 0 for no expiry");
  const std::string key = scope.key();
  const size_t new_bytes = entry_bytes(normalized.size(), text.size(), payload.size(), vec.size());
  if (new_bytes > m.options.max_bytes) {
    m.not_stored.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  std::unique_lock lock(m.mu);
  for (const std::string& table : scope.tables) {
    auto it = m.table_invalidated_at.find(table);
    if (it != m.table_invalidated_at.end() && it->second > epoch) return false;  // read stale rows
  }
  const auto t = m.now();
  auto expires = Clock::time_point::max();
  if (ttl_s > 0 && ttl_s < 3.0e9 /* ~95 years: beyond it, never */)
    expires = t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ttl_s));

  auto sit = m.scopes.find(key);
  if (sit != m.scopes.end() && !vec.empty()) check_dim(*sit->second, vec.size());
  if (sit == m.scopes.end()) {
    auto sd = std::make_unique<ScopeData>();
    sd->key = key;
    sd->scope = scope;
    sit = m.scopes.emplace(key, std::move(sd)).first;
  }
  ScopeData& sd = *sit->second;
  if (!vec.empty() && !sd.vectors) {
    sd.vectors = std::make_unique<cache::VectorIndex>(vec.size());
  }

  uint64_t id;
  if (auto eit = sd.exact.find(normalized); eit != sd.exact.end()) {
    id = eit->second;  // replace in place
    Entry& e = m.entries.at(id);
    if (e.indexed) sd.vectors->remove(id);
    e.indexed = false;
    e.text = std::string(text);
    e.payload = std::move(payload);
    e.expires_at = expires;
    m.lru.splice(m.lru.begin(), m.lru, e.lru);
    e.negations = count_negations(normalized);
    m.bytes = m.bytes - e.bytes + new_bytes;
    e.bytes = new_bytes;
  } else {
    id = m.next_id++;
    Entry e;
    e.scope = &sd;
    e.normalized = normalized;
    e.negations = count_negations(normalized);
    e.text = std::string(text);
    e.payload = std::move(payload);
    e.expires_at = expires;
    e.bytes = new_bytes;
    m.bytes += new_bytes;
    m.lru.push_front(id);
    e.lru = m.lru.begin();
    m.entries.emplace(id, std::move(e));
    sd.exact.emplace(normalized, id);
  }
  if (!vec.empty()) {
    sd.vectors->add(id, vec);
    m.entries.at(id).indexed = true;
  }
  m.stores.fetch_add(1, std::memory_order_relaxed);

  while (m.entries.size() > m.options.capacity || m.bytes > m.options.max_bytes) {
    const uint64_t victim = m.lru.back();
    const bool expired = m.entries.at(victim).expires_at <= t;
    m.remove_entry(victim);
    if (expired)
      m.count(m.expirations, "cache_expirations");
    else
      m.count(m.evictions, "cache_evictions");
  }
  return true;
}

size_t SemanticCache::invalidate_table(std::string_view table) {
  std::unique_lock lock(impl_->mu);
  std::vector<uint64_t> ids;
  for (const auto& [key, sd] : impl_->scopes) {
    if (!sd->scope.reads_table(table)) continue;
    for (const auto& [text, id] : sd->exact) ids.push_back(id);
  }
  for (uint64_t id : ids) impl_->remove_entry(id);
  impl_->table_invalidated_at[std::string(table)] = ++impl_->invalidation_epoch;
  impl_->invalidations.fetch_add(ids.size(), std::memory_order_relaxed);
  return ids.size();
}

size_t SemanticCache::purge_expired() {
  std::unique_lock lock(impl_->mu);
  const auto t = impl_->now();
  std::vector<uint64_t> ids;
  for (const auto& [id, e] : impl_->entries)
    if (e.expires_at <= t) ids.push_back(id);
  for (uint64_t id : ids) impl_->remove_entry(id);
  impl_->expirations.fetch_add(ids.size(), std::memory_order_relaxed);
  if (impl_->monitor && !ids.empty()) impl_->monitor->increment("cache_expirations", ids.size());
  return ids.size();
}

void SemanticCache::clear() {
  std::unique_lock lock(impl_->mu);
  impl_->entries.clear();
  impl_->scopes.clear();
  impl_->lru.clear();
  impl_->bytes = 0;
}

CacheStats SemanticCache::get_stats() const {
  const Impl& m = *impl_;
  CacheStats s;
  s.exact_hits = m.exact_hits.load(std::memory_order_relaxed);
  s.semantic_hits = m.semantic_hits.load(std::memory_order_relaxed);
  s.misses = m.misses.load(std::memory_order_relaxed);
  s.exact_probe_misses = m.exact_probe_misses.load(std::memory_order_relaxed);
  s.stores = m.stores.load(std::memory_order_relaxed);
  s.evictions = m.evictions.load(std::memory_order_relaxed);
  s.expirations = m.expirations.load(std::memory_order_relaxed);
  s.invalidations = m.invalidations.load(std::memory_order_relaxed);
  s.not_stored = m.not_stored.load(std::memory_order_relaxed);
  {
    std::shared_lock lock(m.mu);
    s.entries = m.entries.size();
    s.bytes = m.bytes;
  }
  if (auto t = m.timings.get_stats("lookup")) {
    s.lookup_p50_s = t->p50_s;
    s.lookup_p99_s = t->p99_s;
  }
  return s;
}

size_t SemanticCache::size() const {
  std::shared_lock lock(impl_->mu);
  return impl_->entries.size();
}

const SemanticCacheOptions& SemanticCache::options() const {
  return impl_->options;
}

}  // namespace ragperf
