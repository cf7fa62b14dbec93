// The chunker with a real WordPiece tokenizer (a BERT model folder from the shared fixtures):
// counts include [CLS]/[SEP], no chunk exceeds the limit, and the model never truncates a chunk.
#include <gtest/gtest.h>

#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/ingest.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

TEST(ChunkerWithBertTokenizer, ChunksFitTheModel) {
  Settings settings;
  auto model = load_embedding_model(
      (testing::shared_dir() / "models" / "bert-l2-h384-cls-f32").string(), settings);
  TokenCounter count = [&](std::string_view t) { return model->count_tokens(t); };
  ASSERT_EQ(count(""), 2u);  // [CLS] [SEP]
  Chunker chunker(count, {.max_tokens = 128, .overlap_tokens = 16});
  std::vector<std::string> texts;
  for (const char* page :
       {"sql-createindex.html", "tutorial-join.html", "functions-logical.html"}) {
    Document d =
        read_document(std::filesystem::path("/usr/share/doc/postgresql-doc-15/html") / page);
    for (const auto& c : chunker.chunk(d)) {
      EXPECT_LE(c.n_tokens, 128u) << c.text();
      EXPECT_EQ(c.n_tokens, model->count_tokens(c.text()));
      texts.push_back(c.text());
    }
  }
  ASSERT_GT(texts.size(), 10u);
  std::vector<size_t> used;
  model->embed(std::span<const std::string>(texts).first(8), &used);
  for (size_t i = 0; i < used.size(); ++i) EXPECT_EQ(used[i], model->count_tokens(texts[i]));
}

}  // namespace
}  // namespace ragperf
