// The server over a PgVectorStore: /query (with and without "tables") and /health answer. The
// handlers run on the Runtime's I/O thread, where the pool's blocking calls are refused, so the
// store's metadata calls must run elsewhere (they did not: every /query was an error).
#include <gtest/gtest.h>
#include <unistd.h>

#include "ragperf/db_pool.h"
#include "ragperf/pgvector_store.h"
#include "ragperf/server.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

TEST(ServerOnPostgres, QueriesAndHealthAnswerOnAPostgresStore) {
  const std::string url = database_url();
  ASSERT_FALSE(url.empty()) << "DATABASE_URL is not set: run scripts/test.sh";
  PoolConfig cfg = PoolConfig::from_url(url);
  cfg.min_size = 1;
  cfg.max_size = 4;
  auto pg = std::make_shared<PgVectorStore>(std::make_shared<DatabaseConnectionPool>(cfg));
  const std::string table = "srvpg_" + std::to_string(::getpid());
  ServerHome home;
  home.use_store(pg);
  home.add(table, server_test_docs());
  {
    Server server({.port = 0}, home.components(/*cache=*/false));
    server.start();
    HttpClient client(server.port());
    const std::string text = "create an index concurrently so writes are not locked";
    const Reply every = client.post_json("/query", {{"text", text}, {"top_k", 2}});
    ASSERT_EQ(every.status, 200) << every.body;
    EXPECT_FALSE(every.json()["hits"].empty()) << every.body;
    const Reply named =
        client.post_json("/query", {{"text", text}, {"tables", {table}}, {"top_k", 2}});
    ASSERT_EQ(named.status, 200) << named.body;
    EXPECT_EQ(named.json()["hits"][0]["table"], table);
    const Reply unknown = client.post_json("/query", {{"text", text}, {"tables", {"nope_x"}}});
    EXPECT_EQ(unknown.status, 422) << unknown.body;
    const Reply health = client.get("/health");
    EXPECT_EQ(health.status, 200) << health.body;
    EXPECT_GE(health.json()["tables"].get<int>(), 1);
    server.stop();
  }
  pg->drop(table);
}

}  // namespace
}  // namespace ragperf::testing
