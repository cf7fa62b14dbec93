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
