// The correctness bar: every model folder with reference outputs gives every token id exactly and
// every embedding component within 1e-5 of what sentence-transformers computed, and a batch of all
// cases (mixed lengths) equals the texts embedded alone within 1e-6. The folders: the two shared
// random-weight fixtures, and the real all-MiniLM-L6-v2 that scripts/setup.sh prepares under
// RAGPERF_HOME/models (reference made by tests/data/make_minilm_reference.py; the test fails,
// never skips, when the folder is missing).
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "embed/bert_model.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "testing/testing.h"

namespace {

// A model folder and its reference file, resolved when the test runs (not at registration).
struct ReferenceCase {
  std::string name;
  bool shared = true;  // a fixture in ../shared, else the real model under RAGPERF_HOME/models

  std::filesystem::path folder() const {
    if (shared) return ragperf::testing::shared_dir() / "models" / name;
    return ragperf::load_settings().home / "models" / name;  // RAGPERF_HOME as the CLI reads it
  }
  std::filesystem::path reference() const {
    if (shared) return ragperf::testing::shared_dir() / "reference" / (name + ".json");
    return ragperf::testing::source_dir() / "tests" / "data" / "minilm_l6_v2_reference.json";
  }
};

void PrintTo(const ReferenceCase& c, std::ostream* os) {
  *os << c.name;
}

class BertReference : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(BertReference, TokenIdsAndEmbeddingsMatchSentenceTransformers) {
  const auto folder = GetParam().folder();
  const auto reference_file = GetParam().reference();
  ASSERT_TRUE(std::filesystem::exists(reference_file)) << reference_file;
  ASSERT_TRUE(std::filesystem::exists(folder / "model.safetensors"))
      << folder << " has no model.safetensors; run scripts/setup.sh python model";
  const auto ref = nlohmann::json::parse(ragperf::testing::read_file(reference_file));
  ASSERT_GE(ref["cases"].size(), 2u);

  auto model = ragperf::embed::BertModel::load(folder);
  ragperf::Settings settings;
  auto generic = ragperf::load_embedding_model(folder.string(), settings);  // the public path
  EXPECT_EQ(generic->dim(), model->dim());
  EXPECT_EQ(model->config().pooling == ragperf::embed::Pooling::kCls ? "cls" : "mean",
            ref["pooling"].get<std::string>());
  EXPECT_EQ(model->config().normalize, ref["normalize"].get<bool>());

  std::vector<std::string> texts;
  for (const auto& c : ref["cases"]) texts.push_back(c["text"].get<std::string>());
  std::vector<size_t> counts;
  const ragperf::EmbeddingMatrix batch = generic->embed(texts, &counts);
  double worst = 0, worst_batch = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& c = ref["cases"][i];
    const auto want_ids = c["token_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(model->encode(texts[i]), want_ids) << "case " << i << ": " << texts[i];
    EXPECT_EQ(counts[i], want_ids.size());
    const auto want = c["embedding"].get<std::vector<double>>();
    ASSERT_EQ(want.size(), model->dim());
    const auto single = generic->embed(std::vector<std::string>{texts[i]});
    for (size_t k = 0; k < want.size(); ++k) {
      worst = std::max(worst, std::abs(single.row(0)[k] - want[k]));
      worst_batch =
          std::max(worst_batch, std::abs(static_cast<double>(batch.row(i)[k]) - single.row(0)[k]));
      ASSERT_NEAR(single.row(0)[k], want[k], 1e-5) << "case " << i << " component " << k;
      ASSERT_NEAR(batch.row(i)[k], single.row(0)[k], 1e-6) << "case " << i << " component " << k;
    }
  }
  std::cout << GetParam().name << ": max |diff| vs reference " << worst << ", batch vs single "
            << worst_batch << "\n";
}

INSTANTIATE_TEST_SUITE_P(Models, BertReference,
                         ::testing::Values(ReferenceCase{"bert-l2-h384-cls-f32"},
                                           ReferenceCase{"bert-l2-h384-mean-f16"},
                                           ReferenceCase{"all-MiniLM-L6-v2", false}),
                         [](const ::testing::TestParamInfo<ReferenceCase>& param_info) {
                           std::string n;
                           for (char c : param_info.param.name)
                             n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

}  // namespace
