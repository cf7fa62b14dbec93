// The filter language's parser (ragperf/filter.h) and LocalStore's filtered search: every case of
// filter_cases.h, the 20k-row selectivity check, and the errors.
#include "ragperf/filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ragperf/error.h"
#include "ragperf/local_store.h"
#include "store/filter_cases.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::TempDir;

std::string canonical(const std::string& text) {
  return Filter::parse(text).canonical();
}

/// The message of the InputError that parsing `text` throws ("" when it parses).
std::string error_of(const std::string& text) {
  try {
    Filter::parse(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(FilterParse, CanonicalTextIsOnePerMeaning) {
  EXPECT_EQ(canonical("META.lang='en'  AND  (meta.n>1)"), "meta.lang = 'en' and meta.n > 1");
  // and binds tighter than or; the canonical text spells it out.
  EXPECT_EQ(canonical("meta.a = 1 or meta.b = 2 and meta.c = 3"),
            "meta.a = 1 or (meta.b = 2 and meta.c = 3)");
  EXPECT_EQ(canonical("(meta.a = 1 or meta.b = 2) and meta.c = 3"),
            "(meta.a = 1 or meta.b = 2) and meta.c = 3");
  EXPECT_EQ(canonical("((meta.a = 1) and (meta.b = 2 and meta.c = 3))"),
            "meta.a = 1 and meta.b = 2 and meta.c = 3");
  EXPECT_EQ(canonical("NOT (meta.a = 1 OR exists source)"), "not (meta.a = 1 or exists source)");
  EXPECT_EQ(canonical("meta.x in ( 1.50 ,'it''s', TRUE, date '2024-02-29' )"),
            "meta.x in (1.5, 'it''s', true, date '2024-02-29')");
  EXPECT_EQ(canonical("meta.n >= -0 and meta.m < 1e3"), "meta.n >= 0 and meta.m < 1000");
  EXPECT_EQ(canonical("source ^= 'docs/'"), "source ^= 'docs/'");
  EXPECT_EQ(canonical("meta.a.b-c.d = 'x'"), "meta.a.b-c.d = 'x'");
  for (const auto& c : filter_cases::cases()) {
    const std::string once = canonical(c.where);
    EXPECT_EQ(canonical(once), once) << c.where;
  }
  EXPECT_TRUE(Filter::parse("").empty());
  EXPECT_TRUE(Filter::parse(" \t\n").empty());
  EXPECT_EQ(Filter::parse("").canonical(), "");
}

TEST(FilterParse, ErrorsNameThePartAndItsOffset) {
  struct Bad {
    const char* text;
    const char* says;
  };
  const Bad bad[] = {
      {"meta.lang = ", "expected a value"},
      {"lang = 'x'", "expected a field: source or meta.KEY"},
      {"meta = 'x'", "expected '.' and a key after meta"},
      {"meta.lang", "expected an operator"},
      {"meta.lang == 'x'", "'==' is not an operator: use ="},
      {"meta.lang = 'x' meta.n = 1", "expected 'and', 'or' or the end"},
      {"meta.lang = 'x", "unterminated text literal"},
      {"meta.n < true", "true and false have no order"},
      {"source = 1", "source is text"},
      {"source in ('a', 2)", "source is text"},
      {"meta.x ^= 5", "'^=' (starts with) takes a text literal"},
      {"meta.d > date '2024-02-30'", "expected a date literal"},
      {"meta.d > date 'yesterday'", "expected a date literal"},
      {"meta.n = 1e999", "not a finite number"},
      {"meta.n = 12abc", "not a finite number"},
      {"(meta.a = 1", "expected ')'"},
      {"meta.a in 1", "expected '(' after 'in'"},
      {"meta.a in (1 2)", "expected ',' or ')'"},
      {"meta.a = 1 ; drop table x", "unexpected character"},
      {"meta.a ! 1", "expected an operator"},
  };
  for (const Bad& b : bad) {
    const std::string msg = error_of(b.text);
    EXPECT_NE(msg.find(b.says), std::string::npos) << b.text << " -> " << msg;
    EXPECT_NE(msg.find("filter: "), std::string::npos) << msg;
    EXPECT_NE(msg.find(" at byte "), std::string::npos) << msg;
  }
  EXPECT_NE(error_of("meta.lang = 'x' meta.n = 1").find("at byte 16"), std::string::npos);
}

TEST(FilterParse, LimitsAreErrorsNotCrashes) {
  std::string deep(40, '(');
  deep += "meta.a = 1" + std::string(40, ')');
  EXPECT_NE(error_of(deep).find("nesting deeper than 32"), std::string::npos);
  std::string many = "meta.a = 0";
  for (int i = 1; i <= 64; ++i) many += filter_cases::join({" or meta.a = ", std::to_string(i)});
  EXPECT_NE(error_of(many).find("more than 64 comparisons"), std::string::npos);
  std::string long_text = "meta.a = '" + std::string(5000, 'x') + "'";
  EXPECT_NE(error_of(long_text).find("4096-byte limit"), std::string::npos);
  EXPECT_NE(error_of("meta." + std::string(65, 'k') + " = 1").find("longer than 64"),
            std::string::npos);
  EXPECT_NE(error_of("meta.a.b.c.d.e.f.g.h.i = 1").find("more than 8 keys"), std::string::npos);
  std::string in_list = "meta.a in (0";
  for (int i = 1; i <= 256; ++i) in_list += filter_cases::join({", ", std::to_string(i)});
  EXPECT_NE(error_of(in_list + ")").find("more than 256 values"), std::string::npos);
  EXPECT_NE(error_of("meta.a = '\xC3\x28'").find("invalid UTF-8 at byte 10"), std::string::npos);
  EXPECT_NE(error_of(std::string("meta.a = 1\0", 11)).find("control character at byte 10"),
            std::string::npos);
}

class LocalStoreFilterTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(LocalStoreFilterTest, EveryCaseReturnsExactlyTheChunksItAccepts) {
  LocalStore store(dir_.path() / "store");
  store.ensure_collection("docs", 4, Metric::kCosine, "m");
  store.add("docs", filter_cases::chunks());
  const std::vector<float> q = {1, 1, 1, 1};
  for (const auto& c : filter_cases::cases()) {
    std::set<std::string> want;
    for (size_t i = 0; i < filter_cases::kChunks; ++i) {
      if (c.accepts(i)) want.insert(filter_cases::id_of(i));
    }
    for (bool exact : {false, true}) {
      auto hits = store.search("docs", q, {.top_k = 100, .exact = exact, .where = c.where});
      std::set<std::string> got;
      for (const Hit& h : hits) got.insert(h.id);
      EXPECT_EQ(got, want) << c.where << (exact ? " (exact)" : "");
      // top_k smaller than the matches: exactly top_k, the best of the matching ones.
      auto top3 = store.search("docs", q, {.top_k = 3, .exact = exact, .where = c.where});
      EXPECT_EQ(top3.size(), std::min<size_t>(3, want.size())) << c.where;
      for (size_t i = 0; i < top3.size(); ++i) EXPECT_EQ(top3[i].id, hits[i].id) << c.where;
    }
  }
}

TEST_F(LocalStoreFilterTest, BadFiltersAreInputErrorsAndBatchesKeepThemPerQuery) {
  LocalStore store(dir_.path() / "store");
  store.ensure_collection("docs", 4, Metric::kCosine, "m");
  store.add("docs", filter_cases::chunks());
  const std::vector<float> q = {1, 1, 1, 1};
  EXPECT_THROW(store.search("docs", q, {.top_k = 3, .where = "meta.lang = "}), InputError);
  std::vector<std::span<const float>> queries = {q, q};
  auto results = store.search_batch("docs", queries, {.top_k = 3, .where = "nonsense"});
  ASSERT_EQ(results.size(), 2u);
  for (auto& r : results) EXPECT_THROW(r.value(), InputError);
  EXPECT_EQ(store.create_filter_indexes("docs"), std::vector<std::string>{});
  EXPECT_THROW(store.create_filter_indexes("missing"), InputError);
}

TEST_F(LocalStoreFilterTest, MatchSetsFollowWrites) {
  LocalStore store(dir_.path() / "store");
  store.ensure_collection("docs", 4, Metric::kCosine, "m");
  auto chunks = filter_cases::chunks();
  store.add("docs", chunks);
  const std::vector<float> q = {1, 1, 1, 1};
  EXPECT_EQ(store.search("docs", q, {.top_k = 100, .where = "meta.author = 'a10'"}).size(), 1u);
  chunks[10].metadata_json = R"({"author": "someone else"})";
  store.add("docs", std::span<const Chunk>(&chunks[10], 1));
  EXPECT_EQ(store.search("docs", q, {.top_k = 100, .where = "meta.author = 'a10'"}).size(), 0u);
  EXPECT_EQ(store.search("docs", q, {.top_k = 100, .where = "meta.author = 'someone else'"}).size(),
            1u);
}

TEST_F(LocalStoreFilterTest, TwentyThousandRowsAtOneTenAndFiftyPercent) {
  {
    LocalStore store(dir_.path() / "store");
    store.ensure_collection("big", filter_cases::kDim, Metric::kCosine, "m");
    store.add("big", filter_cases::selectivity_chunks(7));
    // Default choice: exact over the 200 and 2,000 matches, HNSW for the 10,000.
    const auto recalls = filter_cases::check_selectivities(store, "big");
    ASSERT_EQ(recalls.size(), 3u);
    std::cout << "filtered recall@10 at 1/10/50 %: " << recalls[0] << " " << recalls[1] << " "
              << recalls[2] << "\n";
  }
  // Every filtered search through HNSW (over-fetching, exact only for a short answer).
  LocalStore ann(dir_.path() / "store", {.filter_exact_max = 0});
  const auto recalls = filter_cases::check_selectivities(ann, "big");
  std::cout << "HNSW-only filtered recall@10 at 1/10/50 %: " << recalls[0] << " " << recalls[1]
            << " " << recalls[2] << "\n";
}

}  // namespace
}  // namespace ragperf
