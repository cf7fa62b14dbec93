// `ragperf tokenize` as other tools drive it: JSON lines in, {"ids": [...]} lines out, in order;
// every bad input exits non-zero with one line naming the input line (or the model file).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

const fs::path& model_dir() {
  static const fs::path dir = testing::shared_dir() / "models" / "bert-l2-h384-cls-f32";
  return dir;
}

testing::CommandResult tokenize(const std::string& input, const std::string& args,
                                const std::string& env = "") {
  testing::TempDir home;
  return testing::run_command("cd '" + home.path().string() + "' && env -i HOME='" +
                                  home.path().string() + "' HF_HUB_OFFLINE=1 " + env + " '" +
                                  testing::ragperf_binary().string() + "' tokenize " + args,
                              input);
}

std::string model_arg() {
  return "--model '" + model_dir().string() + "'";
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string json_line(const std::string& text) {
  return nlohmann::json{{"text", text}}.dump() + "\n";
}

/// One error line on stderr that contains every part.
void expect_one_error_line(const testing::CommandResult& r,
                           std::initializer_list<std::string> parts) {
  EXPECT_NE(r.status, 0);
  auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 1U) << r.err;
  EXPECT_EQ(lines[0].rfind("ragperf: error: ", 0), 0U) << lines[0];
  for (const auto& p : parts) EXPECT_NE(lines[0].find(p), std::string::npos) << lines[0];
}

TEST(TokenizeCommand, WritesReferenceIdsInOrder) {
  std::ifstream in(testing::shared_dir() / "reference" / "bert-l2-h384-cls-f32.json");
  auto ref = nlohmann::json::parse(in);
  std::string input;
  for (const auto& c : ref["cases"]) input += json_line(c["text"].get<std::string>());
  auto r = tokenize(input, model_arg());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), ref["cases"].size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    ASSERT_TRUE(j.is_object() && j.contains("ids")) << lines[i];
    EXPECT_EQ(j["ids"], ref["cases"][i]["token_ids"]) << ref["cases"][i]["text"];
  }
}

TEST(TokenizeCommand, ModelComesFromEmbedModelAndMaxLengthFromTheFolder) {
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "word ";
  const std::string input = json_line("Hello, world!") + "\n  \r\n" + json_line(long_text);
  auto r = tokenize(input, "", "EMBED_MODEL='" + model_dir().string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2U) << r.out;  // the blank line is skipped
  EXPECT_EQ(lines[0], R"({"ids": [101, 7592, 1010, 2088, 999, 102]})");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["ids"].size(), 402U);  // max_seq_length 512: no cut

  // The f16 folder says max_seq_length 256.
  fs::path f16 = testing::shared_dir() / "models" / "bert-l2-h384-mean-f16";
  r = tokenize(json_line(long_text), "--model '" + f16.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  auto ids = nlohmann::json::parse(r.out)["ids"];
  ASSERT_EQ(ids.size(), 256U);
  EXPECT_EQ(ids.back(), 102);
}

TEST(TokenizeCommand, TokenizerOnlyFolderIsEnough) {
  fs::path minilm = testing::shared_dir() / "models" / "all-MiniLM-L6-v2-tokenizer-only";
  auto r = tokenize(json_line("Hello, world!"), "--model '" + minilm.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\": [101, 7592, 1010, 2088, 999, 102]}\n");
}

TEST(TokenizeCommand, InvalidJsonNamesTheLineAndKeepsEarlierOutput) {
  auto r = tokenize(json_line("first") + "{\"text\": \"unterminated\n" + json_line("third"),
                    model_arg());
  expect_one_error_line(r, {"stdin line 2", "not valid JSON"});
  // The first line's ids were written and flushed before the failure; nothing after it.
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1U) << r.out;
  EXPECT_EQ(lines[0].rfind("{\"ids\": [101, ", 0), 0U);
}

TEST(TokenizeCommand, MissingOrNonStringTextNamesTheLine) {
  expect_one_error_line(tokenize("{\"txt\": \"x\"}\n", model_arg()),
                        {"stdin line 1", "missing \"text\""});
  expect_one_error_line(tokenize(json_line("ok") + "{\"text\": 42}\n", model_arg()),
                        {"stdin line 2", "\"text\" is number, not a string"});
  expect_one_error_line(tokenize("[\"text\"]\n", model_arg()),
                        {"stdin line 1", "expected a JSON object"});
  expect_one_error_line(tokenize("{\"text\": null}\n", model_arg()),
                        {"stdin line 1", "not a string"});
}

TEST(TokenizeCommand, InvalidUtf8NamesTheLineAndByte) {
  std::string bad = json_line("a") + json_line("b") + "{\"text\": \"caf\xC3(\"}\n";
  expect_one_error_line(tokenize(bad, model_arg()), {"stdin line 3", "invalid UTF-8 at byte 13"});
  // A lone surrogate escape is not text either.
  expect_one_error_line(tokenize("{\"text\": \"\\ud800\"}\n", model_arg()), {"stdin line 1"});
}

TEST(TokenizeCommand, MissingOrCorruptModelFilesNameTheFile) {
  testing::TempDir dir;
  expect_one_error_line(tokenize(json_line("x"), "--model '" + (dir / "absent").string() + "'"),
                        {(dir / "absent").string(), "does not exist"});
  expect_one_error_line(tokenize(json_line("x"), "--model '" + dir.path().string() + "'"),
                        {dir.path().string(), "neither vocab.txt nor tokenizer.json"});
  testing::write_file(dir / "tokenizer.json", "{\"model\": ");
  expect_one_error_line(tokenize(json_line("x"), "--model '" + dir.path().string() + "'"),
                        {(dir / "tokenizer.json").string(), "not valid JSON"});
  fs::remove(dir / "tokenizer.json");
  testing::write_file(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  testing::write_file(dir / "sentence_bert_config.json", "{\"max_seq_length\": \"long\"}");
  expect_one_error_line(tokenize(json_line("x"), "--model '" + dir.path().string() + "'"),
                        {"sentence_bert_config.json", "max_seq_length"});
}

TEST(TokenizeCommand, HubIdMissingOfflineNamesTheId) {
  auto r = tokenize(json_line("x"), "--model org/not-cached");
  expect_one_error_line(r, {"org/not-cached", "HF_HUB_OFFLINE"});
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace ragperf
