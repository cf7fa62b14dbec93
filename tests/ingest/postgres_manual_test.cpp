// The HTML reader on the corpus the demo ingests: the PostgreSQL 15 manual from Debian's
// postgresql-doc-15 (installed by scripts/setup.sh). Sections, code kept, no navigation.
#include <gtest/gtest.h>

#include "ragperf/ingest.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

const fs::path kManual = "/usr/share/doc/postgresql-doc-15/html";

fs::path page(const std::string& name) {
  if (!fs::exists(kManual / name)) {
    ADD_FAILURE() << kManual / name << " is missing: install postgresql-doc-15 (scripts/setup.sh)";
  }
  return kManual / name;
}

size_t bert_like_count(std::string_view text) {
  size_t n = 2;
  bool in_word = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') {
      in_word = false;
    } else if (std::ispunct(static_cast<unsigned char>(c))) {
      ++n;
      in_word = false;
    } else if (!in_word) {
      ++n;
      in_word = true;
    }
  }
  return n;
}

std::string all_text(const Document& d) {
  std::string s;
  for (const auto& sec : d.sections) s += sec.text + "\n\n";
  return s;
}

TEST(PostgresManual, LogicalOperatorsPage) {
  Document d = read_document(page("functions-logical.html"));
  EXPECT_EQ(d.title, "9.1. Logical Operators");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].headings, (std::vector<std::string>{"9.1. Logical Operators"}));
  std::string text = all_text(d);
  // The synopsis <pre> keeps its lines; the truth table keeps one row per line.
  EXPECT_NE(text.find("boolean AND boolean \xE2\x86\x92 boolean\nboolean OR boolean"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nTRUE NULL NULL TRUE\n"), std::string::npos) << text;
  // Navigation header and footer are gone.
  EXPECT_EQ(text.find("Prev"), std::string::npos) << text;
  EXPECT_EQ(text.find("Chapter 9. Functions and Operators"), std::string::npos) << text;
}

TEST(PostgresManual, CodeExamplesKeepTheirIndentation) {
  Document d = read_document(page("tutorial-join.html"));
  EXPECT_EQ(d.title, "2.6. Joins Between Tables");
  std::string text = all_text(d);
  EXPECT_NE(text.find("SELECT city, temp_lo, temp_hi, prcp, date, location\n"
                      "    FROM weather JOIN cities ON city = name;"),
            std::string::npos)
      << text;
}

TEST(PostgresManual, ReferencePageSections) {
  Document d = read_document(page("sql-createindex.html"));
  EXPECT_EQ(d.title, "CREATE INDEX");
  std::vector<std::string> leaf;
  for (const auto& s : d.sections) leaf.push_back(s.headings.empty() ? "" : s.headings.back());
  for (const char* want : {"Synopsis", "Description", "Parameters", "Notes", "Examples"}) {
    EXPECT_NE(std::find(leaf.begin(), leaf.end(), want), leaf.end()) << want;
  }
  Chunker chunker(bert_like_count, {});
  auto chunks = chunker.chunk(d);
  ASSERT_GT(chunks.size(), 5u);
  EXPECT_EQ(chunks[0].text().rfind("CREATE INDEX\nCREATE INDEX \xE2\x80\x94 define a new index", 0),
            0u)
      << chunks[0].text();
  bool synopsis = false;
  for (const auto& c : chunks) {
    EXPECT_LE(c.n_tokens, 256u);
    synopsis |= c.heading == "CREATE INDEX > Synopsis" &&
                c.body.find("CREATE [ UNIQUE ] INDEX [ CONCURRENTLY ]") == 0;
  }
  EXPECT_TRUE(synopsis);
}

TEST(PostgresManual, WholeManualReadsAndChunks) {
  std::vector<fs::path> root = {page("index.html").parent_path()};
  Chunker chunker(bert_like_count, {});
  size_t n_files = 0;
  size_t n_chunks = 0;
  for (const auto& f : collect_files(root)) {
    if (format_for_path(f) != DocumentFormat::kHtml) continue;
    ++n_files;
    Document d = read_document(f);
    EXPECT_FALSE(d.title.empty()) << f;
    for (const auto& c : chunker.chunk(d)) {
      ++n_chunks;
      ASSERT_LE(c.n_tokens, 256u) << f;
      ASSERT_EQ(c.text().find("Prev Up"), std::string::npos) << f;
    }
  }
  EXPECT_GT(n_files, 1000u);
  EXPECT_GT(n_chunks, 5000u);
}

}  // namespace
}  // namespace ragperf
