// ENABLE_ASYNC=0 through a real Server: with ServerOptions::sequential_queries, concurrent /query
// requests run one at a time (at most one search in the store at any moment); without it they
// overlap.
#include "ragperf/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "server_test_support.h"
#include "testing/forwarding_store.h"

namespace ragperf::testing {
namespace {

using namespace std::chrono_literals;

// Counts the searches running at once; each takes at least 50 ms so that overlapping queries
// are seen overlapping.
class InFlightStore : public ForwardingStore {
 public:
  explicit InFlightStore(std::shared_ptr<VectorStore> real)
      : ForwardingStore(*real), owned_(std::move(real)) {}
  std::vector<Hit> search(const std::string& c, std::span<const float> q,
                          const SearchOptions& o) override {
    const int now = ++running_;
    int seen = max_running.load();
    while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(50ms);
    auto hits = real_.search(c, q, o);
    --running_;
    return hits;
  }
  std::atomic<int> max_running{0};

 private:
  std::shared_ptr<VectorStore> owned_;
  std::atomic<int> running_{0};
};

// Six clients at once, each querying its own table (so each request has its own retriever and
// nothing but the server could serialise them); returns the most searches seen at once.
int max_searches_at_once(bool sequential) {
  ServerHome home;
  constexpr int kClients = 6;
  for (int i = 0; i < kClients; ++i) home.add("t" + std::to_string(i), server_test_docs());
  auto store = std::make_shared<InFlightStore>(home.store());
  home.use_store(store);
  ServerOptions options;
  options.port = 0;
  options.sequential_queries = sequential;
  Server server(options, home.components(/*cache=*/false));
  server.start();
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < kClients; ++i) {
    replies.push_back(std::async(std::launch::async, [&server, i] {
      HttpClient client(server.port());
      return client.post_json("/query", {{"text", "standby replication slot"},
                                         {"tables", {"t" + std::to_string(i)}},
                                         {"exact", true}});
    }));
  }
  for (auto& f : replies) {
    EXPECT_EQ(f.wait_for(30s), std::future_status::ready);
    const Reply r = f.get();
    EXPECT_EQ(r.status, 200) << r.error << r.body;
  }
  server.stop();
  return store->max_running.load();
}

TEST(ServerSequential, EnableAsyncOffAnswersOneQueryAtATime) {
  EXPECT_EQ(max_searches_at_once(true), 1);
}

TEST(ServerSequential, EnableAsyncOnLetsQueriesOverlap) {
  EXPECT_GT(max_searches_at_once(false), 1);  // the control: the store does see overlap
}

}  // namespace
}  // namespace ragperf::testing
