// testing/forwarding_store.h: a VectorStore that forwards every call to a real store, for tests
// that need to act in the middle of one call (fail after a commit, invalidate a cache while a
// search runs). Override the one method to change; the others reach the real store. The awaitable
// search runs the (overridable) blocking search() on the Runtime's compute pool, as LocalStore
// does, so a test that overrides search() sees every search, blocking or awaited.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ragperf/runtime.h"
#include "ragperf/vector_store.h"

namespace ragperf::testing {

class ForwardingStore : public VectorStore {
 public:
  explicit ForwardingStore(VectorStore& real) : real_(real) {}

  CollectionInfo ensure_collection(const std::string& name, size_t dim, Metric metric,
                                   const std::string& model_id) override {
    return real_.ensure_collection(name, dim, metric, model_id);
  }
  std::optional<CollectionInfo> collection(const std::string& name) override {
    return real_.collection(name);
  }
  std::vector<CollectionInfo> collections() override { return real_.collections(); }
  std::optional<std::string> source_hash(const std::string& c, const std::string& s) override {
    return real_.source_hash(c, s);
  }
  void replace_source(const std::string& c, const std::string& s, const std::string& hash,
                      std::span<const Chunk> chunks) override {
    real_.replace_source(c, s, hash, chunks);
  }
  size_t remove_source(const std::string& c, const std::string& s) override {
    return real_.remove_source(c, s);
  }
  std::vector<std::string> list_sources(const std::string& c) override {
    return real_.list_sources(c);
  }
  void add(const std::string& c, std::span<const Chunk> chunks) override { real_.add(c, chunks); }
  std::vector<Hit> search(const std::string& c, std::span<const float> q,
                          const SearchOptions& o) override {
    return real_.search(c, q, o);
  }
  boost::asio::awaitable<std::vector<Hit>> async_search(std::string c, std::vector<float> q,
                                                        SearchOptions o) override {
    auto scan = [this, c = std::move(c), q = std::move(q), o] { return search(c, q, o); };
    co_return co_await Runtime::shared()->on_compute(std::move(scan));
  }
  size_t count(const std::string& c) override { return real_.count(c); }
  void drop(const std::string& c) override { real_.drop(c); }
  std::string describe() const override { return "forwarding to " + real_.describe(); }

 protected:
  VectorStore& real_;
};

}  // namespace ragperf::testing
