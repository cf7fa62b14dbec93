// SectionBuilder and the helpers every reader shares.
#include "section_builder.h"

#include "ragperf/error.h"

namespace ragperf::ingest {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Length of a whitespace character at `s[i]` (ASCII or U+00A0 as C2 A0), else 0.
size_t space_at(std::string_view s, size_t i) {
  if (is_space(s[i])) return 1;
  if (static_cast<unsigned char>(s[i]) == 0xC2 && i + 1 < s.size() &&
      static_cast<unsigned char>(s[i + 1]) == 0xA0) {
    return 2;
  }
  return 0;
}

}  // namespace

std::string_view require_text(std::string_view content, const std::filesystem::path& path) {
  if (auto reason = binary_content_reason(content)) {
    throw InputError("cannot ingest '" + path.string() + "': " + *reason);
  }
  if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);
  return content;
}

std::string collapse_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (size_t i = 0; i < text.size();) {
    if (size_t n = space_at(text, i)) {
      space = !out.empty();
      i += n;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += text[i++];
  }
  return out;
}

void SectionBuilder::heading(int level, std::string_view text) {
  std::string h = collapse_whitespace(text);
  if (h.empty()) return;
  end_section();
  while (!stack_.empty() && stack_.back().level >= level) stack_.pop_back();
  stack_.push_back({level, std::move(h)});
}

void SectionBuilder::inline_text(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (size_t n = space_at(text, i)) {
      pending_space_ = !line_.empty();
      i += n;
      continue;
    }
    if (pending_space_) line_ += ' ';
    pending_space_ = false;
    line_ += text[i++];
  }
}

void SectionBuilder::end_line() {
  if (!line_.empty()) {
    if (!para_.empty()) para_ += '\n';
    para_ += line_;
    line_.clear();
  }
  pending_space_ = false;
}

void SectionBuilder::line_break() {
  end_line();
}

void SectionBuilder::paragraph_break() {
  end_line();
  if (!para_.empty()) {
    if (!text_.empty()) text_ += "\n\n";
    text_ += para_;
    para_.clear();
  }
}

void SectionBuilder::preformatted(std::string_view text) {
  paragraph_break();
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    while (!line.empty() && (is_space(line.back()))) line.remove_suffix(1);
    lines.push_back(line);
    start = nl + 1;
  }
  size_t b = 0;
  size_t e = lines.size();
  while (b < e && lines[b].empty()) ++b;
  while (e > b && lines[e - 1].empty()) --e;
  for (size_t i = b; i < e; ++i) {
    if (lines[i].empty()) {
      paragraph_break();  // a blank line inside code separates its paragraphs
      continue;
    }
    if (!para_.empty()) para_ += '\n';
    para_ += lines[i];
  }
  paragraph_break();
}

void SectionBuilder::end_section() {
  paragraph_break();
  if (!text_.empty()) {
    DocumentSection s;
    s.headings.reserve(stack_.size());
    for (const auto& l : stack_) s.headings.push_back(l.text);
    s.text = std::move(text_);
    sections_.push_back(std::move(s));
  }
  text_.clear();
}

std::vector<DocumentSection> SectionBuilder::finish() {
  end_section();
  return std::move(sections_);
}

}  // namespace ragperf::ingest
