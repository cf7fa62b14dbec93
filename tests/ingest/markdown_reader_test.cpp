// read_markdown(): headings (ATX and setext), code fences, front matter, inline markup.
#include <gtest/gtest.h>

#include "ragperf/ingest.h"

namespace ragperf {
namespace {

TEST(MarkdownReader, HeadingsNestAndTitleIsFirstH1) {
  Document d = read_markdown(
      "Preface line.\n\n# Guide\n\nIntro.\n\n## Install ##\n\nRun it.\n\n### Debian\n\nUse apt.\n\n"
      "## Use\n\nQuery.\n\n#NoSpace is text\n",
      "g.md");
  EXPECT_EQ(d.title, "Guide");
  ASSERT_EQ(d.sections.size(), 5u);
  EXPECT_TRUE(d.sections[0].headings.empty());
  EXPECT_EQ(d.sections[1].headings, (std::vector<std::string>{"Guide"}));
  EXPECT_EQ(d.sections[2].headings, (std::vector<std::string>{"Guide", "Install"}));
  EXPECT_EQ(d.sections[3].headings, (std::vector<std::string>{"Guide", "Install", "Debian"}));
  EXPECT_EQ(d.sections[4].headings, (std::vector<std::string>{"Guide", "Use"}));
  EXPECT_EQ(d.sections[4].text, "Query.\n\n#NoSpace is text");
}

TEST(MarkdownReader, SetextHeadings) {
  Document d = read_markdown("Title\n=====\n\nBody one.\n\nPart\n----\nBody two.\n", "s.md");
  EXPECT_EQ(d.title, "Title");
  ASSERT_EQ(d.sections.size(), 2u);
  EXPECT_EQ(d.sections[1].headings, (std::vector<std::string>{"Title", "Part"}));
  EXPECT_EQ(d.sections[1].text, "Body two.");
}

TEST(MarkdownReader, CodeFencesKeptVerbatimAndNotHeadings) {
  Document d = read_markdown(
      "# A\n\nBefore.\n\n```sh\n# not a heading\n  indented  line\n```\n\nAfter.\n\n"
      "~~~~\nunclosed ``` inside\n~~~~\n",
      "c.md");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text,
            "Before.\n\n# not a heading\n  indented  line\n\nAfter.\n\nunclosed ``` inside");
}

TEST(MarkdownReader, UnclosedFenceRunsToTheEnd) {
  Document d = read_markdown("Text.\n\n```\ncode line\n# still code\n", "u.md");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text, "Text.\n\ncode line\n# still code");
}

TEST(MarkdownReader, FrontMatterSkippedAndItsTitleUsed) {
  Document d =
      read_markdown("---\ntitle: \"From Front\"\ntags: [a]\n---\n# Heading\n\nBody.\n", "f.md");
  EXPECT_EQ(d.title, "From Front");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text, "Body.");
  // A leading "---" with no closing line is a thematic break, not front matter.
  Document e = read_markdown("---\nJust text.\n", "e.md");
  ASSERT_EQ(e.sections.size(), 1u);
  EXPECT_EQ(e.sections[0].text, "Just text.");
}

TEST(MarkdownReader, InlineMarkupReducedToText) {
  Document d = read_markdown(
      "See **the [manual](https://x.org/m)** and `ragperf ingest`, ![logo](l.png) "
      "<!-- hidden --> <kbd>Ctrl</kbd> <https://a.b/c> a\\*b.\n"
      "Soft wrapped\nline.\n\n- item one\n- item two\n\n> quoted\n",
      "i.md");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text,
            "See the manual and ragperf ingest, logo Ctrl https://a.b/c a*b. Soft wrapped "
            "line.\n\nitem one\nitem two\n\nquoted");
}

TEST(MarkdownReader, EmptyDocuments) {
  EXPECT_TRUE(read_markdown("", "e.md").sections.empty());
  EXPECT_TRUE(read_markdown("\n\n   \n", "w.md").sections.empty());
  EXPECT_TRUE(read_markdown("# Only a heading\n", "h.md").sections.empty());
  EXPECT_EQ(read_markdown("", "e.md").title, "e");
}

}  // namespace
}  // namespace ragperf
