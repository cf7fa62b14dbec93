// Token ids against ../shared/reference/*.json (what sentence-transformers computed) for every
// model folder with a reference, read through vocab.txt and through tokenizer.json, and the real
// all-MiniLM-L6-v2 tokenizer files (same vocabulary) against the same references.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ragperf/tokenizer.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> read_cases(const fs::path& file) {
  std::ifstream in(file);
  auto j = nlohmann::json::parse(in);
  std::vector<Case> cases;
  for (const auto& c : j.at("cases")) {
    cases.push_back(
        {c.at("text").get<std::string>(), c.at("token_ids").get<std::vector<int32_t>>()});
  }
  return cases;
}

/// Every reference file with its model folder.
std::vector<std::pair<fs::path, fs::path>> references() {
  const fs::path shared = testing::shared_dir();
  std::vector<std::pair<fs::path, fs::path>> out;
  for (const auto& e : fs::directory_iterator(shared / "reference")) {
    if (e.path().extension() != ".json") continue;
    fs::path folder = shared / "models" / e.path().stem();
    if (fs::is_directory(folder)) out.emplace_back(e.path(), folder);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void expect_reference_ids(const WordPieceTokenizer& tok, size_t max_length,
                          const std::vector<Case>& cases, const std::string& label) {
  for (const auto& c : cases) {
    EXPECT_EQ(tok.encode(c.text, max_length), c.ids) << label << ": " << c.text;
    if (c.ids.size() < max_length) {
      EXPECT_EQ(tok.count_tokens(c.text), c.ids.size()) << label << ": " << c.text;
    } else {
      EXPECT_GE(tok.count_tokens(c.text), c.ids.size()) << label << ": " << c.text;
    }
  }
}

/// A copy of the tokenizer files of `folder` without `drop`.
void copy_tokenizer_files(const fs::path& folder, const fs::path& to, const std::string& drop) {
  for (const char* f : {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "sentence_bert_config.json", "config.json"}) {
    if (drop == f || !fs::exists(folder / f)) continue;
    fs::copy_file(folder / f, to / f);
  }
}

TEST(TokenizerReference, EveryModelFolderGivesTheReferenceIdsExactly) {
  auto refs = references();
  ASSERT_GE(refs.size(), 2U) << "expected the reference files of both model folders";
  for (const auto& [file, folder] : refs) {
    auto cases = read_cases(file);
    ASSERT_FALSE(cases.empty()) << file;
    const size_t max_length = max_sequence_length(folder);
    auto tok = WordPieceTokenizer::from_folder(folder);
    expect_reference_ids(tok, max_length, cases, folder.filename().string());
    // A truncated case proves max_seq_length is applied.
    bool truncated = std::any_of(cases.begin(), cases.end(),
                                 [&](const Case& c) { return c.ids.size() == max_length; });
    EXPECT_TRUE(truncated) << folder << ": no reference case reaches max_seq_length " << max_length;
  }
}

TEST(TokenizerReference, VocabTxtAndTokenizerJsonAgree) {
  for (const auto& [file, folder] : references()) {
    auto cases = read_cases(file);
    const size_t max_length = max_sequence_length(folder);
    for (const std::string drop : {"tokenizer.json", "vocab.txt"}) {
      if (!fs::exists(folder / drop)) continue;
      testing::TempDir tmp;
      copy_tokenizer_files(folder, tmp.path(), drop);
      auto tok = WordPieceTokenizer::from_folder(tmp.path());
      EXPECT_EQ(tok.vocab_size(), 30522U);
      expect_reference_ids(tok, max_length, cases, folder.filename().string() + " without " + drop);
    }
  }
}

TEST(TokenizerReference, RealMiniLmTokenizerFilesGiveTheSameIds) {
  const fs::path shared = testing::shared_dir();
  const fs::path minilm = shared / "models" / "all-MiniLM-L6-v2-tokenizer-only";
  ASSERT_TRUE(fs::is_directory(minilm)) << minilm;
  auto tok = WordPieceTokenizer::from_folder(minilm);
  const size_t max_length = max_sequence_length(minilm);
  EXPECT_EQ(max_length, 256U);
  EXPECT_EQ(tok.cls_id(), 101);
  EXPECT_EQ(tok.sep_id(), 102);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 100);
  // The random checkpoints carry all-MiniLM-L6-v2's vocabulary and tokenizer settings, so their
  // references are MiniLM's token ids too (truncated at MiniLM's 256 where they are longer).
  for (const auto& [file, folder] : references()) {
    ASSERT_EQ(testing::read_file(folder / "vocab.txt"), testing::read_file(minilm / "vocab.txt"));
    ASSERT_EQ(testing::read_file(folder / "tokenizer_config.json"),
              testing::read_file(minilm / "tokenizer_config.json"));
    for (const auto& c : read_cases(file)) {
      std::vector<int32_t> expected = c.ids;
      if (expected.size() > max_length) {
        expected.resize(max_length - 1);
        expected.push_back(102);
      }
      EXPECT_EQ(tok.encode(c.text, max_length), expected) << c.text;
    }
  }
}

TEST(TokenizerReference, WellKnownBertUncasedTokenization) {
  auto tok = WordPieceTokenizer::from_folder(testing::shared_dir() / "models" /
                                             "all-MiniLM-L6-v2-tokenizer-only");
  EXPECT_EQ(tok.encode("Hello, world!", 512),
            (std::vector<int32_t>{101, 7592, 1010, 2088, 999, 102}));
  EXPECT_EQ(tok.tokenize("embeddings"), (std::vector<std::string>{"em", "##bed", "##ding", "##s"}));
}

}  // namespace
}  // namespace ragperf
