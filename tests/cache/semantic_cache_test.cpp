// SemanticCache: both tiers, scopes, LRU, TTL (injected clock), invalidation, exact_only,
// bad input, and concurrent use.
#include "ragperf/semantic_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/monitor.h"

namespace ragperf {
namespace {

using namespace std::chrono_literals;

constexpr size_t kDim = 16;

CacheScope docs_scope(size_t top_k = 4) {
  return CacheScope{.tables = {"docs"}, .top_k = top_k, .model_id = "m1", .metric = "cosine"};
}

// A unit vector along axis `axis`, rotated towards axis+1 so that cos(v(a,0), v(a,t)) = cos(t).
std::vector<float> vec(size_t axis, double angle = 0) {
  std::vector<float> v(kDim, 0.0f);
  v[axis % kDim] = static_cast<float>(std::cos(angle));
  v[(axis + 1) % kDim] = static_cast<float>(std::sin(angle));
  return v;
}

// A manual clock for TTL tests.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> ms = std::make_shared<std::atomic<int64_t>>(0);
  std::function<std::chrono::steady_clock::time_point()> fn() const {
    auto p = ms;
    return [p] { return std::chrono::steady_clock::time_point(std::chrono::milliseconds(*p)); };
  }
  void advance(std::chrono::milliseconds d) { *ms += d.count(); }
};

// prefix + number (append form: GCC 12 -O3 flags `"lit" + std::to_string()` with -Wrestrict).
std::string numbered(const char* prefix, size_t i) {
  std::string s(prefix);
  s.append(std::to_string(i));
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SemanticCache, ExactHitIgnoresCaseWhitespaceAndUnicodeForms) {
  SemanticCache cache;
  cache.store(docs_scope(), "How do I reset my password?", {}, "answer-1");
  for (const char* q : {"How do I reset my password?", "  how   DO i reset\tmy password?  ",
                        "How do I reset my password\xEF\xBC\x9F" /* fullwidth ? (NFKC) */}) {
    auto hit = cache.lookup_exact(docs_scope(), q);
    ASSERT_TRUE(hit) << q;
    EXPECT_EQ(hit->payload, "answer-1");
    EXPECT_EQ(hit->kind, CacheHitKind::kExact);
    EXPECT_EQ(hit->similarity, 1.0);
    EXPECT_EQ(hit->stored_text, "How do I reset my password?");
  }
  EXPECT_FALSE(cache.lookup_exact(docs_scope(), "How do I reset my passwords?"));
  EXPECT_EQ(cache.get_stats().exact_hits, 3u);
  EXPECT_EQ(cache.get_stats().exact_probe_misses, 1u);
}

TEST(SemanticCache, NormalizeQueryText) {
  EXPECT_EQ(normalize_query_text("  Hello\n\n  WORLD  "), "hello world");
  EXPECT_EQ(normalize_query_text("Stra\xC3\x9F"
                                 "e"),
            "strasse");                                       // ß case folds
  EXPECT_EQ(normalize_query_text("\xEF\xAC\x81le"), "file");  // ﬁ ligature (NFKC)
  EXPECT_EQ(normalize_query_text("a\xE2\x80\x8B"
                                 "b"),
            "ab");  // zero-width space
  EXPECT_EQ(normalize_query_text("a\xC2\xA0\xE3\x80\x80"
                                 "b"),
            "a b");  // nbsp, ideographic
  EXPECT_EQ(normalize_query_text("Cafe\xCC\x81"), normalize_query_text("Caf\xC3\xA9"));  // NFC
  EXPECT_THROW(normalize_query_text("bad \xFF utf8"), InputError);
  // The error names the first bad byte, also for a surrogate (ED A0 80) and an overlong form.
  for (const auto& [text, byte] : {std::pair<std::string, size_t>{"bad \xFF utf8", 4},
                                   {"ab\xED\xA0\x80", 2},
                                   {"x\xC0\xAF", 1}}) {
    try {
      normalize_query_text(text);
      ADD_FAILURE() << "accepted invalid UTF-8 at byte " << byte;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8 (byte " + std::to_string(byte) + ")"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(SemanticCache, SemanticHitAboveThresholdMissBelow) {
  SemanticCache cache({.similarity_threshold = 0.95});
  cache.store(docs_scope(), "how do I reset my password", vec(0), "answer");
  // cos(0.2) = 0.980 >= 0.95: a paraphrase.
  auto hit = cache.lookup(docs_scope(), "how can I reset the password", vec(0, 0.2));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, CacheHitKind::kSemantic);
  EXPECT_NEAR(hit->similarity, std::cos(0.2), 1e-5);
  EXPECT_EQ(hit->payload, "answer");
  // cos(0.4) = 0.921 < 0.95.
  EXPECT_FALSE(cache.lookup(docs_scope(), "how do I change my username", vec(0, 0.4)));
  // Opposite direction: similarity -1, never a hit.
  std::vector<float> opposite = vec(0);
  for (float& x : opposite) x = -x;
  EXPECT_FALSE(cache.lookup(docs_scope(), "something else", opposite));
  // Unnormalised embeddings are fine: cosine ignores length.
  std::vector<float> longer = vec(0, 0.1);
  for (float& x : longer) x *= 7.5f;
  EXPECT_TRUE(cache.lookup(docs_scope(), "reset password how", longer));
  auto s = cache.get_stats();
  EXPECT_EQ(s.semantic_hits, 2u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.exact_hits, 0u);
}

TEST(SemanticCache, PicksTheMostSimilarEntryAndPrefersExact) {
  SemanticCache cache({.similarity_threshold = 0.9});
  cache.store(docs_scope(), "a", vec(0, 0.0), "A");
  cache.store(docs_scope(), "b", vec(0, 0.3), "B");
  auto hit = cache.lookup(docs_scope(), "query", vec(0, 0.25));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->payload, "B");
  // Exact text wins even when another entry's embedding is closer.
  hit = cache.lookup(docs_scope(), "A", vec(0, 0.3));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, CacheHitKind::kExact);
  EXPECT_EQ(hit->payload, "A");
}

