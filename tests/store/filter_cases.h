// tests/store/filter_cases.h: one set of chunks with varied metadata and the filters whose
// answers both stores must agree on (filter_test.cpp for LocalStore, filter_db_test.cpp for
// PgVectorStore). Each case says which chunk indexes it accepts, written out in C++ from the
// filter language's definition (ragperf/filter.h), not from either store.
#pragma once

#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "ragperf/vector_store.h"

namespace ragperf::filter_cases {

constexpr size_t kChunks = 40;

/// The pieces, concatenated (GCC 12 warns on "literal" + std::to_string(...)).
inline std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

inline std::string id_of(size_t i) {
  return join({"c", std::to_string(i)});
}

/// Chunk i: n = i, lang en/de/fr by i % 3, date 2024-MM-01 with MM = i % 12 + 1, flag = even,
/// nested.level = i % 4, author "aI" when i % 5 == 0 and null when i % 7 == 0 (else absent),
/// tagnum "5" (text) when i % 4 == 0 else 5 (number), "x-y": 1 when even; source
/// docs/sql/pI.html below 20, docs/func/pI.html above, none for chunk 39.
inline std::vector<Chunk> chunks() {
  std::vector<Chunk> out;
  for (size_t i = 0; i < kChunks; ++i) {
    Chunk c;
    c.id = id_of(i);
    c.text = join({"text ", std::to_string(i)});
    const char* lang = i % 3 == 0 ? "en" : i % 3 == 1 ? "de" : "fr";
    char date[16];
    std::snprintf(date, sizeof date, "2024-%02zu-01", i % 12 + 1);
    std::string m = join({"{\"n\": ", std::to_string(i), ", \"lang\": \"", lang, "\", \"date\": \"",
                          date, "\", \"flag\": ", i % 2 == 0 ? "true" : "false",
                          ", \"nested\": {\"level\": ", std::to_string(i % 4), "}"});
    if (i % 5 == 0) {
      m += join({", \"author\": \"a", std::to_string(i), "\""});
    } else if (i % 7 == 0) {
      m += ", \"author\": null";
    }
    m += i % 4 == 0 ? ", \"tagnum\": \"5\"" : ", \"tagnum\": 5";
    if (i % 2 == 0) m += ", \"x-y\": 1";
    m += "}";
    c.metadata_json = m;
    c.source =
        i == 39 ? "" : join({i < 20 ? "docs/sql/p" : "docs/func/p", std::to_string(i), ".html"});
    c.content_hash = join({"h", std::to_string(i)});
    c.embedding = {1.0f + static_cast<float>(i % 7), 0.5f * static_cast<float>(i % 5),
                   static_cast<float>(i % 3), 1.0f};
    out.push_back(std::move(c));
  }
  return out;
}

struct Case {
  const char* where;
  std::function<bool(size_t)> accepts;
};

inline std::vector<Case> cases() {
  auto month = [](size_t i) { return i % 12 + 1; };
  return {
      {"meta.lang = 'en'", [](size_t i) { return i % 3 == 0; }},
      {"meta.lang in ('de', 'fr')", [](size_t i) { return i % 3 != 0; }},
      {"meta.lang != 'en'", [](size_t i) { return i % 3 != 0; }},
      {"meta.lang ^= 'e'", [](size_t i) { return i % 3 == 0; }},
      {"meta.n >= 10 and meta.n < 20", [](size_t i) { return i >= 10 && i < 20; }},
      {"meta.n > 35 or meta.n <= 1", [](size_t i) { return i > 35 || i <= 1; }},
      {"meta.n = 3.0", [](size_t i) { return i == 3; }},
      {"meta.n in (1, 2, 39)", [](size_t i) { return i == 1 || i == 2 || i == 39; }},
      {"meta.date >= date '2024-06-01'", [=](size_t i) { return month(i) >= 6; }},
      {"meta.date < '2024-03'", [=](size_t i) { return month(i) <= 2; }},
      {"meta.flag = true", [](size_t i) { return i % 2 == 0; }},
      {"meta.flag = false", [](size_t i) { return i % 2 == 1; }},
      {"not meta.flag = true", [](size_t i) { return i % 2 == 1; }},
      {"meta.nested.level = 2", [](size_t i) { return i % 4 == 2; }},
      {"meta.nested.level > 1 and meta.lang = 'de'",
       [](size_t i) { return i % 4 > 1 && i % 3 == 1; }},
      {"exists meta.author", [](size_t i) { return i % 5 == 0 || i % 7 == 0; }},
      {"not exists meta.author", [](size_t i) { return i % 5 != 0 && i % 7 != 0; }},
      {"meta.author = 'a10'", [](size_t i) { return i == 10; }},
      {"meta.tagnum = 5", [](size_t i) { return i % 4 != 0; }},
      {"meta.tagnum = '5'", [](size_t i) { return i % 4 == 0; }},
      {"meta.tagnum >= 5", [](size_t i) { return i % 4 != 0; }},
      {"meta.tagnum >= '5'", [](size_t i) { return i % 4 == 0; }},
      {"meta.x-y = 1", [](size_t i) { return i % 2 == 0; }},
      {"meta.missing = 1", [](size_t) { return false; }},
      {"not meta.missing = 1", [](size_t) { return true; }},
      {"meta.missing != 1", [](size_t) { return true; }},
      {"meta.nested = 2", [](size_t) { return false; }},
      {"source ^= 'docs/sql/'", [](size_t i) { return i < 20; }},
      {"source ^= 'docs/s_l/'", [](size_t) { return false; }},  // _ is no wildcard
      {"source = 'docs/func/p25.html'", [](size_t i) { return i == 25; }},
      {"source in ('docs/sql/p1.html', 'docs/func/p30.html')",
       [](size_t i) { return i == 1 || i == 30; }},
      {"source >= 'docs/sql/p18'",  // bytewise: p18, p19 and p2 .. p9
       [](size_t i) { return i < 20 && (i >= 18 || (i >= 2 && i <= 9)); }},
      {"exists source", [](size_t i) { return i != 39; }},
      {"not exists source", [](size_t i) { return i == 39; }},
      {"meta.n < 5 and (meta.lang = 'en' or meta.flag = false)",
       [](size_t i) { return i < 5 && (i % 3 == 0 || i % 2 == 1); }},
      {"not (meta.n < 30 or meta.lang = 'fr')", [](size_t i) { return !(i < 30 || i % 3 == 2); }},
      {"  ", [](size_t) { return true; }},
  };
}

}  // namespace ragperf::filter_cases

