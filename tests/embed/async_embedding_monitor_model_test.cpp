// AsyncEmbedding with a PerformanceMonitor: one "tokenize" and one "embed" record per merged
// batch with a real BERT checkpoint, the same vectors as without a monitor, a bad text failing
// only its own request, and a static model (no separate tokenizer pass) recording "embed" only.
#include "ragperf/async_embedding.h"

// GCC 12 reports -Wnull-dereference inside Boost.Asio's io_context after inlining (not in code
// here); the warning is off for this file only.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/monitor.h"
#include "ragperf/static_model.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

std::shared_ptr<EmbeddingModel> load_bert() {
  Settings settings;
  return load_embedding_model((testing::shared_dir() / "models" / "bert-l2-h384-mean-f16").string(),
                              settings);
}

std::vector<std::string> texts(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back("monitored query " + std::to_string(i) +
                  (i % 2 ? " about pgvector indexes" : ""));
  return out;
}

void expect_close(std::span<const float> a, std::span<const float> b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << "component " << i;
}

// Positive, finite and below a minute: a record of real work, whatever the machine.
void expect_plausible(const StageStats& s) {
  EXPECT_GT(s.min_s, 0.0) << s.name;
  EXPECT_GT(s.sum_s, 0.0) << s.name;
  EXPECT_LE(s.min_s, s.max_s) << s.name;
  EXPECT_LT(s.max_s, 60.0) << s.name;
}

TEST(AsyncEmbeddingMonitor, SequentialCallsRecordOneTokenizeAndOneEmbedEach) {
  auto model = load_bert();
  const auto inputs = texts(6);
  const EmbeddingMatrix direct = model->embed(inputs);
  PerformanceMonitor monitor;
  AsyncEmbedding embedder(model, {.batch_size = 16, .monitor = &monitor});
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<float> v = embedder.embed_single(inputs[i]).get();
    expect_close(v, direct.row(i));
  }
  const auto tokenize = monitor.get_stats("tokenize");
  const auto embed = monitor.get_stats("embed");
  ASSERT_TRUE(tokenize.has_value());
  ASSERT_TRUE(embed.has_value());
  EXPECT_EQ(tokenize->count, inputs.size());
  EXPECT_EQ(embed->count, inputs.size());
  expect_plausible(*tokenize);
  expect_plausible(*embed);
  const EmbeddingStats stats = embedder.get_stats();
  EXPECT_EQ(stats.batches, inputs.size());
  EXPECT_EQ(stats.embeddings, inputs.size());
  // Both stages happen inside the dispatcher's computing time.
  EXPECT_LE(tokenize->sum_s + embed->sum_s, stats.seconds + 1e-6);
  // Only this component's stages.
  EXPECT_EQ(monitor.get_stats().size(), 2u);
}

TEST(AsyncEmbeddingMonitor, ConcurrentCallsRecordOncePerForwardPass) {
  auto model = load_bert();
  const auto inputs = texts(40);
  const EmbeddingMatrix direct = model->embed(inputs);
  PerformanceMonitor monitor;
  AsyncEmbedding embedder(model, {.device = "cpu", .batch_size = 8, .monitor = &monitor});
  std::vector<std::vector<float>> got(inputs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<std::vector<float>>> futures;
      for (size_t i = t; i < inputs.size(); i += 4)
        futures.push_back(embedder.embed_single(inputs[i]));
      size_t k = 0;
      for (size_t i = t; i < inputs.size(); i += 4) got[i] = futures[k++].get();
    });
  }
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < inputs.size(); ++i) expect_close(got[i], direct.row(i));
  const EmbeddingStats stats = embedder.get_stats();
  const auto tokenize = monitor.get_stats("tokenize");
  const auto embed = monitor.get_stats("embed");
  ASSERT_TRUE(tokenize && embed);
  EXPECT_EQ(embed->count, stats.batches);
  EXPECT_EQ(tokenize->count, stats.batches);  // no batch failed to tokenise entirely
  EXPECT_GE(stats.batches, inputs.size() / 8);
  EXPECT_LE(stats.batches, inputs.size());
  expect_plausible(*tokenize);
  expect_plausible(*embed);
}

TEST(AsyncEmbeddingMonitor, BatchRequestIsOneRecordAndMatchesUnmonitored) {
  auto model = load_bert();
  const auto inputs = texts(12);
  PerformanceMonitor monitor;
  AsyncEmbedding monitored(model, {.batch_size = 64, .monitor = &monitor});
  AsyncEmbedding plain(model, "cpu", 64);
  const EmbeddingMatrix a = monitored.embed_batch(inputs).get();
  const EmbeddingMatrix b = plain.embed_batch(inputs).get();
  ASSERT_EQ(a.rows, inputs.size());
  ASSERT_EQ(a.dim, model->dim());
  for (size_t i = 0; i < inputs.size(); ++i) expect_close(a.row(i), b.row(i));
  EXPECT_EQ(monitor.get_stats("tokenize")->count, 1u);
  EXPECT_EQ(monitor.get_stats("embed")->count, 1u);
  // An empty request embeds nothing and runs no forward pass, but is still tokenised (nothing).
  const EmbeddingMatrix none = monitored.embed_batch({}).get();
  EXPECT_EQ(none.rows, 0u);
  EXPECT_EQ(none.dim, model->dim());
  EXPECT_EQ(monitor.get_stats("tokenize")->count, 2u);
  EXPECT_EQ(monitor.get_stats("embed")->count, 1u);
}