TEST(SemanticCache, ScopeMismatchIsAMiss) {
  SemanticCache cache;
  cache.store(docs_scope(4), "what is pgvector", vec(3), "top4");
  EXPECT_FALSE(cache.lookup(docs_scope(5), "what is pgvector", vec(3)));  // other top_k
  CacheScope other_model = docs_scope(4);
  other_model.model_id = "m2";
  EXPECT_FALSE(cache.lookup(other_model, "what is pgvector", vec(3)));
  CacheScope filtered = docs_scope(4);
  filtered.filters = R"({"lang":"en"})";
  EXPECT_FALSE(cache.lookup(filtered, "what is pgvector", vec(3)));
  CacheScope two_tables = docs_scope(4);
  two_tables.tables = {"docs", "faq"};
  EXPECT_FALSE(cache.lookup(two_tables, "what is pgvector", vec(3)));
  EXPECT_TRUE(cache.lookup(docs_scope(4), "what is pgvector", vec(3)));
  // Table order and duplicates do not change the scope.
  CacheScope a{.tables = {"faq", "docs", "faq"}, .top_k = 4, .model_id = "m1"};
  CacheScope b{.tables = {"docs", "faq"}, .top_k = 4, .model_id = "m1"};
  EXPECT_EQ(a.key(), b.key());
  // Fields cannot bleed into each other.
  CacheScope c{.tables = {"a;b"}, .top_k = 1};
  CacheScope d{.tables = {"a", "b"}, .top_k = 1};
  EXPECT_NE(c.key(), d.key());
}

