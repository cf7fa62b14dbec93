// store/search_batch_checks.h: helpers for the search_batch() tests of every store. A batch's
// result i must be exactly what search() returns or throws for query i: the same hits (ids,
// scores, texts, metadata, sources, tables) or an error of the same type with the same message.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/vector_store.h"

namespace ragperf::testing {

/// prefix + n without GCC 12's false -Wrestrict positive on operator+(const char*, string&&).
inline std::string cat(const char* prefix, size_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

/// n vectors of `dim` N(0, 1) values, reproducible from `seed`.
inline std::vector<std::vector<float>> random_vectors(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out)
    for (auto& x : v) x = g(rng);
  return out;
}

/// search(collection, query, options) as a SearchResult (its hits, or what it threw).
inline SearchResult search_one(VectorStore& store, const std::string& collection,
                               std::span<const float> query, const SearchOptions& options) {
  SearchResult r;
  try {
    r.hits = store.search(collection, query, options);
  } catch (...) {
    r.error = std::current_exception();
  }
  return r;
}

/// "InputError-like code N: message" for an error, "" for none.
inline std::string error_text(const std::exception_ptr& error) {
  if (!error) return "";
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return "code " + std::to_string(static_cast<int>(e.code())) + ": " + e.what();
  } catch (const std::exception& e) {
    return std::string("std::exception: ") + e.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// The views search_batch() takes, over `vectors`.
inline std::vector<std::span<const float>> spans(const std::vector<std::vector<float>>& vectors) {
  return {vectors.begin(), vectors.end()};
}

/// Expects `got` to equal `want` exactly (hits field by field, or the same error).
inline void expect_same_result(const SearchResult& got, const SearchResult& want,
                               const std::string& where) {
  EXPECT_EQ(error_text(got.error), error_text(want.error)) << where;
  ASSERT_EQ(got.hits.size(), want.hits.size()) << where;
  for (size_t k = 0; k < want.hits.size(); ++k) {
    const Hit& g = got.hits[k];
    const Hit& w = want.hits[k];
    EXPECT_EQ(g.id, w.id) << where << " rank " << k;
    EXPECT_EQ(g.score, w.score) << where << " rank " << k;  // bit-equal, not nearly
    EXPECT_EQ(g.text, w.text) << where << " rank " << k;
    EXPECT_EQ(g.metadata_json, w.metadata_json) << where << " rank " << k;
    EXPECT_EQ(g.source, w.source) << where << " rank " << k;
    EXPECT_EQ(g.source_table, w.source_table) << where << " rank " << k;
  }
}

/// Runs `queries` through search_batch() and each through search(); expects equal results.
/// Returns the batch's results.
inline std::vector<SearchResult> expect_batch_equals_searches(
    VectorStore& store, const std::string& collection,
    const std::vector<std::vector<float>>& queries, const SearchOptions& options,
    const std::string& where) {
  const auto views = spans(queries);
  std::vector<SearchResult> got = store.search_batch(collection, views, options);
  EXPECT_EQ(got.size(), queries.size()) << where;
  for (size_t i = 0; i < queries.size() && i < got.size(); ++i) {
    expect_same_result(got[i], search_one(store, collection, queries[i], options),
                       where + " query " + std::to_string(i));
  }
  return got;
}

/// Expects `r` to hold an error of type E whose message contains `fragment`.
template <typename E>
void expect_error(const SearchResult& r, const std::string& fragment, const std::string& where) {
  ASSERT_TRUE(r.error) << where << ": expected an error containing '" << fragment << "'";
  EXPECT_TRUE(r.hits.empty()) << where;
  try {
    std::rethrow_exception(r.error);
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << where << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << where << ": unexpected error type: " << e.what();
  }
}

}  // namespace ragperf::testing
