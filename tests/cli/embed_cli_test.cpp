// `ragperf embed`: the real binary on the shared model folders, and its bad cases.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_expect.h"
#include "testing/testing.h"

namespace {

namespace fs = std::filesystem;
using ragperf::testing::expect_cli_failure;
using ragperf::testing::run_command;

std::string embed_cmd(const fs::path& model) {
  return ragperf::testing::ragperf_binary().string() + " embed --model '" + model.string() + "'";
}

fs::path model_dir(const std::string& name = "bert-l2-h384-cls-f32") {
  return ragperf::testing::shared_dir() / "models" / name;
}

std::vector<nlohmann::json> lines_of(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
  return v;
}

TEST(EmbedCli, MatchesTheReferenceInOrder) {
  const auto ref = nlohmann::json::parse(ragperf::testing::read_file(
      ragperf::testing::shared_dir() / "reference" / "bert-l2-h384-cls-f32.json"));
  std::string input;
  for (const auto& c : ref["cases"]) input += nlohmann::json{{"text", c["text"]}}.dump() + "\n";
  // The reference holds a text longer than the model's 512 tokens, which sentence-transformers
  // cuts: refused by default, naming its line; equal to the reference with --truncate right.
  const auto refused = run_command(embed_cmd(model_dir()), input);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("stdin line 15 has 882 tokens; the model takes at most 512"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.out, "");
  const auto r = run_command(embed_cmd(model_dir()) + " --truncate right", input);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), ref["cases"].size());
  for (size_t i = 0; i < out.size(); ++i) {
    const auto want = ref["cases"][i]["embedding"].get<std::vector<double>>();
    const auto got = out[i]["embedding"].get<std::vector<double>>();
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(out[i]["tokens"].get<size_t>(), ref["cases"][i]["token_ids"].size());
    EXPECT_EQ(out[i].contains("truncated_from"), i == 14) << i;  // line 15 was cut
    for (size_t k = 0; k < want.size(); ++k) ASSERT_NEAR(got[k], want[k], 1e-5) << i << "/" << k;
  }
}

TEST(EmbedCli, EmptyInputGivesNoOutput) {
  const auto r = run_command(embed_cmd(model_dir()), "");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(EmbedCli, EmbedDimDisagreeingWithTheModelStopsWithBothValues) {
  const std::string input = "{\"text\": \"ok\"}\n";
  expect_cli_failure("EMBED_DIM=768 " + embed_cmd(model_dir()), input,
                     "EMBED_DIM=768 (from environment) but model");
  expect_cli_failure("EMBED_DIM=768 " + embed_cmd(model_dir()), input,
                     "384-dimensional embeddings; set EMBED_DIM=384 (or remove it)");
  const auto r = run_command("EMBED_DIM=384 " + embed_cmd(model_dir()), input);
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(EmbedCli, BadInputNamesTheLine) {
  const auto cmd = embed_cmd(model_dir());
  expect_cli_failure(cmd, "{\"text\": \"ok\"}\n{not json\n", "line 2");
  expect_cli_failure(cmd, "{\"text\": \"ok\"}\n{\"txt\": \"x\"}\n", "line 2");
  expect_cli_failure(cmd, "{\"text\": 5}\n", "line 1");
  expect_cli_failure(cmd, "{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"text\": \"bad \xff\"}\n",
                     "line 3");
  expect_cli_failure(cmd, "[1, 2]\n", "line 1");
}

TEST(EmbedCli, BadModelNamesTheFile) {
  ragperf::testing::TempDir tmp;
  const auto dir = tmp / "model";
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(model_dir("bert-l2-h384-mean-f16"))) {
    fs::copy(e.path(), dir / e.path().filename(), fs::copy_options::recursive);
  }
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::add);
  }
  const std::string input = "{\"text\": \"hello\"}\n";
  // Truncated weights: offsets beyond the file.
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 1000);
  expect_cli_failure(embed_cmd(dir), input, "model.safetensors");
  // Missing weights.
  fs::remove(dir / "model.safetensors");
  expect_cli_failure(embed_cmd(dir), input, "model.safetensors");
  // Corrupt config.
  ragperf::testing::write_file(dir / "config.json", "{");
  expect_cli_failure(embed_cmd(dir), input, "config.json");
  expect_cli_failure(embed_cmd(tmp / "nowhere"), input, "nowhere");
}

}  // namespace