TEST(SemanticCache, EvictsTheLeastRecentlyUsed) {
  PerformanceMonitor monitor;
  SemanticCache cache({.capacity = 3}, &monitor);
  cache.store(docs_scope(), "q1", vec(1), "1");
  cache.store(docs_scope(), "q2", vec(2), "2");
  cache.store(docs_scope(), "q3", vec(3), "3");
  ASSERT_TRUE(cache.lookup_exact(docs_scope(), "q1"));  // q1 is now most recent; q2 least
  cache.store(docs_scope(), "q4", vec(4), "4");
  EXPECT_FALSE(cache.lookup_exact(docs_scope(), "q2"));
  EXPECT_FALSE(cache.lookup(docs_scope(), "other", vec(2)));  // gone from the vector tier too
  ASSERT_TRUE(cache.lookup(docs_scope(), "other", vec(3)));   // semantic hit refreshes q3
  cache.store(docs_scope(), "q5", vec(5), "5");               // evicts q1
  EXPECT_FALSE(cache.lookup_exact(docs_scope(), "q1"));
  EXPECT_TRUE(cache.lookup_exact(docs_scope(), "q3"));
  EXPECT_TRUE(cache.lookup_exact(docs_scope(), "q4"));
  EXPECT_TRUE(cache.lookup_exact(docs_scope(), "q5"));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.get_stats().evictions, 2u);
  EXPECT_EQ(monitor.counter("cache_evictions"), 2u);
  EXPECT_TRUE(monitor.get_stats("cache").has_value());
}

TEST(SemanticCache, StoringTheSameTextReplacesTheEntry) {
  SemanticCache cache({.capacity = 2});
  cache.store(docs_scope(), "q", vec(1), "old");
  cache.store(docs_scope(), "  Q ", vec(7), "new");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.lookup_exact(docs_scope(), "q")->payload, "new");
  EXPECT_FALSE(cache.lookup(docs_scope(), "x", vec(1)));  // the old embedding is gone
  EXPECT_EQ(cache.lookup(docs_scope(), "x", vec(7))->payload, "new");
}

TEST(SemanticCache, EntriesExpireAfterTheirTtl) {
  FakeClock clock;
  SemanticCache cache({.ttl = 10s, .clock = clock.fn()});
  cache.store(docs_scope(), "default ttl", vec(1), "a");
  cache.store(docs_scope(), "short ttl", vec(2), "b", 2s);
  cache.store(docs_scope(), "no expiry", vec(3), "c", 0s);
  clock.advance(1999ms);
  EXPECT_TRUE(cache.lookup_exact(docs_scope(), "short ttl"));
  clock.advance(1ms);
  EXPECT_FALSE(cache.lookup_exact(docs_scope(), "short ttl"));
  EXPECT_FALSE(cache.lookup(docs_scope(), "near short", vec(2)));  // nor semantically
  EXPECT_TRUE(cache.lookup(docs_scope(), "near default", vec(1)));
  clock.advance(8s);
  EXPECT_FALSE(cache.lookup(docs_scope(), "near default", vec(1)));
  clock.advance(std::chrono::hours(24 * 365));
  EXPECT_TRUE(cache.lookup_exact(docs_scope(), "no expiry"));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.get_stats().expirations, 2u);
}

TEST(SemanticCache, PurgeExpiredAndExpiredEntriesAreEvictedFirstAsExpirations) {
  FakeClock clock;
  SemanticCache cache({.capacity = 2, .ttl = 5s, .clock = clock.fn()});
  cache.store(docs_scope(), "a", {}, "a");
  cache.store(docs_scope(), "b", {}, "b", 0s);
  clock.advance(6s);
  cache.store(docs_scope(), "c", {}, "c");  // full: LRU victim "a" has expired
  EXPECT_EQ(cache.get_stats().expirations, 1u);
  EXPECT_EQ(cache.get_stats().evictions, 0u);
  clock.advance(6s);
  EXPECT_EQ(cache.purge_expired(), 1u);  // "c"
  EXPECT_EQ(cache.size(), 1u);
}