namespace ragperf::filter_cases {

/// Rows of the selectivity check: 20,000 random 32-dim vectors whose metadata makes filters of
/// 1 % (b = 7), 10 % (tag = 't3') and 50 % (half = true) selectivity.
constexpr size_t kRows = 20000;
constexpr size_t kDim = 32;

struct Selectivity {
  const char* where;
  double fraction;
  std::function<bool(size_t)> accepts;
};

inline std::vector<Selectivity> selectivities() {
  return {{"meta.b = 7", 0.01, [](size_t i) { return i % 100 == 7; }},
          {"meta.tag = 't3'", 0.10, [](size_t i) { return i % 10 == 3; }},
          {"meta.half = true", 0.50, [](size_t i) { return i % 2 == 0; }}};
}

inline std::vector<Chunk> selectivity_chunks(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<Chunk> out(kRows);
  for (size_t i = 0; i < kRows; ++i) {
    Chunk& c = out[i];
    c.id = id_of(i);
    c.text = join({"row ", std::to_string(i)});
    c.metadata_json =
        join({"{\"b\": ", std::to_string(i % 100), ", \"tag\": \"t", std::to_string(i % 10),
              "\", \"half\": ", i % 2 == 0 ? "true" : "false", "}"});
    c.content_hash = join({"h", std::to_string(i)});
    c.embedding.resize(kDim);
    for (float& x : c.embedding) x = g(rng);
  }
  return out;
}

inline size_t index_of(const std::string& id) {
  return std::stoul(id.substr(1));
}

/// For each selectivity and 20 random queries: the filtered ANN top-10 has 10 hits, every one
/// accepted by the filter, and recalls >= 0.95 of the exact filtered top-10 on average; the exact
/// filtered top-10 is checked against the filter too. Returns the mean recall per filter.
inline std::vector<double> check_selectivities(VectorStore& store, const std::string& table) {
  std::mt19937 rng(99);
  std::normal_distribution<float> g(0, 1);
  std::vector<double> recalls;
  for (const Selectivity& sel : selectivities()) {
    double recall_sum = 0;
    constexpr int kQueries = 20;
    for (int qi = 0; qi < kQueries; ++qi) {
      std::vector<float> q(kDim);
      for (float& x : q) x = g(rng);
      auto ann = store.search(table, q, {.top_k = 10, .where = sel.where});
      auto exact = store.search(table, q, {.top_k = 10, .exact = true, .where = sel.where});
      EXPECT_EQ(ann.size(), 10u) << sel.where;
      EXPECT_EQ(exact.size(), 10u) << sel.where;
      size_t found = 0;
      for (const Hit& h : ann) {
        EXPECT_TRUE(sel.accepts(index_of(h.id))) << sel.where << " let " << h.id << " through";
        for (const Hit& e : exact) found += e.id == h.id;
      }
      for (const Hit& e : exact) {
        EXPECT_TRUE(sel.accepts(index_of(e.id))) << sel.where << " (exact) let " << e.id;
      }
      recall_sum += static_cast<double>(found) / 10.0;
    }
    const double recall = recall_sum / kQueries;
    EXPECT_GE(recall, 0.95) << sel.where;
    recalls.push_back(recall);
  }
  return recalls;
}

}  // namespace ragperf::filter_cases
