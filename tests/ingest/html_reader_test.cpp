// read_html(): sections from h1-h6, title, entities, boilerplate dropped, code kept, bad markup.
#include <gtest/gtest.h>

#include "ragperf/error.h"
#include "ragperf/ingest.h"

namespace ragperf {
namespace {

std::string all_text(const Document& d) {
  std::string s;
  for (const auto& sec : d.sections) {
    for (const auto& h : sec.headings) s += h + "\n";
    s += sec.text + "\n";
  }
  return s;
}

TEST(HtmlReader, TitleSectionsAndNestedHeadings) {
  Document d = read_html(
      "<html><head><title> The  Guide </title></head><body>"
      "<p>Intro text.</p>"
      "<h1>Part One</h1><p>One body.</p>"
      "<h2>Sub A</h2><p>A body.</p>"
      "<h3>Deep</h3><p>Deep body.</p>"
      "<h2>Sub B</h2><p>B body.</p>"
      "<h1>Part Two</h1><p>Two body.</p></body></html>",
      "guide.html");
  EXPECT_EQ(d.title, "The Guide");
  ASSERT_EQ(d.sections.size(), 6u);
  EXPECT_TRUE(d.sections[0].headings.empty());
  EXPECT_EQ(d.sections[0].text, "Intro text.");
  EXPECT_EQ(d.sections[1].headings, (std::vector<std::string>{"Part One"}));
  EXPECT_EQ(d.sections[2].headings, (std::vector<std::string>{"Part One", "Sub A"}));
  EXPECT_EQ(d.sections[3].headings, (std::vector<std::string>{"Part One", "Sub A", "Deep"}));
  EXPECT_EQ(d.sections[3].text, "Deep body.");
  EXPECT_EQ(d.sections[4].headings, (std::vector<std::string>{"Part One", "Sub B"}));
  EXPECT_EQ(d.sections[5].headings, (std::vector<std::string>{"Part Two"}));
  EXPECT_EQ(d.sections[5].text, "Two body.");
}

TEST(HtmlReader, EntitiesDecodedAndWhitespaceCollapsed) {
  Document d = read_html(
      "<p>caf&eacute; &amp; cr&#232;me&nbsp;br&#x00FB;l&eacute;e &lt;tag&gt;\n\n   "
      "&quot;q&quot;</p>",
      "e.html");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text,
            "caf\xC3\xA9 & cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
            "e <tag> \"q\"");
  EXPECT_EQ(d.title, "e");  // no <title>, no <h1>: the file stem
}

TEST(HtmlReader, DropsScriptStyleNavAndNavigationBlocks) {
  Document d = read_html(
      "<html><head><title>T</title><style>p{color:red}</style></head><body>"
      "<nav><a href='/'>Home</a> Menu</nav>"
      "<div class=\"navheader\"><table><tr><td>Prev</td><td>Next</td></tr></table></div>"
      "<div role=\"navigation\">Sitemap</div>"
      "<div class=\"toc\"><dl><dt>1. Chapter</dt></dl></div>"
      "<script>var x = 'secret';</script>"
      "<p>Real content.</p>"
      "<div class=\"navfooter\">Up Home</div></body></html>",
      "n.html");
  std::string text = all_text(d);
  EXPECT_EQ(text, "Real content.\n");
}

TEST(HtmlReader, PreformattedCodeKeptLineByLine) {
  Document d = read_html(
      "<h2>Example</h2><p>Run this:</p><pre class=\"programlisting\">\n"
      "SELECT a,\n       b\n  FROM t;   \n</pre><p>Done.</p>",
      "c.html");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text, "Run this:\n\nSELECT a,\n       b\n  FROM t;\n\nDone.");
}

TEST(HtmlReader, ListsAndTableRowsAreLines) {
  Document d = read_html(
      "<ul><li>first item</li><li>second <b>bold</b> item</li></ul>"
      "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
      "<p>line one<br>line two</p>",
      "l.html");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_EQ(d.sections[0].text, "first item\nsecond bold item\n\na b\n1 2\n\nline one\nline two");
}

TEST(HtmlReader, MalformedMarkupRecovers) {
  Document d = read_html(
      "<html><body><h1>Broken<p>unclosed <b>bold <i>mixed</b> tags</i>"
      "<div><p>inside &bogus; &amp x</div></span></td><h2>Next</h2>text <",
      "m.html");
  std::string text = all_text(d);
  EXPECT_NE(text.find("unclosed bold mixed tags"), std::string::npos) << text;
  EXPECT_NE(text.find("inside &bogus;"), std::string::npos) << text;  // unknown entity kept
  EXPECT_NE(text.find("Next"), std::string::npos) << text;
}

TEST(HtmlReader, EmptyAndWhitespaceOnlyGiveNoSections) {
  EXPECT_TRUE(read_html("", "empty.html").sections.empty());
  EXPECT_TRUE(read_html("  \n\t ", "ws.html").sections.empty());
  EXPECT_TRUE(read_html("<html><body><p>  </p></body></html>", "p.html").sections.empty());
  EXPECT_EQ(read_html("", "empty.html").title, "empty");
}

TEST(HtmlReader, DeepNestingDoesNotCrash) {
  std::string html;
  for (int i = 0; i < 20000; ++i) html += "<div>";
  html += "deep words";
  for (int i = 0; i < 20000; ++i) html += "</div>";
  Document d = read_html(html, "deep.html");
  EXPECT_NE(all_text(d).find("deep words"), std::string::npos);
}

TEST(HtmlReader, BinaryContentIsAnInputErrorNamingTheFile) {
  try {
    read_html(std::string("<p>a\0b</p>", 10), "bin.html");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bin.html"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ragperf