// An answer read before an ingest finished must not be stored after that ingest's invalidation.
TEST(SemanticCache, StoreIfCurrentRefusesAnswersReadBeforeAnInvalidation) {
  SemanticCache cache;
  CacheScope docs = docs_scope();
  CacheScope both{.tables = {"faq", "docs"}, .top_k = 4, .model_id = "m1"};
  CacheScope faq{.tables = {"faq"}, .top_k = 4, .model_id = "m1"};
  const uint64_t before = cache.epoch();
  EXPECT_EQ(cache.invalidate_table("docs"), 0u);  // an ingest into docs ends while queries run
  EXPECT_GT(cache.epoch(), before);
  EXPECT_FALSE(cache.store_if_current(before, docs, "q1", vec(1), "stale"));
  EXPECT_FALSE(cache.store_if_current(before, both, "q2", vec(2), "stale"));
  EXPECT_TRUE(cache.store_if_current(before, faq, "q3", vec(3), "fresh"));  // faq untouched
  EXPECT_FALSE(cache.lookup(docs, "q1", vec(1)));
  EXPECT_FALSE(cache.lookup(both, "q2", vec(2)));
  EXPECT_EQ(cache.lookup(faq, "q3", vec(3))->payload, "fresh");
  EXPECT_EQ(cache.get_stats().stores, 1u);
  // Read after the invalidation: stored.
  const uint64_t after = cache.epoch();
  EXPECT_TRUE(cache.store_if_current(after, docs, "q1", vec(1), "new"));
  EXPECT_EQ(cache.lookup(docs, "q1", vec(1))->payload, "new");
  // Plain store() never refuses.
  cache.invalidate_table("docs");
  cache.store(docs, "q4", vec(4), "4");
  EXPECT_TRUE(cache.lookup(docs, "q4", vec(4)));
}

TEST(SemanticCache, InvalidateTableDropsEntriesReadingIt) {
  SemanticCache cache;
  CacheScope docs = docs_scope();
  CacheScope both{.tables = {"faq", "docs"}, .top_k = 4, .model_id = "m1"};
  CacheScope faq{.tables = {"faq"}, .top_k = 4, .model_id = "m1"};
  cache.store(docs, "q1", vec(1), "1");
  cache.store(both, "q2", vec(2), "2");
  cache.store(faq, "q3", vec(3), "3");
  EXPECT_EQ(cache.invalidate_table("docs"), 2u);
  EXPECT_FALSE(cache.lookup(docs, "q1", vec(1)));
  EXPECT_FALSE(cache.lookup(both, "q2", vec(2)));
  EXPECT_TRUE(cache.lookup(faq, "q3", vec(3)));
  EXPECT_EQ(cache.invalidate_table("nothing"), 0u);
  EXPECT_EQ(cache.get_stats().invalidations, 2u);
  // The scope can be filled again after invalidation.
  cache.store(docs, "q1", vec(1), "1b");
  EXPECT_EQ(cache.lookup(docs, "x", vec(1))->payload, "1b");
}

TEST(SemanticCache, ExactOnlyNeverAnswersFromSimilarity) {
  SemanticCache cache({.exact_only = true});
  cache.store(docs_scope(), "is aspirin safe", vec(1), "yes");
  EXPECT_FALSE(cache.lookup(docs_scope(), "is aspirin not safe", vec(1)));
  EXPECT_TRUE(cache.lookup(docs_scope(), "Is aspirin safe", vec(1)));
  std::vector<float> wrong_dim(3, 1.0f);
  EXPECT_TRUE(cache.lookup(docs_scope(), "is aspirin safe", wrong_dim));  // embedding ignored
  EXPECT_EQ(cache.get_stats().semantic_hits, 0u);
  EXPECT_EQ(cache.get_stats().misses, 1u);
}

