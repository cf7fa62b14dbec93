// read_text(), read_document() and the binary-content check.
#include <gtest/gtest.h>

#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

TEST(TextReader, ParagraphsSoftWrapsAndListLines) {
  Document d = read_text(
      "\xEF\xBB\xBF"
      "First paragraph\nwrapped here.\n\n\n- a list item\n- another\n    indented "
      "code\r\n\nLast.",
      "notes/readme.txt");
  EXPECT_EQ(d.title, "readme");
  ASSERT_EQ(d.sections.size(), 1u);
  EXPECT_TRUE(d.sections[0].headings.empty());
  EXPECT_EQ(d.sections[0].text,
            "First paragraph wrapped here.\n\n- a list item\n- another\nindented code\n\nLast.");
}

TEST(TextReader, EmptyGivesNoSections) {
  EXPECT_TRUE(read_text("", "e.txt").sections.empty());
  EXPECT_TRUE(read_text(" \n\t\n ", "w.txt").sections.empty());
}

TEST(BinaryContent, NulBytesAndInvalidUtf8AreReported) {
  EXPECT_FALSE(binary_content_reason("plain ascii").has_value());
  EXPECT_FALSE(binary_content_reason("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").has_value());
  EXPECT_EQ(binary_content_reason(std::string("ab\0c", 4)).value(),
            "contains NUL bytes (binary file)");
  auto latin1 = binary_content_reason("caf\xE9 au lait");
  ASSERT_TRUE(latin1.has_value());
  EXPECT_NE(latin1->find("invalid UTF-8 at byte 3"), std::string::npos) << *latin1;
  EXPECT_NE(latin1->find("iconv"), std::string::npos) << *latin1;
  EXPECT_TRUE(binary_content_reason("\xC0\xAF").has_value());          // overlong '/'
  EXPECT_TRUE(binary_content_reason("\xED\xA0\x80").has_value());      // surrogate
  EXPECT_TRUE(binary_content_reason("\xF4\x90\x80\x80").has_value());  // > U+10FFFF
  EXPECT_TRUE(binary_content_reason("ok \xE2\x82").has_value());       // truncated
  EXPECT_TRUE(binary_content_reason("\x80").has_value());              // lone continuation
}

TEST(ReadDocument, DispatchesOnExtension) {
  testing::TempDir tmp;
  testing::write_file(tmp / "a.MD", "# Head\n\nBody.\n");
  testing::write_file(tmp / "b.htm", "<title>B</title><p>Html body.</p>");
  testing::write_file(tmp / "c.text", "Plain.");
  EXPECT_EQ(read_document(tmp / "a.MD").title, "Head");
  EXPECT_EQ(read_document(tmp / "b.htm").title, "B");
  EXPECT_EQ(read_document(tmp / "c.text").sections.at(0).text, "Plain.");
  EXPECT_EQ(format_for_path("x.markdown"), DocumentFormat::kMarkdown);
  EXPECT_EQ(format_for_path("x.XHTML"), DocumentFormat::kHtml);
  EXPECT_FALSE(format_for_path("x.pdf").has_value());
  EXPECT_FALSE(format_for_path("Makefile").has_value());
}

TEST(ReadDocument, ErrorsNameTheFile) {
  testing::TempDir tmp;
  testing::write_file(tmp / "image.png", "\x89PNG");
  testing::write_file(tmp / "bin.txt", std::string("\x7F"
                                                   "ELF\0\0\0",
                                                   7));
  auto expect_error = [](const std::filesystem::path& p, const std::string& part) {
    try {
      read_document(p);
      ADD_FAILURE() << "expected InputError for " << p;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(p.filename().string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(tmp / "image.png", "unsupported file type '.png'");
  expect_error(tmp / "bin.txt", "NUL bytes");
  expect_error(tmp / "missing.txt", "cannot read");
  std::filesystem::create_directories(tmp / "dir.md");
  expect_error(tmp / "dir.md", "folder");
}

}  // namespace
}  // namespace ragperf
