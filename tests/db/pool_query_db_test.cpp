// Queries through DatabaseConnectionPool against a real PostgreSQL + pgvector: parameters and
// results in binary, prepared-statement cache, pipelines, binary COPY, transactions, SQL errors.
#include "ragperf/db_pool.h"

#include <gtest/gtest.h>

#include "db_test_support.h"
#include "ragperf/pg_copy.h"

namespace ragperf {
namespace {

using db::awaitable;
using db::Result;
using testing::DbTest;

class PoolQuery : public DbTest {};

TEST_F(PoolQuery, TypedParametersRoundTripInBinary) {
  DatabaseConnectionPool pool(config(1, 2));
  pool.initialize();
  const std::vector<float> v = {0.5f, -1.25f, 3.0f};
  Result r = pool.run(pool.fetch(
      "SELECT $1::int8 AS i, $2::float8 AS d, $3::text AS t, $4::bytea AS b, $5::vector AS v, "
      "$6::text AS n, $7::bool AS flag, 42::int4 AS i4, 7::int2 AS i2, 1.5::float4 AS f4, "
      "'{\"a\": 1}'::jsonb AS j",
      {int64_t{-9000000000}, 2.25, "héllo", db::Param::bytes(std::string("\0\1\2", 3)), v, nullptr,
       true}));
  ASSERT_EQ(r.rows(), 1);
  auto row = r[0];
  EXPECT_EQ(row["i"].as_int(), -9000000000);
  EXPECT_DOUBLE_EQ(row["d"].as_double(), 2.25);
  EXPECT_EQ(row["t"].as_text(), "héllo");
  EXPECT_EQ(row["b"].bytes(), std::string("\0\1\2", 3));
  EXPECT_EQ(row["v"].as_vector(), v);
  EXPECT_EQ(row["v"].as_text(), "[0.5,-1.25,3]");
  EXPECT_TRUE(row["n"].is_null());
  EXPECT_TRUE(row["flag"].as_bool());
  EXPECT_EQ(row["i4"].as_int(), 42);
  EXPECT_EQ(row["i2"].as_int(), 7);
  EXPECT_FLOAT_EQ(static_cast<float>(row["f4"].as_double()), 1.5f);
  EXPECT_EQ(row["j"].as_text(), "{\"a\": 1}");
  // Wrong getters name the column and its type.
  EXPECT_THROW(row["t"].as_int(), InputError);
  EXPECT_THROW(row["n"].as_text(), InputError);
  EXPECT_THROW(row["missing"], InputError);
  EXPECT_THROW(r[1], InputError);
}

TEST_F(PoolQuery, VectorTopKOverPgvectorTable) {
  DatabaseConnectionPool pool(config(1, 2));
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    co_await conn.execute("CREATE TEMP TABLE items (id int8, embedding vector(3))");
    for (int i = 0; i < 10; ++i) {
      const std::vector<float> v = {float(i), 0.f, 1.f};
      co_await conn.execute("INSERT INTO items VALUES ($1, $2)", i, v);
    }
    const std::vector<float> q = {6.2f, 0.f, 1.f};
    Result r = co_await conn.fetch(
        "SELECT id, embedding <-> $1 AS dist FROM items ORDER BY embedding <-> $1 LIMIT 4", q);
    EXPECT_EQ(r.rows(), 4);
    std::vector<int64_t> ids;
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r[i]["id"].as_int());
    const std::vector<int64_t> expected = {6, 7, 5, 8};
    EXPECT_EQ(ids, expected);
    EXPECT_NEAR(r[0]["dist"].as_double(), 0.2, 1e-5);
  }());
}

TEST_F(PoolQuery, SqlErrorCarriesSqlstateAndConnectionStaysUsable) {
  DatabaseConnectionPool pool(config(1, 1));
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    const int pid = conn.backend_pid();
    try {
      co_await conn.execute("SELECT * FROM no_such_table_xyz WHERE id = $1", 1);
      ADD_FAILURE() << "expected QueryError";
    } catch (const QueryError& e) {
      EXPECT_EQ(e.sqlstate(), "42P01");
      EXPECT_NE(e.server_message().find("no_such_table_xyz"), std::string::npos);
      EXPECT_EQ(e.statement(), "SELECT * FROM no_such_table_xyz WHERE id = $1");
    }
    try {
      co_await conn.execute("SELECT 1 / $1::int4", 0);
      ADD_FAILURE() << "expected QueryError";
    } catch (const QueryError& e) {
      EXPECT_EQ(e.sqlstate(), "22012");  // division_by_zero at execution, after Parse succeeded
    }
    Result r = co_await conn.fetch("SELECT 1 / $1::int4 AS x", 1);
    EXPECT_EQ(r[0]["x"].as_int(), 1);
    EXPECT_EQ(conn.backend_pid(), pid);
  }());
  EXPECT_EQ(pool.get_stats().connections_lost, 0u);
}

TEST_F(PoolQuery, ConnectionReturnedMidTransactionIsRolledBack) {
  DatabaseConnectionPool pool(config(1, 1));
  pool.run([&]() -> awaitable<void> {
    {
      auto conn = co_await pool.acquire();
      co_await conn.execute("CREATE TEMP TABLE t_tx (x int)");
      co_await conn.execute("BEGIN");
      co_await conn.execute("INSERT INTO t_tx VALUES (1)");
      // returned without COMMIT
    }
    {
      auto conn = co_await pool.acquire();
      Result r = co_await conn.fetch("SELECT count(*) AS n FROM t_tx");
      EXPECT_EQ(r[0]["n"].as_int(), 0);
      co_await conn.execute("BEGIN");
      try {
        co_await conn.execute("SELECT nonsense_column FROM t_tx");
      } catch (const QueryError&) {
      }
      // returned in a failed transaction
    }
    auto conn = co_await pool.acquire();
    Result r = co_await conn.fetch("SELECT 2 AS two");
    EXPECT_EQ(r[0]["two"].as_int(), 2);
  }());
}