TEST(SemanticCache, NegationGuardRefusesSemanticHitsAcrossANegation) {
  SemanticCache guarded;  // negation_guard is on by default
  SemanticCache unguarded({.negation_guard = false});
  for (SemanticCache* c : {&guarded, &unguarded}) {
    c->store(docs_scope(), "is aspirin safe during pregnancy", vec(1), "safe-answer");
    c->store(docs_scope(), "why doesn\u2019t my build work", vec(5), "build-answer");
  }
  // Identical embeddings: only the negation tells the questions apart.
  EXPECT_FALSE(guarded.lookup(docs_scope(), "is aspirin not safe during pregnancy", vec(1)));
  EXPECT_FALSE(guarded.lookup(docs_scope(), "why does my build work", vec(5)));
  EXPECT_TRUE(guarded.lookup(docs_scope(), "is aspirin safe while pregnant", vec(1)));
  EXPECT_TRUE(guarded.lookup(docs_scope(), "why doesn't the build work", vec(5)));  // ' vs \u2019
  EXPECT_TRUE(unguarded.lookup(docs_scope(), "is aspirin not safe during pregnancy", vec(1)));
  // The exact tier is never affected.
  EXPECT_TRUE(guarded.lookup(docs_scope(), "Is aspirin safe during pregnancy", vec(1)));
}

TEST(SemanticCache, CountNegations) {
  EXPECT_EQ(count_negations("is it safe"), 0u);
  EXPECT_EQ(count_negations("is it not safe"), 1u);
  EXPECT_EQ(count_negations("why doesn't it work"), 1u);
  EXPECT_EQ(count_negations("i can't and won't"), 2u);
  EXPECT_EQ(count_negations("never say no"), 2u);
  EXPECT_EQ(count_negations("cannot, without notes"), 2u);  // "notes" is not "not"
  EXPECT_EQ(count_negations(normalize_query_text("Doesn\u2019t")), 1u);
  EXPECT_EQ(count_negations(""), 0u);
}

TEST(SemanticCache, LookupWithoutEmbeddingUsesTheExactTier) {
  SemanticCache cache;
  cache.store(docs_scope(), "q", vec(1), "p");
  EXPECT_TRUE(cache.lookup(docs_scope(), "Q", {}));
  EXPECT_FALSE(cache.lookup(docs_scope(), "other", {}));
  EXPECT_EQ(cache.get_stats().misses, 1u);
}

TEST(SemanticCache, PayloadsAreOpaqueBytes) {
  SemanticCache cache;
  std::string bytes("\0\x01\xff binary \0 answer", 20);
  cache.store(docs_scope(), "llm answer", {}, bytes);
  EXPECT_EQ(cache.lookup_exact(docs_scope(), "llm answer")->payload, bytes);
}

TEST(SemanticCache, BadOptionsThrowConfigError) {
  EXPECT_NE(error_of([] { SemanticCache c({.capacity = 0}); }).find("capacity"), std::string::npos);
  EXPECT_THROW(SemanticCache({.capacity = 0}), ConfigError);
  EXPECT_THROW(SemanticCache({.similarity_threshold = 1.5}), ConfigError);
  EXPECT_NE(
      error_of([] { SemanticCache c({.similarity_threshold = 1.5}); }).find("0.998 is the default"),
      std::string::npos);
  EXPECT_THROW(SemanticCache({.similarity_threshold = -1.01}), ConfigError);
  EXPECT_THROW(SemanticCache({.similarity_threshold = std::nan("")}), ConfigError);
  EXPECT_NE(error_of([] { SemanticCache c({.similarity_threshold = 2}); }).find("[-1, 1]"),
            std::string::npos);
  EXPECT_THROW(SemanticCache({.ttl = -1s}), ConfigError);
  EXPECT_NO_THROW(SemanticCache({.similarity_threshold = -1.0}));
}

