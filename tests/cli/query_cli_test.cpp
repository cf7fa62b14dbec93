// `ragperf query`: the real binary over tables ingested with `ragperf ingest` into an embedded
// store, with the synthetic word-vector model of tests/data/retrieve_model.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "retrieve_cli_support.h"

namespace {

using ragperf::testing::CommandResult;
using ragperf::testing::RetrieveCliHome;

class QueryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string table : {"docs", "docs2"}) {
      const CommandResult r = home_.run("ingest '" + home_.corpus().string() + "' --table " +
                                        table + " --model '" + home_.model().string() + "'");
      ASSERT_EQ(r.status, 0) << r.err;
    }
  }
  std::string model_flag() const { return " --model '" + home_.model().string() + "'"; }

  RetrieveCliHome home_;
};

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
  return v;
}

TEST_F(QueryCli, JsonHasRankedHitsAndTimings) {
  const CommandResult r = home_.run(
      "query 'building indexes concurrently' --tables docs --top-k 3 "
      "--json --exact" +
      model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["hits"].size(), 3u);
  const nlohmann::json& best = j["hits"][0];
  EXPECT_NE(best["text"].get<std::string>().find("index concurrently"), std::string::npos)
      << best.dump();
  EXPECT_EQ(best["source_table"], "docs");
  EXPECT_TRUE(best.contains("id"));
  EXPECT_TRUE(best["metadata"].is_object());
  EXPECT_NE(best["source"].get<std::string>().find("indexes.md"), std::string::npos);
  for (size_t i = 1; i < j["hits"].size(); ++i) {
    EXPECT_GE(j["hits"][i - 1]["score"].get<double>(), j["hits"][i]["score"].get<double>());
  }
  for (const char* k : {"embed_s", "query_s", "merge_s", "total_s"}) {
    ASSERT_TRUE(j["timings"].contains(k)) << k;
    EXPECT_GE(j["timings"][k].get<double>(), 0.0) << k;
  }
  EXPECT_TRUE(j["timings"]["tables"].contains("docs"));
  EXPECT_EQ(j["query"], "building indexes concurrently");
}

TEST_F(QueryCli, DefaultTablesAreAllOfTheModelAndDuplicatesMerge) {
  const CommandResult r = home_.run("query 'VACUUM FULL exclusive lock' --json" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["hits"].empty());
  EXPECT_EQ(j["hits"][0]["source_tables"], nlohmann::json::array({"docs", "docs2"}));
  EXPECT_NE(j["hits"][0]["text"].get<std::string>().find("VACUUM FULL"), std::string::npos);
  EXPECT_EQ(j["timings"]["tables"].size(), 2u);
}

TEST_F(QueryCli, TextOutputShowsHitsTablesAndTimings) {
  const CommandResult r =
      home_.run("query 'streaming replication standby' --tables docs,docs2 --rrf" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("  1. "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("docs+docs2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replication.html"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("timings: embed"), std::string::npos) << r.out;
}

TEST_F(QueryCli, StdinGivesOneJsonLinePerQuestionAndReportsBadLines) {
  const CommandResult r = home_.run("query --tables docs --top-k 1" + model_flag(),
                                    "{\"text\": \"replication slot\"}\n"
                                    "not json\n"
                                    "\n"
                                    "{\"question\": \"x\"}\n"
                                    "{\"text\": \"VACUUM FULL\"}\n");
  EXPECT_EQ(r.status, 1) << "a bad line makes the exit status 1";
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0]["hits"].size(), 1u);
  EXPECT_NE(lines[1]["error"].get<std::string>().find("stdin line 2"), std::string::npos);
  EXPECT_NE(lines[2]["error"].get<std::string>().find("stdin line 4: missing \"text\""),
            std::string::npos);
  EXPECT_NE(lines[3]["hits"][0]["text"].get<std::string>().find("VACUUM FULL"), std::string::npos);
}

TEST_F(QueryCli, UnknownTableIsNamed) {
  const CommandResult r = home_.run("query 'index' --tables docs,nosuch" + model_flag());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("table 'nosuch' does not exist"), std::string::npos) << r.err;
  const CommandResult partial =
      home_.run("query 'index' --tables docs,nosuch --partial --json" + model_flag());
  ASSERT_EQ(partial.status, 0) << partial.err;
  const nlohmann::json j = nlohmann::json::parse(partial.out);
  EXPECT_FALSE(j["hits"].empty());
  ASSERT_EQ(j["failures"].size(), 1u);
  EXPECT_EQ(j["failures"][0]["table"], "nosuch");
}

