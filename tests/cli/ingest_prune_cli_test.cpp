// `ragperf ingest` pruning as a user sees it: files deleted since the last run leave the table
// and the summary says how many; --no-prune keeps them; --help documents the flag.
#include <gtest/gtest.h>

#include "ingest_cli_support.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

using testing::shell_quote;

struct PruneCli {
  testing::TempDir tmp;

  PruneCli() {
    testing::write_tiny_glove(tmp / "model");
    testing::write_file(tmp / "docs" / "guide.md",
                        "# Postgres\n\nThe index is a table. Vacuum and query the table.\n");
    testing::write_file(tmp / "docs" / "page.html", "<title>Index</title><p>Query the index.</p>");
    testing::write_file(tmp / "docs" / "sub" / "notes.txt", "Vacuum the table.");
    testing::write_file(tmp / "more" / "extra.md", "Query the postgres index.");
  }

  testing::CommandResult ingest(const std::string& args) {
    return testing::run_ingest(tmp, args, tmp / "model");
  }
  std::string docs() const { return shell_quote(tmp / "docs"); }
  std::string source(const std::string& rel) const {
    return fs::weakly_canonical(tmp / rel).string();
  }
};

TEST(IngestPruneCommand, DeletedFilesArePrunedAndCounted) {
  PruneCli cli;
  auto first = cli.ingest(cli.docs() + " --table docs");
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.out.find("ingested 3 of 3 files (0 unchanged, 0 skipped): 3 chunks"),
            std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("; pruned 0 files (0 chunks)"), std::string::npos) << first.out;

  fs::remove(cli.tmp / "docs" / "guide.md");
  auto r = cli.ingest(cli.docs() + " --table docs");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ingested 0 of 2 files (2 unchanged, 0 skipped)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("; pruned 1 file (1 chunk)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("pruned " + cli.source("docs/guide.md") +
                       ": deleted, renamed or no longer ingestible"),
            std::string::npos)
      << r.err;

  // Renamed: the old name goes, the new one comes in.
  fs::rename(cli.tmp / "docs" / "sub" / "notes.txt", cli.tmp / "docs" / "notes.md");
  auto renamed = cli.ingest(cli.docs() + " --table docs");
  ASSERT_EQ(renamed.status, 0) << renamed.err;
  EXPECT_NE(renamed.out.find("ingested 1 of 2 files (1 unchanged, 0 skipped): 1 chunks"),
            std::string::npos)
      << renamed.out;
  EXPECT_NE(renamed.out.find("; pruned 1 file (1 chunk)"), std::string::npos) << renamed.out;
  EXPECT_NE(renamed.err.find("pruned " + cli.source("docs/sub/notes.txt")), std::string::npos)
      << renamed.err;
}

TEST(IngestPruneCommand, NoPruneKeepsChunksOfDeletedFiles) {
  PruneCli cli;
  ASSERT_EQ(cli.ingest(cli.docs() + " --table docs").status, 0);
  fs::remove(cli.tmp / "docs" / "page.html");
  auto kept = cli.ingest(cli.docs() + " --table docs --no-prune");
  ASSERT_EQ(kept.status, 0) << kept.err;
  EXPECT_NE(kept.out.find("ingested 0 of 2 files (2 unchanged, 0 skipped)"), std::string::npos)
      << kept.out;
  EXPECT_EQ(kept.out.find("pruned"), std::string::npos) << kept.out;
  EXPECT_EQ(kept.err.find("pruned"), std::string::npos) << kept.err;
  // The chunks were kept: the next run without the flag still finds them to prune.
  auto pruned = cli.ingest(cli.docs() + " --table docs");
  ASSERT_EQ(pruned.status, 0) << pruned.err;
  EXPECT_NE(pruned.out.find("; pruned 1 file (1 chunk)"), std::string::npos) << pruned.out;
}

TEST(IngestPruneCommand, OtherFoldersInTheTableAreNotTouched) {
  PruneCli cli;
  ASSERT_EQ(cli.ingest(cli.docs() + " --table docs").status, 0);
  ASSERT_EQ(cli.ingest(shell_quote(cli.tmp / "more") + " --table docs").status, 0);
  fs::remove(cli.tmp / "more" / "extra.md");
  auto r = cli.ingest(cli.docs() + " --table docs");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("; pruned 0 files (0 chunks)"), std::string::npos) << r.out;
  auto more = cli.ingest(shell_quote(cli.tmp / "more") + " --table docs");
  ASSERT_EQ(more.status, 0) << more.err;
  EXPECT_NE(more.out.find("ingested 0 of 0 files"), std::string::npos) << more.out;
  EXPECT_NE(more.out.find("; pruned 1 file (1 chunk)"), std::string::npos) << more.out;
}

TEST(IngestPruneCommand, HelpDocumentsTheFlagAndBadValuesFail) {
  PruneCli cli;
  auto help = cli.ingest("--help");
  ASSERT_EQ(help.status, 0) << help.err;
  EXPECT_NE(help.out.find("--no-prune"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("deleted, renamed or no longer ingestible"), std::string::npos)
      << help.out;

  auto bad = cli.ingest(cli.docs() + " --table docs --no-prune=maybe");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("no-prune"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty()) << bad.out;
}

}  // namespace
}  // namespace ragperf