TEST(SemanticCache, BadInputThrowsInputErrorAndChangesNothing) {
  SemanticCache cache;
  cache.store(docs_scope(), "q", vec(1), "p");
  std::vector<float> wide(384, 0.1f);
  const std::string msg = error_of([&] { cache.lookup(docs_scope(), "x", wide); });
  EXPECT_NE(msg.find("384"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16"), std::string::npos) << msg;
  EXPECT_THROW(cache.store(docs_scope(), "other", wide, "p"), InputError);
  EXPECT_THROW(cache.store(docs_scope(), "q", wide, "p"), InputError);  // even for a replace
  std::vector<float> nan_vec = vec(1);
  nan_vec[5] = std::nanf("");
  EXPECT_NE(error_of([&] { cache.lookup(docs_scope(), "x", nan_vec); }).find("embedding[5]"),
            std::string::npos);
  std::vector<float> inf_vec = vec(1);
  inf_vec[0] = INFINITY;
  EXPECT_THROW(cache.store(docs_scope(), "y", inf_vec, "p"), InputError);
  EXPECT_THROW(cache.store(docs_scope(), "y", std::vector<float>(kDim, 0.0f), "p"), InputError);
  EXPECT_THROW(cache.store(docs_scope(), "bad \xC3", {}, "p"), InputError);
  EXPECT_THROW(cache.store(docs_scope(), "   ", {}, "p"), InputError);
  EXPECT_THROW(cache.lookup_exact(docs_scope(), ""), InputError);
  EXPECT_THROW(cache.store(docs_scope(), "z", {}, "p", -1s), InputError);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.lookup_exact(docs_scope(), "q")->payload, "p");
  // Another scope may use another dimension.
  CacheScope other = docs_scope();
  other.model_id = "wide-model";
  EXPECT_NO_THROW(cache.store(other, "q", wide, "w"));
}

TEST(SemanticCache, ClearAndStats) {
  SemanticCache cache;
  cache.store(docs_scope(), "q", vec(1), "p");
  (void)cache.lookup(docs_scope(), "q", vec(1));
  (void)cache.lookup(docs_scope(), "z", vec(9));
  auto s = cache.get_stats();
  EXPECT_EQ(s.stores, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_GT(s.lookup_p50_s, 0);
  EXPECT_GE(s.lookup_p99_s, s.lookup_p50_s);
  EXPECT_DOUBLE_EQ(s.hit_rate(), 0.5);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.lookup_exact(docs_scope(), "q"));
}

// The default similarity tier (signature prefilter + exact cosine) must agree with brute force.
TEST(SemanticCache, SignatureScanAgreesWithBruteForce) {
  constexpr size_t kDimBig = 384;
  SemanticCache cache({.capacity = 3000, .similarity_threshold = 0.9});
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0, 1);
  auto unit = [](std::vector<float> v) {
    double n2 = 0;
    for (float x : v) n2 += double{x} * x;
    for (float& x : v) x = static_cast<float>(x / std::sqrt(n2));
    return v;
  };
  // Clustered data (unrelated texts of one topic share a direction, cosine ~0.5), as real
  // sentence embeddings are: the prefilter must not prune true matches.
  std::vector<float> topic(kDimBig);
  for (auto& x : topic) x = n(rng);
  std::vector<std::vector<float>> stored;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> v(kDimBig);
    for (size_t d = 0; d < kDimBig; ++d) v[d] = topic[d] + n(rng);
    stored.push_back(unit(v));
    cache.store(docs_scope(), numbered("q", i), stored.back(), std::to_string(i));
  }
  int hits = 0, agree = 0;
  for (int probe = 0; probe < 300; ++probe) {
    std::vector<float> q = stored[rng() % stored.size()];
    const float noise = 0.004f * static_cast<float>(probe % 10);  // cosine 1 down to ~0.8
    for (auto& x : q) x += noise * n(rng);
    q = unit(q);
    double best = 0.9;
    int want = -1;
    for (size_t i = 0; i < stored.size(); ++i) {
      double dot = 0;
      for (size_t d = 0; d < kDimBig; ++d) dot += double{q[d]} * stored[i][d];
      if (dot >= best) {
        best = dot;
        want = static_cast<int>(i);
      }
    }
    auto hit = cache.lookup(docs_scope(), "probe", q);
    hits += hit.has_value();
    if ((want < 0 && !hit) || (want >= 0 && hit && hit->payload == std::to_string(want))) ++agree;
    if (hit) {
      EXPECT_GE(hit->similarity, 0.9f);
    }
  }
  EXPECT_GT(hits, 100);
  EXPECT_GE(agree, 299);  // a miss at the threshold has probability < 1e-4 per match
}