TEST_F(PoolQuery, PipelineRunsManyStatementsAndReportsTheFailingOne) {
  DatabaseConnectionPool pool(config(1, 1));
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    std::vector<db::Statement> stmts;
    for (int i = 0; i < 20; ++i) stmts.push_back({"SELECT $1::int8 * 2 AS y", db::make_params(i)});
    auto results = co_await conn.pipeline(stmts);
    EXPECT_EQ(results.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(results[size_t(i)][0]["y"].as_int(), 2 * i);
    std::vector<db::Statement> bad = {{"SELECT 1", {}}, {"SELEC oops", {}}, {"SELECT 3", {}}};
    try {
      co_await conn.pipeline(bad);
      ADD_FAILURE() << "expected QueryError";
    } catch (const QueryError& e) {
      EXPECT_EQ(e.sqlstate(), "42601");
      EXPECT_EQ(e.statement(), "SELEC oops");
    }
    std::vector<db::Statement> one = {{"SELECT 3 AS z", {}}};
    auto again = co_await conn.pipeline(one);
    EXPECT_EQ(again[0][0]["z"].as_int(), 3);
  }());
}

TEST_F(PoolQuery, BinaryCopyLoadsRowsWithVectors) {
  DatabaseConnectionPool pool(config(1, 1));
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    co_await conn.execute(
        "CREATE TEMP TABLE docs (id int8, body text, meta jsonb, score float8, embedding "
        "vector(2))");
    db::BinaryCopyWriter w;
    for (int i = 0; i < 1000; ++i) {
      w.begin_row(5);
      w.add_int8(i);
      w.add_text("doc " + std::to_string(i));
      if (i % 2) {
        w.add_jsonb("{\"k\": " + std::to_string(i) + "}");
      } else {
        w.add_null();
      }
      w.add_float8(i * 0.5);
      const std::vector<float> v = {float(i), 1.f};
      w.add_vector(v);
    }
    w.finish();
    const uint64_t n = co_await conn.copy_from(
        "COPY docs (id, body, meta, score, embedding) FROM STDIN (FORMAT BINARY)", w.data());
    EXPECT_EQ(n, 1000u);
    Result r = co_await conn.fetch(
        "SELECT count(*) AS n, sum(score) AS s, max(meta->>'k') AS k FROM docs");
    EXPECT_EQ(r[0]["n"].as_int(), 1000);
    EXPECT_DOUBLE_EQ(r[0]["s"].as_double(), 0.5 * 999 * 1000 / 2);
    auto row = co_await conn.fetchrow("SELECT embedding FROM docs WHERE id = $1", 7);
    EXPECT_TRUE(row.has_value());
    const std::vector<float> want = {7.f, 1.f};
    if (row) {
      EXPECT_EQ((*row)["embedding"].as_vector(), want);
    }
    // A COPY the server rejects: QueryError, and the connection still works.
    db::BinaryCopyWriter bad;
    bad.begin_row(1);
    bad.add_text("x");
    bad.finish();
    try {
      co_await conn.copy_from("COPY docs (id) FROM STDIN (FORMAT BINARY)", bad.data());
      ADD_FAILURE() << "expected QueryError";
    } catch (const QueryError& e) {
      EXPECT_FALSE(e.sqlstate().empty());
    }
    try {
      co_await conn.copy_begin("COPY no_such_table FROM STDIN");
      ADD_FAILURE() << "expected QueryError";
    } catch (const QueryError& e) {
      EXPECT_EQ(e.sqlstate(), "42P01");
    }
    auto none = co_await conn.fetchrow("SELECT id FROM docs WHERE id = $1", -1);
    EXPECT_FALSE(none.has_value());
  }());
}

TEST_F(PoolQuery, PreparedStatementsAreCachedPerConnection) {
  DatabaseConnectionPool pool(config(1, 1));
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    for (int i = 0; i < 5; ++i) co_await conn.execute("SELECT $1::int8 AS cached_stmt", i);
    Result r = co_await conn.fetch(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = "
        "'SELECT $1::int8 AS cached_stmt'");
    EXPECT_EQ(r[0]["n"].as_int(), 1);
  }());
  const auto s = pool.get_stats();
  EXPECT_EQ(s.total_queries, 6u);
  EXPECT_EQ(s.acquires, 1u);
}

TEST_F(PoolQuery, BlockingFormsAndHealthCheck) {
  DatabaseConnectionPool pool(config(2, 3));
  pool.initialize();
  EXPECT_EQ(pool.get_stats().pool_size, 2);
  EXPECT_TRUE(pool.health_check());
  auto row = pool.run(pool.fetchrow("SELECT current_database() AS db"));
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ((*row)["db"].as_text(), pool.config().database);
  auto fut = pool.spawn(pool.execute("SELECT pg_sleep(0.01)"));
  EXPECT_EQ(fut.get().rows(), 1);
  pool.close();
  EXPECT_TRUE(pool.closed());
  EXPECT_THROW(pool.run(pool.fetch("SELECT 1")), UnavailableError);
}

}  // namespace
}  // namespace ragperf
