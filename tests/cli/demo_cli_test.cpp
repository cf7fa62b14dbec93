// `ragperf demo` on a tiny corpus and the synthetic word-vector model (the full run over the
// PostgreSQL manual with GloVe is scripts/demo.sh): ingest, answers, hints, and reuse on a
// second run.
#include <gtest/gtest.h>

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

TEST(DemoCli, BadInputsAreNamed) {
  RetrieveCliHome home;
  CommandResult r =
      home.run("demo --corpus /nonexistent/corpus --model '" + home.model().string() + "'");
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