// Crosses the prefilter's row minimum (256) both ways: results must not change.
TEST(SemanticCache, SimilarityTierFindsEntriesWithAndWithoutThePrefilter) {
  constexpr size_t kDimBig = 64;
  FakeClock clock;
  SemanticCache cache({.capacity = 5000, .similarity_threshold = 0.95, .clock = clock.fn()});
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 1);
  std::vector<std::vector<float>> stored;
  for (int i = 0; i < 600; ++i) {
    std::vector<float> v(kDimBig);
    for (auto& x : v) x = n(rng);
    // The first 500 expire after 1 s, the last 100 never.
    cache.store(docs_scope(), numbered("q", i), v, std::to_string(i),
                i < 500 ? std::chrono::duration<double>(1) : std::chrono::duration<double>(0));
    stored.push_back(v);
  }
  auto near = [&](size_t i) {
    std::vector<float> v = stored[i];
    for (auto& x : v) x += 0.05f * n(rng);  // similarity ~0.999
    return v;
  };
  auto expect_finds = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; i += 7) {
      auto hit = cache.lookup(docs_scope(), "probe", near(i));
      ASSERT_TRUE(hit) << i;
      EXPECT_EQ(hit->payload, std::to_string(i));
      EXPECT_EQ(hit->kind, CacheHitKind::kSemantic);
    }
  };
  expect_finds(0, 600);           // signature prefilter
  for (int i = 0; i < 20; ++i) {  // random directions in 64 dims are far apart: misses
    std::vector<float> v(kDimBig);
    for (auto& x : v) x = n(rng);
    EXPECT_FALSE(cache.lookup(docs_scope(), "random", v));
  }
  clock.advance(2s);
  EXPECT_EQ(cache.purge_expired(), 500u);  // 100 left: every row's cosine is computed
  expect_finds(500, 600);
  EXPECT_FALSE(cache.lookup(docs_scope(), "probe", near(3)));
}

TEST(SemanticCache, SimilarityTierStaysCorrectUnderEvictionChurn) {
  constexpr size_t kDimBig = 32;
  SemanticCache cache({.capacity = 300, .similarity_threshold = 0.97});
  std::mt19937 rng(11);
  std::normal_distribution<float> n(0, 1);
  std::vector<std::vector<float>> all;
  for (int i = 0; i < 1000; ++i) {  // 700 evictions, each moving the last row into the hole
    std::vector<float> v(kDimBig);
    for (auto& x : v) x = n(rng);
    cache.store(docs_scope(), numbered("q", i), v, std::to_string(i));
    all.push_back(v);
  }
  EXPECT_EQ(cache.size(), 300u);
  EXPECT_EQ(cache.get_stats().evictions, 700u);
  int hits = 0;
  for (int i = 700; i < 1000; ++i) {
    auto hit = cache.lookup(docs_scope(), "probe", all[i]);
    if (hit && hit->payload == std::to_string(i)) ++hits;
  }
  EXPECT_GE(hits, 299);  // a miss has probability < 4e-5 per lookup
  for (int i = 0; i < 700; i += 10) {
    auto hit = cache.lookup(docs_scope(), "probe", all[i]);
    EXPECT_FALSE(hit) << "evicted entry " << i << " answered";
  }
}