TEST_F(QueryCli, TableOfAnotherModelIsAClearError) {
  // A second model: the same words in 8 dimensions.
  const auto other = home_.dir() / "model8";
  std::filesystem::create_directories(other);
  std::istringstream in(ragperf::testing::read_file(home_.model() / "vectors.txt"));
  std::string line, out;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w, v;
    words >> w;
    out += w;
    for (int i = 0; i < 8 && words >> v; ++i) out += " " + v;
    out += "\n";
  }
  ragperf::testing::write_file(other / "vectors.txt", out);
  const CommandResult r = home_.run("query 'index' --tables docs --model '" + other.string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("table 'docs' was ingested with model static:model@"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the query model is static:model8@"), std::string::npos) << r.err;
  // The advice names the model folder to load, not the id (which --model cannot load).
  EXPECT_NE(r.err.find("--model <the folder or hub id of 'model'>"), std::string::npos) << r.err;
  // Without --tables: no table matches the model, and the message lists them.
  const CommandResult none = home_.run("query 'index' --model '" + other.string() + "'");
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.err.find("no table in"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("docs (model static:model@"), std::string::npos) << none.err;
}

TEST_F(QueryCli, RejectsBadArguments) {
  CommandResult r = home_.run("query 'index' --top-k 0" + model_flag());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--top-k 0"), std::string::npos) << r.err;
  r = home_.run("query 'index' --tables 'docs;drop'" + model_flag());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not a valid identifier"), std::string::npos) << r.err;
  r = home_.run("query '  '" + model_flag());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  r = home_.run("query 'index' --model /nonexistent/model");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("/nonexistent/model"), std::string::npos) << r.err;
}

TEST_F(QueryCli, WhereKeepsOnlyTheChunksTheFilterAccepts) {
  // Every chunk of vacuum.txt, however well the others match the question.
  CommandResult r = home_.run(
      "query 'building indexes concurrently' --tables docs --top-k 3 --json "
      "--where \"source ^= '" +
      home_.corpus().string() + "/vac' and meta.chunk >= 0\"" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["hits"].empty());
  for (const auto& h : j["hits"]) {
    EXPECT_NE(h["source"].get<std::string>().find("vacuum.txt"), std::string::npos) << h.dump();
  }
  // A filter nothing matches: no hits, no error.
  r = home_.run("query 'index' --json --where \"meta.title = 'no such title'\"" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out)["hits"].empty());
  // A filter that does not parse: one line naming the part, before the model loads.
  r = home_.run("query 'index' --where \"meta.title = \" --model /nonexistent");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("filter: expected a value"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at byte 13 (the end)"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(QueryCli, TextAndHybridModesAndTheMigrationTheyNeed) {
  // ingest gives its tables full-text search: text and hybrid work at once.
  CommandResult r =
      home_.run("query 'VACUUM FULL' --tables docs --mode text --json" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["hits"].empty());
  EXPECT_NE(j["hits"][0]["text"].get<std::string>().find("VACUUM FULL"), std::string::npos);
  EXPECT_EQ(j["hits"][0]["text_rank"], 1);
  EXPECT_FALSE(j["hits"][0].contains("vector_rank"));
  r = home_.run("query 'VACUUM FULL exclusive lock' --tables docs --mode hybrid --json" +
                model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["hits"].empty());
  EXPECT_TRUE(j["hits"][0].contains("vector_rank")) << j.dump();
  EXPECT_TRUE(j["hits"][0].contains("text_rank")) << j.dump();
  r = home_.run("query 'VACUUM FULL exclusive lock' --tables docs --mode hybrid" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("(vector #"), std::string::npos) << r.out;

  // A table without it: the query says what to run; migrate adds it once.
  r = home_.run("ingest '" + home_.corpus().string() + "' --table plain --no-text-search" +
                model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  r = home_.run("query 'vacuum' --tables plain --mode text" + model_flag());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("ragperf migrate --table plain"), std::string::npos) << r.err;
  r = home_.run("migrate --table plain");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("full-text search added"), std::string::npos) << r.out;
  r = home_.run("migrate --table plain --filter-index");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("full-text search present already"), std::string::npos) << r.out;
  r = home_.run("query 'vacuum' --tables plain --mode text --json" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out)["hits"].empty());
  r = home_.run("migrate --table nosuch");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("table nosuch does not exist"), std::string::npos) << r.err;
  r = home_.run("query 'vacuum' --mode bm25" + model_flag());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--mode"), std::string::npos) << r.err;
}

