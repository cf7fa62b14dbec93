// `ragperf ingest` as a user runs it: the embedded store under a temporary RAGPERF_HOME, a tiny
// GloVe model generated here, skipped files listed, re-ingest idempotent, bad input fails cleanly.
#include <gtest/gtest.h>

#include "ingest_cli_support.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using testing::shell_quote;

struct IngestCli {
  testing::TempDir tmp;

  IngestCli() {
    testing::write_tiny_glove(tmp / "model");
    testing::write_file(tmp / "docs" / "guide.md",
                        "# Postgres\n\nThe index is a table. Vacuum and query the table.\n");
    testing::write_file(tmp / "docs" / "page.html",
                        "<title>Index</title><nav>skip me</nav><p>Query the index.</p>");
    testing::write_file(tmp / "docs" / "blob.txt", std::string("a\0b", 3));
  }

  testing::CommandResult ingest(const std::string& args, const std::string& model = "model") {
    return testing::run_ingest(tmp, args, tmp / model);
  }
};

TEST(IngestCommand, IngestsThenSkipsUnchangedFiles) {
  IngestCli cli;
  std::string docs = (cli.tmp / "docs").string();
  auto r = cli.ingest(shell_quote(docs) + " --table docs");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("table docs (local store at"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ingested 2 of 3 files (0 unchanged, 1 skipped): 2 chunks"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("skipped " + docs + "/blob.txt: contains NUL bytes"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("\x1b["), std::string::npos) << "no progress bar when not a terminal";
  EXPECT_NE(r.err.find("ingest: 3/3 files, "), std::string::npos)
      << "plain progress lines instead: " << r.err;

  auto again = cli.ingest(shell_quote(docs) + " --table docs");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("ingested 0 of 3 files (2 unchanged, 1 skipped): 0 chunks"),
            std::string::npos)
      << again.out;

  testing::write_file(cli.tmp / "docs" / "guide.md", "# Postgres\n\nVacuum the table.\n");
  auto changed = cli.ingest(shell_quote(docs) + " --table docs --chunk-tokens 64 --overlap 8");
  ASSERT_EQ(changed.status, 0) << changed.err;
  // New chunking parameters re-ingest every file.
  EXPECT_NE(changed.out.find("ingested 2 of 3 files (0 unchanged, 1 skipped)"), std::string::npos)
      << changed.out;
}

TEST(IngestCommand, MissingPathFailsWithOneLine) {
  IngestCli cli;
  auto r = cli.ingest(shell_quote(cli.tmp / "nope") + " --table docs");
  EXPECT_EQ(r.status, 1);
  std::string want = "ragperf: error: cannot ingest " + shell_quote(cli.tmp / "nope");
  EXPECT_NE(r.err.find(want + ": no such file or folder"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(IngestCommand, BadArgumentsFail) {
  IngestCli cli;
  std::string docs = shell_quote(cli.tmp / "docs");
  auto no_table = cli.ingest(docs);
  EXPECT_NE(no_table.status, 0);
  EXPECT_NE(no_table.err.find("--table"), std::string::npos) << no_table.err;

  auto bad_table = cli.ingest(docs + " --table 'x;drop'");
  EXPECT_EQ(bad_table.status, 1);
  EXPECT_NE(bad_table.err.find("x;drop"), std::string::npos) << bad_table.err;

  auto tiny = cli.ingest(docs + " --table docs --chunk-tokens 3");
  EXPECT_EQ(tiny.status, 1);
  EXPECT_NE(tiny.err.find("chunk size 3 tokens"), std::string::npos) << tiny.err;

  auto small = cli.ingest(docs + " --table small --chunk-tokens 16");  // overlap shrinks to 4
  EXPECT_EQ(small.status, 0) << small.err;

  auto overlap = cli.ingest(docs + " --table docs --chunk-tokens 64 --overlap 40");
  EXPECT_EQ(overlap.status, 1);
  EXPECT_NE(overlap.err.find("--overlap"), std::string::npos) << overlap.err;

  auto no_model = cli.ingest(docs + " --table docs", "missing-model");
  EXPECT_EQ(no_model.status, 1);
  EXPECT_NE(no_model.err.find("missing-model"), std::string::npos) << no_model.err;
}

TEST(IngestCommand, AnotherModelForAnIngestedTableIsAnError) {
  IngestCli cli;
  std::string docs = shell_quote(cli.tmp / "docs");
  ASSERT_EQ(cli.ingest(docs + " --table docs").status, 0);
  testing::write_file(cli.tmp / "other" / "vectors.txt", "postgres 1 0 0\nindex 0 1 0\n");
  auto r = cli.ingest(docs + " --table docs", "other");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("ragperf: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("docs"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ragperf
