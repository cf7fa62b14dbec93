// ingest/section_builder.h: builds a Document's sections from a reader's events (headings,
// inline text, line and paragraph breaks, preformatted blocks), collapsing whitespace in prose.
// Shared by the text, Markdown and HTML readers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ragperf/ingest.h"

namespace ragperf::ingest {

/// Throws InputError naming `path` unless `content` is UTF-8 text; returns it without a BOM.
std::string_view require_text(std::string_view content, const std::filesystem::path& path);

/// Collapses runs of whitespace (and U+00A0) to one space and trims both ends.
std::string collapse_whitespace(std::string_view text);

class SectionBuilder {
 public:
  /// Starts a section under a heading of `level` (1 = outermost); deeper headings nest under
  /// shallower ones, an equal or shallower one replaces them. Empty heading text is ignored.
  void heading(int level, std::string_view text);
  /// Prose: whitespace collapses to one space across calls.
  void inline_text(std::string_view text);
  /// Ends the current line (a new line inside the paragraph).
  void line_break();
  /// Ends the current paragraph.
  void paragraph_break();
  /// A block kept line by line (code): its own paragraph; trailing spaces and blank edge lines
  /// are dropped, tabs and indentation kept.
  void preformatted(std::string_view text);

  /// The sections with text (heading-only sections are dropped).
  std::vector<DocumentSection> finish();

 private:
  void end_line();
  void end_section();

  struct Level {
    int level;
    std::string text;
  };
  std::vector<Level> stack_;
  std::vector<DocumentSection> sections_;
  std::string text_;  // finished paragraphs of the current section
  std::string para_;  // finished lines of the current paragraph
  std::string line_;  // the current line
  bool pending_space_ = false;
};

}  // namespace ragperf::ingest
