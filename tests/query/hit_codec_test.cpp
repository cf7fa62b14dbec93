// The cache payload of QueryPipeline answers: hits survive a round trip byte for byte, and any
// payload it did not write (another format, truncated, padded, absurd counts) decodes to nullopt.
#include "query/hit_codec.h"

#include <gtest/gtest.h>

namespace ragperf::query {
namespace {

std::vector<RetrievedHit> sample() {
  std::vector<RetrievedHit> hits(3);
  hits[0] = {"a1",
             "first text",
             0.93f,
             0.91f,
             R"({"page": 1})",
             "docs/a.md",
             "docs",
             {"docs", "faq@postgresql://h/db"}};
  hits[1] = {"b2", std::string("nul\0inside", 10), -0.5f, -0.25f, "{}", "", "papers", {}};
  hits[2] = {"", "", 0.0f, 0.0f, "", "", "", {""}};
  hits[1].retrieval_score = 0.0f;  // reranked, with a retrieval score of exactly 0
  hits[0].retrieval_score = 0.42f;
  return hits;
}

TEST(HitCodec, RoundTripsEveryField) {
  const auto hits = sample();
  const auto back = decode_hits(encode_hits(hits));
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ((*back)[i].id, hits[i].id);
    EXPECT_EQ((*back)[i].text, hits[i].text);
    EXPECT_EQ((*back)[i].score, hits[i].score);
    EXPECT_EQ((*back)[i].similarity, hits[i].similarity);
    EXPECT_EQ((*back)[i].source_tables, hits[i].source_tables);
    EXPECT_EQ((*back)[i].metadata_json, hits[i].metadata_json);
    EXPECT_EQ((*back)[i].source, hits[i].source);
    EXPECT_EQ((*back)[i].source_table, hits[i].source_table);
    EXPECT_EQ((*back)[i].retrieval_score, hits[i].retrieval_score);
  }
  const auto none = decode_hits(encode_hits({}));
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST(HitCodec, RejectsPayloadsItDidNotWrite) {
  const std::string good = encode_hits(sample());
  EXPECT_FALSE(decode_hits("").has_value());
  EXPECT_FALSE(decode_hits(R"([{"id": "a1"}])").has_value());  // e.g. an LLM answer or JSON
  EXPECT_FALSE(decode_hits(good.substr(0, good.size() - 1)).has_value());
  EXPECT_FALSE(decode_hits(good + "x").has_value());
  std::string huge = good.substr(0, 4) + std::string("\xFF\xFF\xFF\x7F", 4);
  EXPECT_FALSE(decode_hits(huge).has_value());
  EXPECT_FALSE(decode_hits("RPH1" + good.substr(4)).has_value());  // the old Hit-only layout
  EXPECT_FALSE(decode_hits("RPH2" + good.substr(4)).has_value());  // before retrieval_score
  // The reranked flag is 0 or 1; anything else is not a payload this codec wrote.
  std::string flag = good;
  flag[8 + 8] = 2;  // magic, count, then the first hit's score and similarity
  EXPECT_FALSE(decode_hits(flag).has_value());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(decode_hits(good.substr(0, cut)).has_value()) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace ragperf::query
