// tests/store/text_cases.h: a small corpus and the full-text searches both stores must answer
// alike (text_search_test.cpp for LocalStore, text_search_db_test.cpp for PgVectorStore).
#pragma once

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "ragperf/error.h"
#include "ragperf/vector_store.h"

namespace ragperf::text_cases {

inline const std::vector<std::string>& texts() {
  static const std::vector<std::string> t = {
      "VACUUM reclaims storage occupied by dead tuples",
      "CREATE INDEX CONCURRENTLY builds an index without locking out writes",
      "The planner chooses join orders using statistics",
      "Streaming replication ships WAL records to a standby server",
      "Vacuuming frequently keeps tables healthy",
      "Indexes speed up queries"};
  return t;
}

inline std::vector<Chunk> chunks() {
  std::vector<Chunk> out;
  for (size_t i = 0; i < texts().size(); ++i) {
    Chunk c;
    c.id = std::string("t").append(std::to_string(i));
    c.text = texts()[i];
    c.metadata_json = std::string("{\"n\": ").append(std::to_string(i)).append("}");
    c.source = std::string("doc").append(std::to_string(i)).append(".txt");
    c.embedding = {1.0f + static_cast<float>(i), 1.0f, 0.5f};
    out.push_back(std::move(c));
  }
  return out;
}

inline std::set<std::string> ids(const std::vector<Hit>& hits) {
  std::set<std::string> out;
  for (const auto& h : hits) out.insert(h.id);
  return out;
}

/// The whole contract on `store`, whose collection `table` (dim 3) is empty and new.
inline void check(VectorStore& store, const std::string& table) {
  store.ensure_collection(table, 3, Metric::kCosine, "m");
  store.add(table, chunks());
  EXPECT_FALSE(store.has_text_search(table));
  try {
    store.text_search(table, "vacuum", {.top_k = 3});
    ADD_FAILURE() << "a table without a full-text index must say so";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ragperf migrate --table " + table), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(store.enable_text_search(table));   // the migration: index + backfill
  EXPECT_FALSE(store.enable_text_search(table));  // once
  EXPECT_TRUE(store.has_text_search(table));

  // Stemming: "vacuum" finds VACUUM and Vacuuming, nothing else.
  EXPECT_EQ(ids(store.text_search(table, "vacuum", {.top_k = 10})),
            (std::set<std::string>{"t0", "t4"}));
  // A question: the chunk with the most of its words first; words are OR-ed.
  auto hits = store.text_search(table, "how do I build an index concurrently?", {.top_k = 10});
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].id, "t1");
  EXPECT_TRUE(ids(hits).count("t5")) << "index ~ indexes";
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  EXPECT_EQ(hits[0].source_table, table);
  EXPECT_EQ(hits[0].source, "doc1.txt");
  EXPECT_EQ(store.text_search(table, "index", {.top_k = 1}).size(), 1u);
  // No words, or query syntax of either engine: no hits or plain hits, never an error.
  EXPECT_TRUE(store.text_search(table, "?! ...", {.top_k = 5}).empty());
  for (const char* odd : {"\"unterminated", "a AND OR NOT", "NEAR(x y", "-vacuum", "col:vacuum",
                          "vacuum*", "'); DROP TABLE x; --", "<->", "!!!&|"}) {
    EXPECT_NO_THROW(store.text_search(table, odd, {.top_k = 5})) << odd;
  }
  // The filter applies.
  EXPECT_EQ(ids(store.text_search(table, "vacuum", {.top_k = 10, .where = "meta.n = 4"})),
            (std::set<std::string>{"t4"}));
  // Later writes are searchable at once; removed chunks are gone.
  Chunk extra = chunks()[0];
  extra.id = "t9";
  extra.text = "autovacuum launches vacuum workers";
  extra.source = "extra.txt";
  store.replace_source(table, "extra.txt", "h", std::span<const Chunk>(&extra, 1));
  EXPECT_TRUE(ids(store.text_search(table, "vacuum", {.top_k = 10})).count("t9"));
  store.remove_source(table, "extra.txt");
  EXPECT_FALSE(ids(store.text_search(table, "vacuum", {.top_k = 10})).count("t9"));
  EXPECT_THROW(store.text_search(table, "vacuum", {.top_k = 0}), InputError);
}

}  // namespace ragperf::text_cases
