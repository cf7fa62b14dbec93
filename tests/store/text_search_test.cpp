// LocalStore's full-text search (SQLite FTS5): the contract of text_cases.h, and a dropped
// collection's words leave with it.
#include <gtest/gtest.h>

#include "ragperf/local_store.h"
#include "store/text_cases.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

TEST(LocalStoreTextSearch, FollowsTheContract) {
  testing::TempDir dir;
  LocalStore store(dir.path() / "store");
  text_cases::check(store, "docs");
  // Another collection with the same words is not searched with this one.
  store.ensure_collection("other", 3, Metric::kCosine, "m");
  store.add("other", text_cases::chunks());
  store.enable_text_search("other");
  for (const Hit& h : store.text_search("docs", "vacuum", {.top_k = 10})) {
    EXPECT_EQ(h.source_table, "docs");
  }
  store.drop("docs");
  EXPECT_FALSE(store.has_text_search("docs"));
  EXPECT_EQ(store.text_search("other", "vacuum", {.top_k = 10}).size(), 2u);
}

TEST(LocalStoreTextSearch, SurvivesReopening) {
  testing::TempDir dir;
  {
    LocalStore store(dir.path() / "store");
    store.ensure_collection("docs", 3, Metric::kCosine, "m");
    store.add("docs", text_cases::chunks());
    store.enable_text_search("docs");
  }
  LocalStore store(dir.path() / "store");
  EXPECT_EQ(text_cases::ids(store.text_search("docs", "vacuum", {.top_k = 10})),
            (std::set<std::string>{"t0", "t4"}));
}

}  // namespace
}  // namespace ragperf
