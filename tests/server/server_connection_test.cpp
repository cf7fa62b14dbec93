// Connections: keep-alive, many clients at once, and stop() finishing a request in flight.
#include "ragperf/server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "ragperf/error.h"
#include "server_test_support.h"

namespace ragperf::testing {
namespace {

using namespace std::chrono_literals;
using ServerConnection = ServerTest;

TEST_F(ServerConnection, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient client(server_->port());
  ASSERT_EQ(client.get("/health").status, 200);
  EXPECT_EQ(client.new_connections(), 1);
  const std::vector<std::string> texts = {"vacuum", "replication slot", "hash index"};
  for (const auto& text : texts) {
    const Reply r = client.post_json("/query", {{"text", text}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(client.new_connections(), 0) << "request for '" << text << "' reconnected";
  }
  // An error answer keeps the connection too.
  EXPECT_EQ(client.post_json("/query", {{"text", ""}}).status, 422);
  EXPECT_EQ(client.new_connections(), 0);
  EXPECT_EQ(client.get("/metrics").status, 200);
  EXPECT_EQ(client.new_connections(), 0);
}

TEST_F(ServerConnection, TwentyConcurrentClientsAreAllAnswered) {
  constexpr int kClients = 20;
  constexpr int kEach = 3;
  const std::vector<std::string> words = {"vacuum", "standby", "btree", "slot",
                                          "index",  "primary", "disk"};
  std::vector<std::future<std::vector<Reply>>> futures;
  for (int c = 0; c < kClients; ++c) {
    futures.push_back(std::async(std::launch::async, [&, c] {
      HttpClient client(server_->port());
      std::vector<Reply> replies;
      for (int i = 0; i < kEach; ++i) {
        const std::string text = words[(c + i) % words.size()] + " " + std::to_string(c % 4);
        replies.push_back(client.post_json("/query", {{"text", text}, {"top_k", 2}}));
      }
      replies.push_back(client.post_json("/embed", {{"texts", {words[c % words.size()]}}}));
      return replies;
    }));
  }
  int answered = 0;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    for (const Reply& r : f.get()) {
      ASSERT_EQ(r.status, 200) << r.error << r.body;
      const nlohmann::json j = r.json();
      if (j.contains("hits")) {
        EXPECT_EQ(j["hits"].size(), 2u) << r.body;
      } else {
        EXPECT_EQ(j["embeddings"].size(), 1u);
      }
      ++answered;
    }
  }
  EXPECT_EQ(answered, kClients * (kEach + 1));
  HttpClient client(server_->port());
  const nlohmann::json stats = client.get("/stats").json();
  EXPECT_EQ(stats["server"]["requests"], kClients * (kEach + 1));
  EXPECT_EQ(stats["server"]["errors_5xx"], 0);
}

// The real model, held at a gate inside embed() so that a request is surely in flight.
class GateModel : public EmbeddingModel {
 public:
  explicit GateModel(std::shared_ptr<EmbeddingModel> inner) : inner_(std::move(inner)) {}
  size_t dim() const override { return inner_->dim(); }
  std::string id() const override { return inner_->id(); }
  size_t max_tokens() const override { return inner_->max_tokens(); }
  size_t count_tokens(std::string_view text) const override { return inner_->count_tokens(text); }
  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts = nullptr) override {
    {
      std::unique_lock lock(mutex_);
      if (closed_) {
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !closed_; });
      }
    }
    return inner_->embed(texts, token_counts);
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  bool wait_entered(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    closed_ = false;
    cv_.notify_all();
  }

 private:
  std::shared_ptr<EmbeddingModel> inner_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool closed_ = false;
  bool entered_ = false;
};

TEST(ServerStop, FinishesTheRequestInFlightAndClosesIdleConnections) {
  ServerHome home;
  auto gate = std::make_shared<GateModel>(home.model());
  home.use_model(gate);
  Server server({.port = 0}, home.components());
  server.start();
  const uint16_t port = server.port();
  HttpClient idle(port);
  ASSERT_EQ(idle.get("/health").status, 200);  // then stays open, idle

  gate->close();
  auto in_flight = std::async(std::launch::async, [port] {
    HttpClient client(port);
    return client.post_json("/embed", {{"texts", {"vacuum full"}}});
  });
  ASSERT_TRUE(gate->wait_entered(20s));
  auto stopped = std::async(std::launch::async, [&] { server.stop(); });
  EXPECT_EQ(stopped.wait_for(300ms), std::future_status::timeout)
      << "stop() returned with a request in flight";
  EXPECT_FALSE(server.running());
  gate->open();

  ASSERT_EQ(in_flight.wait_for(20s), std::future_status::ready);
  const Reply r = in_flight.get();
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.json()["embeddings"].size(), 1u);
  EXPECT_EQ(r.headers.at("connection"), "close");
  ASSERT_EQ(stopped.wait_for(20s), std::future_status::ready);

  // Nothing listens any more; the idle connection was closed.
  HttpClient late(port, 5);
  EXPECT_EQ(late.get("/health").status, 0);
  EXPECT_EQ(idle.get("/health").status, 0);
  server.stop();  // idempotent
}

TEST(ServerStop, StopWithoutStartAndTwiceIsHarmless) {
  ServerHome home;
  Server never_started({.port = 0}, home.components());
  never_started.stop();
  EXPECT_FALSE(never_started.running());
  Server server({.port = 0}, home.components());
  server.start();
  EXPECT_TRUE(server.running());
  EXPECT_THROW(server.start(), ConfigError);
  server.stop();
  server.stop();
}

}  // namespace
}  // namespace ragperf::testing