TEST(AsyncEmbeddingMonitor, ARequestCutIntoPassesMatchesOnePass) {
  auto model = load_bert();
  const auto inputs = texts(21);
  PerformanceMonitor monitor;
  AsyncEmbedding cut(model, {.batch_size = 4, .monitor = &monitor});
  AsyncEmbedding whole(model, "cpu", 64);
  const EmbeddingMatrix a = cut.embed_batch(inputs).get();
  const EmbeddingMatrix b = whole.embed_batch(inputs).get();
  ASSERT_EQ(a.rows, inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) expect_close(a.row(i), b.row(i));
  EXPECT_EQ(monitor.get_stats("embed")->count, 6u);  // 4 + 4 + 4 + 4 + 4 + 1
  EXPECT_EQ(cut.get_stats().requests, 1u);
}

TEST(AsyncEmbeddingMonitor, BadTextFailsOnlyItsOwnRequestAndIsNotAnEmbed) {
  auto model = load_bert();
  PerformanceMonitor monitor;
  AsyncEmbedding embedder(model, {.batch_size = 64, .monitor = &monitor});
  std::vector<std::string> bad = {"a fine text", "bad \xc3\x28 bytes"};
  try {
    embedder.embed_batch(bad).get();
    FAIL() << "invalid UTF-8 must fail its request";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("text 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(monitor.get_stats("tokenize")->count, 1u);
  EXPECT_FALSE(monitor.get_stats("embed").has_value());  // nothing reached the forward pass
  EXPECT_EQ(embedder.get_stats().failed, 1u);
  EXPECT_EQ(embedder.get_stats().batches, 0u);

  // Queued together with good requests: only the bad one fails, the rest share a pass.
  std::vector<std::future<std::vector<float>>> futures;
  for (int i = 0; i < 12; ++i)
    futures.push_back(embedder.embed_single(i == 5 ? std::string("\xff") : "good text"));
  const std::vector<float> expected = model->embed(std::vector<std::string>{"good text"}).data;
  for (int i = 0; i < 12; ++i) {
    auto& f = futures[static_cast<size_t>(i)];
    if (i == 5) {
      EXPECT_THROW(f.get(), InputError);
    } else {
      expect_close(f.get(), expected);
    }
  }
  const EmbeddingStats stats = embedder.get_stats();
  EXPECT_EQ(stats.failed, 2u);
  EXPECT_EQ(stats.embeddings, 11u);
  EXPECT_EQ(monitor.get_stats("embed")->count, stats.batches);
}

TEST(AsyncEmbeddingMonitor, StaticModelRecordsEmbedOnly) {
  testing::TempDir tmp;
  testing::write_file(tmp / "glove" / "vectors.txt",
                      "alpha 0.1 0.2 0.3 0.4\nbeta -0.4 0.3 0.2 0.1\ngamma 0.5 -0.5 0.5 0.25\n");
  std::shared_ptr<EmbeddingModel> model = load_static_model(tmp / "glove");
  PerformanceMonitor monitor;
  AsyncEmbedding embedder(model, {.batch_size = 4, .monitor = &monitor});
  const std::vector<std::string> inputs = {"alpha beta", "gamma", "beta gamma alpha"};
  const EmbeddingMatrix direct = model->embed(inputs);
  for (size_t i = 0; i < inputs.size(); ++i)
    expect_close(embedder.embed_single(inputs[i]).get(), direct.row(i));
  EXPECT_FALSE(monitor.get_stats("tokenize").has_value());
  const auto embed = monitor.get_stats("embed");
  ASSERT_TRUE(embed.has_value());
  EXPECT_EQ(embed->count, inputs.size());
  EXPECT_EQ(embed->count, embedder.get_stats().batches);
  EXPECT_GT(embed->sum_s, 0.0);
  EXPECT_LT(embed->max_s, 60.0);
}

TEST(AsyncEmbeddingMonitor, OptionsAreCheckedAndReadFromSettings) {
  auto model = load_bert();
  PerformanceMonitor monitor;
  EXPECT_THROW(AsyncEmbedding(model, {.batch_size = 0, .monitor = &monitor}), ConfigError);
  EXPECT_THROW(AsyncEmbedding(model, {.device = "tpu", .monitor = &monitor}), ConfigError);
  EXPECT_THROW(AsyncEmbedding(nullptr, {.monitor = &monitor}), ConfigError);
  Settings settings;
  settings.embed_batch = 5;
  EXPECT_EQ(AsyncEmbeddingOptions::from_settings(settings).batch_size, 5u);
  settings.embed_batch = 0;
  EXPECT_EQ(AsyncEmbeddingOptions::from_settings(settings).batch_size, 1u);
  AsyncEmbeddingOptions options = AsyncEmbeddingOptions::from_settings(settings);
  EXPECT_EQ(options.device, "auto");
  EXPECT_EQ(options.monitor, nullptr);
  options.monitor = &monitor;
  AsyncEmbedding embedder(model, options);
  EXPECT_EQ(embedder.get_stats().max_batch, 1u);
  EXPECT_EQ(embedder.embed_single("one").get().size(), model->dim());
  EXPECT_EQ(monitor.get_stats("embed")->count, 1u);
  // Nothing was recorded by the constructors that threw.
  EXPECT_EQ(monitor.get_stats("tokenize")->count, 1u);
}

}  // namespace
}  // namespace ragperf
