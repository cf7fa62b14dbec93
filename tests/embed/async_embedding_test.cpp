// AsyncEmbedding: futures and coroutines give the same vectors as direct model calls, concurrent
// embed_single calls share forward passes, stats add up, a bad text fails only its own request,
// and asking for CUDA in this build is a clear error.
#include "ragperf/async_embedding.h"

// GCC 12 reports -Wnull-dereference inside Boost.Asio's io_context after inlining (not in code
// here); the warning is off for this file only.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "testing/testing.h"

namespace {

std::filesystem::path model_dir() {
  return ragperf::testing::shared_dir() / "models" / "bert-l2-h384-mean-f16";
}

std::shared_ptr<ragperf::EmbeddingModel> load() {
  ragperf::Settings settings;
  return ragperf::load_embedding_model(model_dir().string(), settings);
}

std::vector<std::string> texts(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back("query number " + std::to_string(i) + (i % 3 ? " about vectors" : "") +
                  (i % 5 ? " and a somewhat longer tail of words" : ""));
  }
  return out;
}

void expect_close(std::span<const float> a, std::span<const float> b, double tol = 1e-6) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "component " << i;
}

TEST(AsyncEmbedding, ConcurrentSinglesAreCoalescedAndCorrect) {
  auto model = load();
  const auto inputs = texts(48);
  const auto direct = model->embed(inputs);
  ragperf::AsyncEmbedding embedder(model, "auto", 16);
  std::vector<std::vector<float>> got(inputs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<std::vector<float>>> futures;
      for (size_t i = t; i < inputs.size(); i += 8)
        futures.push_back(embedder.embed_single(inputs[i]));
      size_t k = 0;
      for (size_t i = t; i < inputs.size(); i += 8) got[i] = futures[k++].get();
    });
  }
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < inputs.size(); ++i) expect_close(got[i], direct.row(i));
  const auto stats = embedder.get_stats();
  EXPECT_EQ(stats.embeddings, inputs.size());
  EXPECT_EQ(stats.requests, inputs.size());
  EXPECT_LT(stats.batches, inputs.size()) << "concurrent calls were not coalesced";
  EXPECT_GE(stats.batches, inputs.size() / 16);  // bounded by the batch size
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_GT(stats.seconds, 0.0);
  EXPECT_NEAR(stats.throughput_embeddings_per_sec,
              static_cast<double>(stats.embeddings) / stats.seconds,
              1e-6 * stats.throughput_embeddings_per_sec);
  EXPECT_EQ(stats.device, "cpu");
  EXPECT_GE(stats.threads, 1u);
  EXPECT_EQ(stats.max_batch, 16u);
}

TEST(AsyncEmbedding, BatchFutureAndAwaitableForms) {
  auto model = load();
  const auto inputs = texts(5);
  const auto direct = model->embed(inputs);
  ragperf::AsyncEmbedding embedder(model);
  const auto m = embedder.embed_batch(inputs).get();
  ASSERT_EQ(m.rows, inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) expect_close(m.row(i), direct.row(i));

  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<std::pair<ragperf::EmbeddingMatrix, std::vector<float>>> {
        auto batch = co_await embedder.async_embed_batch(inputs);
        auto one = co_await embedder.async_embed_single(inputs[2]);
        co_return std::make_pair(std::move(batch), std::move(one));
      },
      boost::asio::use_future);
  io.run();
  auto [batch, one] = fut.get();
  for (size_t i = 0; i < inputs.size(); ++i) expect_close(batch.row(i), direct.row(i));
  expect_close(one, direct.row(2));
  const auto stats = embedder.get_stats();
  EXPECT_EQ(stats.embeddings, 2 * inputs.size() + 1);
  EXPECT_EQ(stats.requests, 3u);
}

