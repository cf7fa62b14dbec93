// `ragperf demo` on a tiny corpus and the synthetic word-vector model (the full run over the
// PostgreSQL manual with the real all-MiniLM-L6-v2 is scripts/demo.sh): ingest, answers, hints, and
// reuse on a second run.
#include <gtest/gtest.h>

#include <filesystem>

#include "retrieve_cli_support.h"

namespace {

using ragperf::testing::CommandResult;
using ragperf::testing::RetrieveCliHome;

std::string demo_args(const RetrieveCliHome& home) {
  return "demo --corpus '" + home.corpus().string() + "' --model '" + home.model().string() +
         "' --questions '" +
         (ragperf::testing::source_dir() / "tests" / "data" / "retrieve_questions.txt").string() +
         "'";
}

TEST(DemoCli, IngestsAnswersAndReusesTheStoreOnASecondRun) {
  RetrieveCliHome home;
  const CommandResult first = home.run(demo_args(home));
  ASSERT_EQ(first.status, 0) << first.err << first.out;
  EXPECT_NE(first.out.find("store: local store at " + (home.home() / "store").string()),
            std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("ingested 3 of 3 files"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("Q1: how do I create an index concurrently"), std::string::npos);
  EXPECT_NE(first.out.find("Q2: what does VACUUM FULL do"), std::string::npos);
  EXPECT_EQ(first.out.find("Q3:"), std::string::npos) << "only the file's two questions";
  EXPECT_NE(first.out.find("indexes.md"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("timings: embed"), std::string::npos);
  EXPECT_NE(first.out.find("DATABASE_URL"), std::string::npos);
  EXPECT_NE(first.out.find("EMBED_MODEL"), std::string::npos);

  const CommandResult second = home.run(demo_args(home));
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.out.find("all 3 files are unchanged since the last run"), std::string::npos)
      << second.out;
  EXPECT_NE(second.out.find("Q2: what does VACUUM FULL do"), std::string::npos);

  // The table it made is there for `ragperf query`.
  const CommandResult q = home.run("query 'VACUUM FULL' --tables pgdocs --json --model '" +
                                   home.model().string() + "'");
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_NE(q.out.find("VACUUM FULL rewrites"), std::string::npos) << q.out;
}

// Without --model the demo uses its own model under RAGPERF_HOME/models/all-MiniLM-L6-v2 (here a
// random-weight BERT folder stands in for it). A table filled by an earlier version of that model
// (same name, other fingerprint) is rebuilt, not rejected with a model-mismatch error.
TEST(DemoCli, RebuildsItsTableWhenTheDemoModelChanged) {
  RetrieveCliHome home;
  const auto demo_model = home.home() / "models" / "all-MiniLM-L6-v2";
  const auto fixtures = ragperf::testing::shared_dir() / "models";
  std::filesystem::create_directories(demo_model.parent_path());
  std::filesystem::copy(fixtures / "bert-l2-h384-cls-f32", demo_model,
                        std::filesystem::copy_options::recursive);
  const std::string args =
      "demo --corpus '" + home.corpus().string() + "' --questions '" +
      (ragperf::testing::source_dir() / "tests" / "data" / "retrieve_questions.txt").string() + "'";
  const CommandResult first = home.run(args);
  ASSERT_EQ(first.status, 0) << first.err << first.out;
  EXPECT_NE(first.out.find("model: all-MiniLM-L6-v2@"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("ingested 3 of 3 files"), std::string::npos) << first.out;

  // A new version of the demo model: other weights, so another fingerprint.
  std::filesystem::remove_all(demo_model);
  std::filesystem::copy(fixtures / "bert-l2-h384-mean-f16", demo_model,
                        std::filesystem::copy_options::recursive);

  const CommandResult second = home.run(args);
  ASSERT_EQ(second.status, 0) << second.err << second.out;
  EXPECT_NE(second.out.find("made with an earlier version of the demo model"), std::string::npos)
      << second.out;
  EXPECT_NE(second.out.find("ingested 3 of 3 files"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("Q2: what does VACUUM FULL do"), std::string::npos) << second.out;

  // A table made with an unrelated model is not the demo's: it is left alone (mismatch error).
  const CommandResult other = home.run("ingest '" + home.corpus().string() +
                                       "' --table mine --model '" + home.model().string() + "'");
  ASSERT_EQ(other.status, 0) << other.err;
  const CommandResult mismatch = home.run(args + " --table mine");
  EXPECT_NE(mismatch.status, 0) << mismatch.out;
  EXPECT_NE(mismatch.err.find("was ingested with model static:model@"), std::string::npos)
      << mismatch.err;
  const CommandResult still =
      home.run("query 'VACUUM' --tables mine --model '" + home.model().string() + "'");
  EXPECT_EQ(still.status, 0) << still.err;
}

TEST(DemoCli, BadInputsAreNamed) {
  RetrieveCliHome home;
  // No --model and no prepared demo model: the error says how to prepare it.
  CommandResult r = home.run("demo --corpus '" + home.corpus().string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("scripts/setup.sh python model"), std::string::npos) << r.err;

  r = home.run("demo --corpus /nonexistent/corpus --model '" + home.model().string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("/nonexistent/corpus does not exist"), std::string::npos) << r.err;

  ragperf::testing::write_file(home.dir() / "empty.txt", "# only a comment\n\n");
  r = home.run("demo --corpus '" + home.corpus().string() + "' --model '" + home.model().string() +
               "' --questions '" + (home.dir() / "empty.txt").string() + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no questions"), std::string::npos) << r.err;

  r = home.run("demo --corpus '" + home.corpus().string() + "' --model '" + home.model().string() +
               "' --table 'bad name'");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not a valid identifier"), std::string::npos) << r.err;
}

}  // namespace
