// The one max-sequence-length rule (sentence-transformers'): every combination of
// sentence_bert_config.json, tokenizer_config.json and config.json present or absent, and the
// tokenizer (ragperf::max_sequence_length) and the model (read_bert_config) agreeing on it.
#include "embed/max_sequence_length.h"

#include <gtest/gtest.h>

#include <string>

#include "embed/bert_config.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"
#include "testing/testing.h"

namespace ragperf::embed {
namespace {

namespace fs = std::filesystem;

// A config.json read_bert_config accepts, with the given max_position_embeddings.
std::string bert_config_json(size_t positions) {
  return R"({"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1,
             "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 10,
             "max_position_embeddings": )" +
         std::to_string(positions) + "}";
}

struct Case {
  std::optional<size_t> config;            // config.json max_position_embeddings
  std::optional<size_t> tokenizer_config;  // tokenizer_config.json model_max_length
  std::optional<size_t> sbert;             // sentence_bert_config.json max_seq_length
  size_t expected;
};

TEST(MaxSequenceLengthRule, EveryCombinationOfTheThreeFiles) {
  const Case cases[] = {
      {std::nullopt, std::nullopt, std::nullopt, 512},  // nothing: BERT's default
      {1024, std::nullopt, std::nullopt, 1024},         // config only
      {std::nullopt, 300, std::nullopt, 300},           // tokenizer_config only
      {1024, 300, std::nullopt, 300},                   // min(config, tokenizer_config)
      {256, 300, std::nullopt, 256},                    // min, the other way round
      {std::nullopt, std::nullopt, 128, 128},           // sentence_bert_config only
      {1024, std::nullopt, 128, 128},                   // sentence_bert_config wins ...
      {std::nullopt, 300, 400, 400},                    // ... over tokenizer_config too
      {1024, 300, 400, 400},                            // ... even above model_max_length
      {512, 300, 1000, 512},                            // never past the position table
  };
  for (const Case& c : cases) {
    testing::TempDir dir;
    if (c.config) testing::write_file(dir / "config.json", bert_config_json(*c.config));
    if (c.tokenizer_config) {
      testing::write_file(dir / "tokenizer_config.json",
                          R"({"model_max_length": )" + std::to_string(*c.tokenizer_config) + "}");
    }
    if (c.sbert) {
      testing::write_file(dir / "sentence_bert_config.json",
                          R"({"max_seq_length": )" + std::to_string(*c.sbert) + "}");
    }
    const std::string what = "config " + (c.config ? std::to_string(*c.config) : "-") +
                             ", tokenizer_config " +
                             (c.tokenizer_config ? std::to_string(*c.tokenizer_config) : "-") +
                             ", sentence_bert_config " + (c.sbert ? std::to_string(*c.sbert) : "-");
    EXPECT_EQ(max_sequence_length(dir.path()), c.expected) << what;
    if (c.config) {
      // The model truncates exactly where `ragperf tokenize` does.
      EXPECT_EQ(read_bert_config(dir.path()).max_seq_length, c.expected) << what;
    }
  }
}

TEST(MaxSequenceLengthRule, SentinelsAndNullsMeanNoLimit) {
  SequenceLengthSources s;
  s.max_position_embeddings = 1024;
  EXPECT_EQ(resolve_max_sequence_length(s), 1024U);
  testing::TempDir dir;
  testing::write_file(dir / "config.json", R"({"hidden_size": 8})");  // no key: BERT's 512
  testing::write_file(dir / "tokenizer_config.json",
                      R"({"model_max_length": 1000000000000000019884624838656})");
  testing::write_file(dir / "sentence_bert_config.json", R"({"max_seq_length": null})");
  const auto read = read_sequence_length_sources(dir.path());
  EXPECT_FALSE(read.max_seq_length.has_value());
  EXPECT_EQ(read.max_position_embeddings, 512U);
  EXPECT_FALSE(read.model_max_length.has_value());
  EXPECT_EQ(resolve_max_sequence_length(read), 512U);
}

TEST(MaxSequenceLengthRule, MalformedValuesNameTheFile) {
  testing::TempDir dir;
  testing::write_file(dir / "sentence_bert_config.json", R"({"max_seq_length": 12.5})");
  try {
    max_sequence_length(dir.path());
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "sentence_bert_config.json: \"max_seq_length\" must be a positive integer"),
              std::string::npos)
        << e.what();
  }
  testing::write_file(dir / "sentence_bert_config.json", R"({"max_seq_length": 1})");
  EXPECT_THROW(max_sequence_length(dir.path()), ModelError);  // no room for [CLS] and [SEP]
}

}  // namespace
}  // namespace ragperf::embed
