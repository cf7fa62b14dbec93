// Plain text (.txt): paragraphs split at blank lines; soft-wrapped lines joined, while indented
// lines and list items keep their own line.
#include "ragperf/ingest.h"
#include "section_builder.h"

namespace ragperf {
namespace {

bool starts_own_line(std::string_view line) {
  if (line.empty()) return false;
  if (line[0] == ' ' || line[0] == '\t') return true;
  if (line.size() >= 2 && (line[0] == '-' || line[0] == '*' || line[0] == '+') && line[1] == ' ') {
    return true;
  }
  if (line.substr(0, 4) == "\xE2\x80\xA2 ") return true;  // "• "
  size_t i = 0;
  while (i < line.size() && i < 4 && line[i] >= '0' && line[i] <= '9') ++i;
  return i > 0 && i + 1 < line.size() && (line[i] == '.' || line[i] == ')') && line[i + 1] == ' ';
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

}  // namespace

Document read_text(std::string_view content, const std::filesystem::path& path) {
  content = ingest::require_text(content, path);
  Document doc;
  doc.path = path;
  doc.title = path.stem().string();
  ingest::SectionBuilder b;
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    if (nl == std::string_view::npos) nl = content.size();
    std::string_view line = content.substr(start, nl - start);
    start = nl + 1;
    if (is_blank(line)) {
      b.paragraph_break();
      continue;
    }
    if (starts_own_line(line)) b.line_break();
    b.inline_text(line);
    b.inline_text(" ");
  }
  doc.sections = b.finish();
  return doc;
}

}  // namespace ragperf