TEST_F(QueryCli, RerankModelReordersTheCandidatesAndKeepsTheirRetrievalScores) {
  const std::string reranker =
      (ragperf::testing::shared_dir() / "models" / "cross-encoders" / "bert-ce-l2-h384-f16")
          .string();
  const std::string q = "query 'building indexes concurrently' --tables docs --exact --json";
  const CommandResult plain = home_.run(q + " --top-k 4" + model_flag());
  ASSERT_EQ(plain.status, 0) << plain.err;
  const CommandResult r = home_.run(q + " --top-k 2 --rerank-model '" + reranker +
                                    "' --rerank-candidates 4" + model_flag());
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json candidates = nlohmann::json::parse(plain.out)["hits"];
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["hits"].size(), 2u);
  EXPECT_GE(j["hits"][0]["score"].get<double>(), j["hits"][1]["score"].get<double>());
  for (const auto& h : j["hits"]) {
    // Each reranked hit is one of the 4 candidates, with that candidate's retrieval score.
    const auto it = std::find_if(candidates.begin(), candidates.end(),
                                 [&](const nlohmann::json& c) { return c["id"] == h["id"]; });
    ASSERT_NE(it, candidates.end()) << h.dump();
    EXPECT_NEAR(h["retrieval_score"].get<double>(), (*it)["score"].get<double>(), 1e-6);
  }
  EXPECT_GT(j["timings"]["rerank_s"].get<double>(), 0.0);
  // Not a reranker: a clear error naming what is needed.
  const std::string embedder =
      (ragperf::testing::shared_dir() / "models" / "bert-l2-h384-mean-f16").string();
  const CommandResult bad = home_.run(q + " --rerank-model '" + embedder + "'" + model_flag());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("BertForSequenceClassification"), std::string::npos) << bad.err;
}

// File names and text with terminal control sequences (ESC: recolour, retitle) are printed as
// visible escapes by ingest and query, never raw.
TEST(QueryCliHostileNames, ControlCharactersArePrintedEscaped) {
  RetrieveCliHome home;
  namespace fs = std::filesystem;
  const fs::path folder = home.dir().path() / "esc";
  fs::create_directories(folder);
  fs::copy_file(home.corpus() / "vacuum.txt", folder / "evil\x1b]0;pwned\x07.txt");
  ragperf::testing::write_file(folder / "bad\x1b[31m.txt", std::string("zeta\0eta", 8));
  const CommandResult ingest = home.run("ingest '" + folder.string() + "' --table esc --model '" +
                                        home.model().string() + "'");
  ASSERT_EQ(ingest.status, 0) << ingest.err;
  EXPECT_EQ(ingest.err.find('\x1b'), std::string::npos) << ingest.err;
  EXPECT_NE(ingest.err.find("bad\\x1B[31m.txt"), std::string::npos) << ingest.err;
  const CommandResult q =
      home.run("query 'vacuum' --tables esc --model '" + home.model().string() + "'");
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_EQ(q.out.find('\x1b'), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("evil\\x1B]0;pwned\\x07.txt"), std::string::npos) << q.out;
}

// The error line names the failing path with its control characters escaped (it used to write
// them raw), and --json output escapes the C1 controls (CSI, U+009B) nlohmann::json leaves raw,
// as \u009b: the same text for a JSON reader, inert on a terminal.
TEST(QueryCliHostileNames, ErrorLinesAndJsonEscapeControlCharacters) {
  RetrieveCliHome home;
  namespace fs = std::filesystem;
  const fs::path folder = home.dir().path() / "c1";
  const CommandResult missing = home.run("ingest '" + (folder / "gone\x1b]0;pwned\x07").string() +
                                         "' --table c1 --model '" + home.model().string() + "'");
  EXPECT_NE(missing.status, 0);
  EXPECT_EQ(missing.err.find('\x1b'), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("gone\\x1B]0;pwned\\x07"), std::string::npos) << missing.err;

  fs::create_directories(folder);
  fs::copy_file(home.corpus() / "vacuum.txt", folder /
                                                  "csi\xC2\x9B"
                                                  "31m.txt");
  const CommandResult ingest = home.run("ingest '" + folder.string() + "' --table c1 --model '" +
                                        home.model().string() + "'");
  ASSERT_EQ(ingest.status, 0) << ingest.err;
  const CommandResult q =
      home.run("query 'vacuum' --json --tables c1 --model '" + home.model().string() + "'");
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_EQ(q.out.find("\xC2\x9B"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("csi\\u009b31m.txt"), std::string::npos) << q.out;
  const CommandResult text =
      home.run("query 'vacuum' --tables c1 --model '" + home.model().string() + "'");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.find("\xC2\x9B"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("csi\\x9B31m.txt"), std::string::npos) << text.out;
}

TEST(QueryCliEmptyStore, SaysToIngestFirst) {
  RetrieveCliHome home;
  const CommandResult r = home.run("query 'index' --model '" + home.model().string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no tables in local store"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ragperf ingest"), std::string::npos) << r.err;
}

}  // namespace