TEST(SemanticCache, ConcurrentLookupsStoresAndInvalidations) {
  SemanticCache cache({.capacity = 200});
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 1500; ++i) {
        const size_t k = rng() % 300;
        const std::string text = numbered("question ", k);
        switch (rng() % 10) {
          case 0:
            cache.store(docs_scope(), text, vec(k, 0.001 * (k / kDim)), std::to_string(k));
            break;
          case 1:
            if (t == 0) cache.invalidate_table("docs");
            break;
          default: {
            auto hit = cache.lookup_exact(docs_scope(), text);
            if (hit && hit->payload != std::to_string(k)) wrong = true;
            (void)cache.lookup(docs_scope(), text, vec(k));
            (void)cache.get_stats();
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(wrong.load());
  EXPECT_LE(cache.size(), 200u);
}

// The cache is bounded in bytes as well as entries (issue 16 item 1: 1 MB query bodies made one
// entry ~2.7 MB, so 10,000 entries could reach ~27 GB): large entries evict the least recently
// used ones, an entry larger than the whole budget and a query text over max_text_bytes are not
// stored, and the byte count returns to 0 when the entries go.
TEST(SemanticCacheBytes, EntriesStayWithinMaxBytesAndLongTextsAreNotCached) {
  SemanticCache cache({.capacity = 1000, .max_bytes = 64 * 1024, .max_text_bytes = 512});
  const std::string payload(10 * 1024, 'p');
  for (size_t i = 0; i < 20; ++i) {
    cache.store(docs_scope(), numbered("question ", i), vec(i), payload);
    EXPECT_LE(cache.get_stats().bytes, size_t{64 * 1024}) << i;
  }
  const CacheStats s = cache.get_stats();
  EXPECT_GE(s.evictions, 13u);  // about six 10 KB entries fit in 64 KB
  EXPECT_LT(s.entries, 7u);
  EXPECT_GT(s.bytes, 5u * 10 * 1024);
  // The most recent survive, the oldest went.
  EXPECT_TRUE(cache.lookup_exact(docs_scope(), "question 19").has_value());
  EXPECT_FALSE(cache.lookup_exact(docs_scope(), "question 0").has_value());

  // Alone over the budget: refused, nothing evicted for it.
  const size_t before = cache.get_stats().entries;
  EXPECT_FALSE(cache.store_if_current(cache.epoch(), docs_scope(), "huge answer", vec(1),
                                      std::string(65 * 1024, 'x')));
  EXPECT_EQ(cache.get_stats().entries, before);

  // A 1 MB "query": neither stored nor looked up, and it costs no memory.
  const std::string long_text(1 << 20, 'q');
  EXPECT_FALSE(cache.store_if_current(cache.epoch(), docs_scope(), long_text, vec(2), "p"));
  EXPECT_FALSE(cache.lookup(docs_scope(), long_text, vec(2)).has_value());
  EXPECT_EQ(cache.get_stats().not_stored, 2u);
  EXPECT_EQ(cache.get_stats().entries, before);

  cache.clear();
  EXPECT_EQ(cache.get_stats().bytes, 0u);
  EXPECT_THROW(SemanticCache({.max_bytes = 0}), ConfigError);
  EXPECT_THROW(SemanticCache({.max_text_bytes = 0}), ConfigError);
}

TEST(SemanticCacheBytes, ReplacingAndInvalidatingKeepTheByteCountExact) {
  SemanticCache cache;
  cache.store(docs_scope(), "q", vec(0), std::string(1000, 'a'));
  const size_t one = cache.get_stats().bytes;
  cache.store(docs_scope(), "q", vec(0), std::string(3000, 'a'));  // replaced in place
  EXPECT_EQ(cache.get_stats().bytes, one + 2000);
  EXPECT_EQ(cache.get_stats().entries, 1u);
  cache.invalidate_table("docs");
  EXPECT_EQ(cache.get_stats().bytes, 0u);
}

}  // namespace
}  // namespace ragperf