TEST(AsyncEmbedding, BadTextFailsOnlyItsOwnRequest) {
  auto model = load();
  ragperf::AsyncEmbedding embedder(model, "cpu", 64);
  std::vector<std::future<std::vector<float>>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(embedder.embed_single(i == 7 ? std::string("bad \xc3\x28") : "fine text"));
  }
  for (int i = 0; i < 20; ++i) {
    if (i == 7) {
      EXPECT_THROW(futures[static_cast<size_t>(i)].get(), ragperf::InputError);
    } else {
      EXPECT_EQ(futures[static_cast<size_t>(i)].get().size(), model->dim());
    }
  }
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { co_await embedder.async_embed_single("\xff"); },
      boost::asio::use_future);
  io.run();
  EXPECT_THROW(fut.get(), ragperf::InputError);
  EXPECT_EQ(embedder.get_stats().failed, 2u);
}

/// The real model behind a gate: each forward pass waits until the test opens the gate, and the
/// texts of every pass are recorded, so a test sees the queue's order and bounds at work.
class GatedModel : public ragperf::EmbeddingModel {
 public:
  explicit GatedModel(std::shared_ptr<ragperf::EmbeddingModel> real) : real_(std::move(real)) {}
  size_t dim() const override { return real_->dim(); }
  std::string id() const override { return real_->id(); }
  size_t max_tokens() const override { return real_->max_tokens(); }
  size_t count_tokens(std::string_view text) const override { return real_->count_tokens(text); }
  ragperf::EmbeddingMatrix embed(std::span<const std::string> texts,
                                 std::vector<size_t>* token_counts) override {
    {
      std::unique_lock lock(mu_);
      passes_.emplace_back(texts.begin(), texts.end());
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
    }
    return real_->embed(texts, token_counts);
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  /// Waits until `n` passes have started; false after 10 s.
  bool wait_passes(size_t n) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return passes_.size() >= n; });
  }
  std::vector<std::vector<std::string>> passes() const {
    std::lock_guard lock(mu_);
    return passes_;
  }

 private:
  std::shared_ptr<ragperf::EmbeddingModel> real_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::vector<std::string>> passes_;
  bool open_ = false;
};

TEST(AsyncEmbedding, ALongRequestIsCutIntoPassesAndAShortOneWaitsForOnlyOne) {
  auto real = load();
  auto gated = std::make_shared<GatedModel>(real);
  ragperf::AsyncEmbedding embedder(gated, "cpu", 8);
  const auto blocker = embedder.embed_single("holds the first pass");
  ASSERT_TRUE(gated->wait_passes(1));
  const auto long_texts = texts(20);
  auto long_request = embedder.embed_batch(long_texts);
  auto short_request = embedder.embed_single("a short question");
  gated->open();
  const auto m = long_request.get();
  const auto one = short_request.get();
  blocker.wait();
  const auto passes = gated->passes();
  // blocker | 8 of the long one | the short one | 8 | 4: the short one waited for one pass.
  ASSERT_EQ(passes.size(), 5u);
  EXPECT_EQ(passes[1].size(), 8u);
  ASSERT_EQ(passes[2].size(), 1u);
  EXPECT_EQ(passes[2][0], "a short question");
  EXPECT_EQ(passes[3].size(), 8u);
  EXPECT_EQ(passes[4].size(), 4u);
  const auto direct = real->embed(long_texts);
  ASSERT_EQ(m.rows, long_texts.size());
  for (size_t i = 0; i < long_texts.size(); ++i) expect_close(m.row(i), direct.row(i));
  expect_close(one, real->embed(std::vector<std::string>{"a short question"}).row(0));
  EXPECT_EQ(embedder.get_stats().requests, 3u);
  EXPECT_EQ(embedder.get_stats().embeddings, 22u);
}

