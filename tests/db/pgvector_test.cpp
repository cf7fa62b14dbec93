// pgvector's binary wire codec, binary COPY data and parameter encoding (no server needed).
#include "ragperf/pgvector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "ragperf/db_pool.h"
#include "ragperf/error.h"
#include "ragperf/pg_copy.h"

namespace ragperf {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(Pgvector, EncodesDimUnusedAndBigEndianFloats) {
  const std::vector<float> v = {1.0f, -2.0f};
  EXPECT_EQ(pgvector::encode(v), bytes({0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0xc0, 0x00, 0, 0}));
  EXPECT_EQ(pgvector::wire_size(384), 4u + 4 * 384);
}

TEST(Pgvector, RoundTripsRandomVectorsExactly) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  for (size_t dim : {1u, 3u, 384u, 1024u}) {
    std::vector<float> v(dim);
    for (auto& x : v) x = d(rng);
    EXPECT_EQ(pgvector::decode(pgvector::encode(v)), v);
  }
}

TEST(Pgvector, DecodeRejectsMalformedValues) {
  EXPECT_THROW(pgvector::decode(""), InputError);
  EXPECT_THROW(pgvector::decode(bytes({0, 1, 0})), InputError);                       // short
  EXPECT_THROW(pgvector::decode(bytes({0, 0, 0, 0})), InputError);                    // dim 0
  EXPECT_THROW(pgvector::decode(bytes({0, 1, 0, 1, 0, 0, 0, 0})), InputError);        // unused != 0
  EXPECT_THROW(pgvector::decode(bytes({0, 2, 0, 0, 0x3f, 0x80, 0, 0})), InputError);  // truncated
  try {
    pgvector::decode(bytes({0, 2, 0, 0, 0x3f, 0x80, 0, 0}));
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dimension 2"), std::string::npos) << e.what();
  }
}

TEST(Pgvector, EncodeRejectsEmptyNonFiniteAndTooLong) {
  EXPECT_THROW(pgvector::encode(std::vector<float>{}), InputError);
  const std::vector<float> nan = {1.f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THROW(pgvector::encode(nan), InputError);
  const std::vector<float> inf = {std::numeric_limits<float>::infinity()};
  EXPECT_THROW(pgvector::encode(inf), InputError);
  EXPECT_THROW(pgvector::encode(std::vector<float>(pgvector::kMaxDim + 1, 0.f)), InputError);
  std::string out = "keep";
  EXPECT_THROW(pgvector::encode_to(nan, out), InputError);
  EXPECT_EQ(out, "keep");  // nothing half-written
}

TEST(Pgvector, TextFormMatchesPgvector) {
  const std::vector<float> v = {1.f, 0.5f, -3.25f};
  EXPECT_EQ(pgvector::to_text(v), "[1,0.5,-3.25]");
}

TEST(BinaryCopyWriter, WritesHeaderRowsAndTrailer) {
  db::BinaryCopyWriter w;
  ASSERT_EQ(w.data().size(), 19u);
  EXPECT_EQ(w.data().substr(0, 11), std::string("PGCOPY\n\377\r\n\0", 11));
  w.clear();
  w.begin_row(2);
  w.add_int8(1);
  w.add_null();
  w.finish();
  EXPECT_EQ(w.data(),
            bytes({0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(w.rows(), 1u);
  EXPECT_THROW(w.begin_row(0), InputError);
  db::BinaryCopyWriter v;
  v.clear();
  const std::vector<float> bad = {NAN};
  EXPECT_THROW(v.add_vector(bad), InputError);
  EXPECT_TRUE(v.data().empty());
}

TEST(Param, EncodesBinaryValuesWithTypes) {
  db::Param i(int64_t{-2});
  EXPECT_EQ(i.oid(), 20u);
  EXPECT_EQ(i.data(), bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
  db::Param d(1.0);
  EXPECT_EQ(d.oid(), 701u);
  EXPECT_EQ(d.data(), bytes({0x3f, 0xf0, 0, 0, 0, 0, 0, 0}));
  db::Param t("abc");
  EXPECT_EQ(t.oid(), 25u);
  EXPECT_EQ(t.data(), "abc");
  db::Param b(true);
  EXPECT_EQ(b.oid(), 16u);
  db::Param n(nullptr);
  EXPECT_TRUE(n.is_null());
  const std::vector<float> v = {1.f};
  db::Param vec(v);
  EXPECT_EQ(vec.oid(), 0u);  // inferred by the server
  EXPECT_EQ(vec.data(), pgvector::encode(v));
  EXPECT_EQ(db::Param::jsonb("{}").data(), std::string("\1{}"));
  EXPECT_FALSE(db::Param::text_as("2024-01-01", 1082).binary());
  auto ps = db::make_params(1, "x", 2.5, v, nullptr);
  ASSERT_EQ(ps.size(), 5u);
  EXPECT_TRUE(ps[4].is_null());
}

}  // namespace
}  // namespace ragperf
