// GET /metrics, /stats, /health, and how store failures reach the client (503).
#include "ragperf/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>

#include "ragperf/error.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

using ServerEndpoints = ServerTest;

// name -> value of every sample line of a Prometheus text exposition; fails on a bad line.
std::map<std::string, double> parse_prometheus(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    size_t used = 0;
    const double v = std::stod(line.substr(space + 1), &used);
    EXPECT_EQ(used, line.size() - space - 1) << line;
    samples[line.substr(0, space)] = v;
  }
  return samples;
}

TEST_F(ServerEndpoints, MetricsHaveEveryStageOfAQuery) {
  HttpClient client(server_->port());
  ASSERT_EQ(client.post_json("/query", {{"text", "vacuum full lock"}}).status, 200);
  ASSERT_EQ(client.post_json("/query", {{"text", "vacuum full lock"}}).status, 200);  // cached
  const Reply r = client.get("/metrics");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.headers.at("content-type").rfind("text/plain", 0), 0u);
  const auto samples = parse_prometheus(r.body);
  EXPECT_EQ(samples.at("ragperf_http_query_duration_seconds_count"), 2);
  for (const char* stage : {"embed", "query", "merge", "total", "cache"}) {
    const std::string count = std::string("ragperf_") + stage + "_duration_seconds_count";
    ASSERT_TRUE(samples.count(count)) << count << "\n" << r.body;
    EXPECT_GE(samples.at(count), 1) << count;
    EXPECT_TRUE(
        samples.count(std::string("ragperf_") + stage + "_duration_seconds_bucket{le=\"+Inf\"}"))
        << stage;
  }
  EXPECT_EQ(samples.at("ragperf_query_duration_seconds_count"), 1);  // the repeat was cached
  EXPECT_GE(samples.at("ragperf_http_requests_total"), 2);
  EXPECT_EQ(samples.at("ragperf_cache_exact_hits_total"), 1);
}

TEST_F(ServerEndpoints, StatsJoinMonitorCacheEmbeddingAndServer) {
  HttpClient client(server_->port());
  ASSERT_EQ(client.post_json("/query", {{"text", "btree range"}}).status, 200);
  ASSERT_EQ(client.post_json("/query", {{"text", "  BTREE   range "}}).status, 200);
  ASSERT_EQ(client.get("/nope").status, 404);
  const Reply r = client.get("/stats");
  ASSERT_EQ(r.status, 200) << r.error;
  const nlohmann::json j = r.json();
  EXPECT_EQ(j["cache"]["exact_hits"], 1);
  EXPECT_EQ(j["cache"]["entries"], 1);
  EXPECT_EQ(j["embedding"]["dim"], home_.model()->dim());
  EXPECT_EQ(j["embedding"]["model"], home_.model()->id());
  EXPECT_EQ(j["server"]["requests"], 3);  // this one is still in flight
  EXPECT_EQ(j["server"]["errors_4xx"], 1);
  EXPECT_EQ(j["server"]["in_flight"], 1);
  bool found = false;
  for (const auto& s : j["monitor"]["stages"]) found |= s["name"] == "http_query";
  EXPECT_TRUE(found) << j["monitor"].dump();
}

TEST_F(ServerEndpoints, HealthNamesTheStoreAndModel) {
  HttpClient client(server_->port());
  const Reply r = client.get("/health");
  ASSERT_EQ(r.status, 200) << r.error;
  const nlohmann::json j = r.json();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_NE(j["store"].get<std::string>().find("local store"), std::string::npos) << r.body;
  EXPECT_EQ(j["model"], home_.model()->id());
  EXPECT_EQ(j["tables"], 2);
  const Reply head = client.request("HEAD", "/health", "", "");
  EXPECT_EQ(head.status, 200) << head.error;
}

// A real store whose reads can be made to fail as an unreachable database does.
class FailingStore : public VectorStore {
 public:
  explicit FailingStore(std::shared_ptr<VectorStore> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> down{false};

  CollectionInfo ensure_collection(const std::string& n, size_t d, Metric m,
                                   const std::string& id) override {
    return inner_->ensure_collection(n, d, m, id);
  }
  std::optional<CollectionInfo> collection(const std::string& name) override {
    check();
    return inner_->collection(name);
  }
  std::vector<CollectionInfo> collections() override {
    check();
    return inner_->collections();
  }
  std::optional<std::string> source_hash(const std::string& c, const std::string& s) override {
    return inner_->source_hash(c, s);
  }
  void replace_source(const std::string& c, const std::string& s, const std::string& h,
                      std::span<const Chunk> chunks) override {
    inner_->replace_source(c, s, h, chunks);
  }
  size_t remove_source(const std::string& c, const std::string& s) override {
    return inner_->remove_source(c, s);
  }
  void add(const std::string& c, std::span<const Chunk> chunks) override { inner_->add(c, chunks); }
  std::vector<Hit> search(const std::string& c, std::span<const float> q,
                          const SearchOptions& o) override {
    check();
    return inner_->search(c, q, o);
  }
  boost::asio::awaitable<std::vector<Hit>> async_search(std::string c, std::vector<float> q,
                                                        SearchOptions o) override {
    check();
    co_return co_await inner_->async_search(std::move(c), std::move(q), o);
  }
  size_t count(const std::string& c) override { return inner_->count(c); }
  void drop(const std::string& c) override { inner_->drop(c); }
  std::string describe() const override { return "failing " + inner_->describe(); }

 private:
  void check() const {
    if (down) throw ConnectionError("cannot reach the test database: it is down");
  }
  std::shared_ptr<VectorStore> inner_;
};

TEST(ServerStoreDown, HealthAndQueryAnswer503WithTheReason) {
  ServerHome home;
  auto store = std::make_shared<FailingStore>(home.store());
  home.use_store(store);
  Server server({.port = 0}, home.components());
  server.start();
  HttpClient client(server.port());
  ASSERT_EQ(client.get("/health").status, 200);
  store->down = true;
  const Reply health = client.get("/health");
  ASSERT_EQ(health.status, 503) << health.error;
  EXPECT_EQ(health.json()["status"], "unavailable");
  EXPECT_NE(health.json()["error"].get<std::string>().find("it is down"), std::string::npos)
      << health.body;
  const Reply q = client.post_json("/query", {{"text", "vacuum"}});
  ASSERT_EQ(q.status, 503) << q.body;
  EXPECT_NE(q.json()["error"].get<std::string>().find("it is down"), std::string::npos) << q.body;
  store->down = false;
  EXPECT_EQ(client.post_json("/query", {{"text", "vacuum"}}).status, 200);
  server.stop();
}

}  // namespace
}  // namespace ragperf::testing
