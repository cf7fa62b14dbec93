// The negation false-hit rate of the semantic cache with real model files (label "model").
// Prints the rates at several thresholds; README's Semantic cache section quotes them.
#include <gtest/gtest.h>

#include <cstdio>

#include "cache/negation_harness.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"

namespace ragperf::testing {
namespace {

TEST(NegationPairs, SetIsLargeAndVaried) {
  const auto pairs = load_negation_pairs();
  EXPECT_GE(pairs.size(), 40u);
  for (const auto& p : pairs) {
    EXPECT_NE(normalize_query_text(p.query), normalize_query_text(p.negation)) << p.query;
  }
}

class NegationModel : public ::testing::TestWithParam<const char*> {};

// The shared random-weight fixtures, and the real demo model that scripts/setup.sh prepares
// under RAGPERF_HOME/models.
std::filesystem::path model_dir(const std::string& name) {
  if (name == "all-MiniLM-L6-v2") return load_settings().home / "models" / name;
  return shared_dir() / "models" / name;
}

TEST_P(NegationModel, FalseHitRateAtThresholds) {
  const auto dir = model_dir(GetParam());
  ASSERT_TRUE(std::filesystem::exists(dir / "config.json")) << dir;
  const Settings settings = load_settings({}, {});
  auto model = load_embedding_model(dir.string(), settings);
  ASSERT_TRUE(model);
  const auto sims = negation_similarities(*model);
  double min_sim = 1, max_sim = -1, mean = 0;
  for (double s : sims) {
    EXPECT_GE(s, -1.0001);
    EXPECT_LE(s, 1.0001);
    min_sim = std::min(min_sim, s);
    max_sim = std::max(max_sim, s);
    mean += s / static_cast<double>(sims.size());
  }
  std::printf("[negation] %s: %zu pairs, similarity min %.4f mean %.4f max %.4f\n", GetParam(),
              sims.size(), min_sim, mean, max_sim);
  double previous = 1.0;
  for (double threshold : {0.80, 0.90, 0.95, 0.98, 0.99}) {
    const double rate = negation_false_hit_rate(*model, threshold, /*negation_guard=*/false);
    const double guarded = negation_false_hit_rate(*model, threshold);
    size_t above = 0;
    for (double s : sims) above += s >= threshold;
    std::printf("[negation] %s: threshold %.2f -> false-hit rate %.3f (with negation_guard %.3f)\n",
                GetParam(), threshold, rate, guarded);
    EXPECT_LE(guarded, rate + 1e-9) << "the guard can only remove hits";
    // Every pair whose own similarity crosses the threshold is a false hit (at least).
    EXPECT_GE(rate + 1e-9, static_cast<double>(above) / static_cast<double>(sims.size()));
    EXPECT_LE(rate, previous + 1e-9) << "a higher threshold cannot hit more";
    previous = rate;
  }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, NegationModel,
                         ::testing::Values("bert-l2-h384-cls-f32", "bert-l2-h384-mean-f16",
                                           "all-MiniLM-L6-v2"));

}  // namespace
}  // namespace ragperf::testing
