// `ragperf rerank`: the real binary on the shared cross-encoder fixture (its exact line format,
// which other tools parse), and its bad cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_expect.h"
#include "testing/testing.h"

namespace {

namespace fs = std::filesystem;
using ragperf::testing::expect_cli_failure;
using ragperf::testing::run_command;

fs::path model_dir() {
  return ragperf::testing::shared_dir() / "models" / "cross-encoders" / "bert-ce-l2-h384-f16";
}

std::string rerank_cmd(const fs::path& model, const std::string& extra = "") {
  return ragperf::testing::ragperf_binary().string() + " rerank --model '" + model.string() + "'" +
         extra;
}

TEST(RerankCli, ScoresEveryLineInOrderAsTheReferenceDoes) {
  const auto ref = nlohmann::json::parse(
      ragperf::testing::read_file(ragperf::testing::shared_dir() / "reference" / "cross-encoders" /
                                  "bert-ce-l2-h384-f16.json"));
  std::string input;
  for (const auto& c : ref["cases"]) {
    input += nlohmann::json{{"query", c["query"]}, {"passage", c["passage"]}}.dump() + "\n";
  }
  // --batch 3: several batches, and the lines still come back in input order.
  const auto r = run_command(rerank_cmd(model_dir(), " --batch 3"), input);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream out(r.out);
  std::string line;
  size_t i = 0;
  for (; std::getline(out, line); ++i) {
    ASSERT_LT(i, ref["cases"].size()) << line;
    const auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), 2u) << line;  // exactly {"score", "logit"}
    EXPECT_EQ(line.rfind("{\"score\": ", 0), 0u) << line;
    EXPECT_NEAR(j["score"].get<double>(), ref["cases"][i]["score"].get<double>(), 1e-5) << i;
    EXPECT_NEAR(j["logit"].get<double>(), ref["cases"][i]["logit"].get<double>(), 5e-5) << i;
  }
  EXPECT_EQ(i, ref["cases"].size());
}

TEST(RerankCli, BadInputAndModelsNameTheProblem) {
  const auto cmd = rerank_cmd(model_dir());
  const std::string ok = "{\"query\": \"q\", \"passage\": \"p\"}\n";
  expect_cli_failure(cmd, ok + "{not json\n", "line 2");
  expect_cli_failure(cmd, ok + ok + "{\"query\": \"q\"}\n", "line 3: missing \"passage\"");
  expect_cli_failure(cmd, "{\"query\": 5, \"passage\": \"p\"}\n",
                     "line 1: \"query\" is number, not a string");
  expect_cli_failure(cmd, ok + "{\"query\": \"q\", \"passage\": \"bad \xff\"}\n", "line 2");
  expect_cli_failure(cmd, "[1]\n", "line 1: expected a JSON object");
  // An embedding model is not a reranker.
  expect_cli_failure(
      rerank_cmd(ragperf::testing::shared_dir() / "models" / "bert-l2-h384-mean-f16"), ok,
      "BertForSequenceClassification");
  const auto empty = run_command(cmd, "");
  EXPECT_EQ(empty.status, 0) << empty.err;
  EXPECT_EQ(empty.out, "");
}

}  // namespace