TEST(AsyncEmbedding, AFullQueueRefusesWithOverloadedAndLosesNothingAdmitted) {
  auto gated = std::make_shared<GatedModel>(load());
  ragperf::AsyncEmbeddingOptions options;
  options.batch_size = 4;
  options.max_queued_requests = 3;
  options.max_queued_texts = 5;
  ragperf::AsyncEmbedding embedder(gated, options);
  auto running = embedder.embed_single("running");  // taken off the queue by the first pass
  ASSERT_TRUE(gated->wait_passes(1));
  std::vector<std::future<ragperf::EmbeddingMatrix>> admitted;
  admitted.push_back(embedder.embed_batch(texts(3)));
  admitted.push_back(embedder.embed_batch(texts(2)));  // 5 texts queued: the bound
  try {
    embedder.embed_batch(texts(1));
    ADD_FAILURE() << "a sixth queued text was admitted";
  } catch (const ragperf::OverloadedError& e) {
    EXPECT_NE(std::string(e.what()).find("max_queued_texts=5"), std::string::npos) << e.what();
  }
  gated->open();
  EXPECT_EQ(running.get().size(), gated->dim());
  EXPECT_EQ(admitted[0].get().rows, 3u);
  EXPECT_EQ(admitted[1].get().rows, 2u);
  EXPECT_EQ(embedder.get_stats().rejected, 1u);
  // Alone, a request larger than the text bound is admitted: its caller bounds its size.
  EXPECT_EQ(embedder.embed_batch(texts(9)).get().rows, 9u);
}

TEST(AsyncEmbedding, ARequestWhoseCallerGaveUpIsDroppedBeforeItsPass) {
  auto gated = std::make_shared<GatedModel>(load());
  ragperf::AsyncEmbedding embedder(gated, "cpu", 4);
  auto running = embedder.embed_single("running");
  ASSERT_TRUE(gated->wait_passes(1));
  std::stop_source gave_up;
  std::promise<std::exception_ptr> outcome;
  // 10 texts: cut into passes of 4; the caller gives up before any of them runs.
  embedder.submit(
      texts(10),
      [&](std::exception_ptr error, ragperf::EmbeddingMatrix) { outcome.set_value(error); },
      gave_up.get_token());
  gave_up.request_stop();
  gated->open();
  running.get();
  const std::exception_ptr error = outcome.get_future().get();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), ragperf::CancelledError);
  EXPECT_EQ(gated->passes().size(), 1u) << "work was spent on a request nobody waits for";
  const auto stats = embedder.get_stats();
  EXPECT_EQ(stats.cancelled, 1u);
  EXPECT_EQ(stats.embeddings, 1u);
  EXPECT_EQ(stats.requests, 2u);
}

TEST(AsyncEmbedding, DeviceChoices) {
  EXPECT_EQ(ragperf::resolve_device("auto"), "cpu");
  EXPECT_EQ(ragperf::resolve_device("cpu"), "cpu");
  try {
    ragperf::AsyncEmbedding e(model_dir().string(), "cuda", 32);
    FAIL() << "cuda must be refused in a build without CUDA";
  } catch (const ragperf::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ragperf::resolve_device("tpu"), ragperf::ConfigError);
  EXPECT_THROW(ragperf::AsyncEmbedding(load(), "cpu", 0), ragperf::ConfigError);
}

TEST(AsyncEmbedding, FromModelNameAndSettings) {
  ragperf::AsyncEmbedding by_name(model_dir().string(), "auto", 8);
  EXPECT_EQ(by_name.dim(), 384u);
  ragperf::Settings settings;
  settings.embed_model = model_dir().string();
  settings.embed_batch = 4;
  ragperf::AsyncEmbedding by_settings(settings);
  EXPECT_EQ(by_settings.get_stats().max_batch, 4u);
  const auto a = by_name.embed_single("same text").get();
  const auto b = by_settings.embed_single("same text").get();
  expect_close(a, b);
  ragperf::Settings bad;
  bad.embed_model = (ragperf::testing::shared_dir() / "models" / "no-such-model").string();
  EXPECT_THROW(ragperf::AsyncEmbedding{bad}, ragperf::ModelError);
}

}  // namespace
