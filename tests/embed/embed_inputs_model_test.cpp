// The one truncation rule (embed_inputs, ragperf/embedding_model.h) on the shared BERT fixture
// (max_seq_length 512): refused by default with the tokens and the limit, cut right or left only
// when asked and reported; token ids equal their text; AsyncEmbedding applies the same rule per
// request, so an over-long request fails alone.
#include <gtest/gtest.h>

#include <future>

#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

std::shared_ptr<EmbeddingModel> bert() {
  static const std::shared_ptr<EmbeddingModel> m = load_embedding_model(
      (testing::shared_dir() / "models" / "bert-l2-h384-cls-f32").string(), Settings{});
  return m;
}

std::string words(size_t n) {  // n one-token words: n + 2 tokens
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i % 2 ? " index" : " table";
  return s;
}

void expect_rows_equal(std::span<const float> a, std::span<const float> b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-6) << k;
}

TEST(EmbedInputs, OverLongInputIsRefusedWithItsTokensAndTheLimit) {
  const std::vector<EmbedInput> inputs = {std::string("short"), words(600)};
  try {
    embed_inputs(*bert(), inputs, Truncation::kRefuse);
    FAIL() << "an input of 602 tokens was embedded";
  } catch (const InputTooLongError& e) {
    EXPECT_EQ(e.index(), 1u);
    EXPECT_EQ(e.tokens(), 602u);
    EXPECT_EQ(e.limit(), 512u);
    EXPECT_NE(std::string(e.what()).find("602 tokens"), std::string::npos) << e.what();
  }
  // Exactly at the limit is fine.
  const std::vector<EmbedInput> fits = {words(510)};
  EmbedDetails d;
  embed_inputs(*bert(), fits, Truncation::kRefuse, &d);
  EXPECT_EQ(d.tokens, std::vector<size_t>{512});
  EXPECT_FALSE(d.truncated());
}

TEST(EmbedInputs, RightKeepsTheStartLeftKeepsTheEndAndBothSaySo) {
  const std::string text = words(600);
  const std::vector<EmbedInput> inputs = {text};
  EmbedDetails right;
  const EmbeddingMatrix r = embed_inputs(*bert(), inputs, Truncation::kRight, &right);
  const EmbeddingMatrix st = bert()->embed(std::vector<std::string>{text});  // cuts the end
  expect_rows_equal(r.row(0), st.row(0));
  EXPECT_EQ(right.tokens, std::vector<size_t>{512});
  EXPECT_EQ(right.truncated_from, std::vector<size_t>{602});

  // 601 words alternate "table" / "index": the right cut keeps the first 510 (from "table"),
  // the left one the last 510 (from "index"), so the two vectors differ.
  const std::string odd = words(601);
  const std::vector<int32_t> ids = bert()->token_ids(odd);
  const std::vector<std::vector<int32_t>> tail = {{ids.end() - 510, ids.end()}};
  const std::vector<EmbedInput> odd_inputs = {odd};
  EmbedDetails left;
  const EmbeddingMatrix l = embed_inputs(*bert(), odd_inputs, Truncation::kLeft, &left);
  expect_rows_equal(l.row(0), bert()->embed_token_ids(tail).row(0));
  EXPECT_EQ(left.truncated_from, std::vector<size_t>{603});
  const EmbeddingMatrix odd_right = embed_inputs(*bert(), odd_inputs, Truncation::kRight);
  EXPECT_NE(l.row(0)[0], odd_right.row(0)[0]);
}

TEST(EmbedInputs, TokenIdsEqualTheirTextAndAreCheckedAgainstTheVocabulary) {
  const std::string text = "a replication slot keeps wal";
  const std::vector<EmbedInput> inputs = {bert()->token_ids(text), text};
  const EmbeddingMatrix m = embed_inputs(*bert(), inputs, Truncation::kRefuse);
  expect_rows_equal(m.row(0), m.row(1));
  const std::vector<EmbedInput> bad = {std::vector<int32_t>{1, -4}};
  EXPECT_THROW(embed_inputs(*bert(), bad, Truncation::kRefuse), InputError);
}

TEST(EmbedInputs, AsyncEmbeddingRefusesByDefaultAndOnlyTheLongRequestFails) {
  AsyncEmbedding embedder(bert(), AsyncEmbeddingOptions{.batch_size = 8});
  auto too_long = embedder.embed_single(words(600));
  auto fine = embedder.embed_single("vacuum full");
  EXPECT_THROW(too_long.get(), InputTooLongError);
  EXPECT_EQ(fine.get().size(), bert()->dim());
  auto cut = embedder.embed_batch({words(600)});
  EXPECT_THROW(cut.get(), InputTooLongError);
}

}  // namespace
}  // namespace ragperf
