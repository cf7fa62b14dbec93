// Markdown (.md): ATX (#..######) and setext headings start sections; fenced code is kept line by
// line; YAML/TOML front matter is skipped (its `title:` becomes the title); inline markup (links,
// images, emphasis, code spans, HTML tags and comments) is reduced to its text.
#include <cctype>
#include <vector>

#include "ragperf/ingest.h"
#include "section_builder.h"

namespace ragperf {
namespace {

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) nl = s.size();
    std::string_view line = s.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

size_t indent_of(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  return i;
}

bool is_blank(std::string_view line) {
  return trim(line).empty();
}

// "```lang" / "~~~": the fence char and length, or 0.
size_t fence_open(std::string_view line, char* fence_char) {
  size_t i = indent_of(line);
  if (i > 3 || i >= line.size() || (line[i] != '`' && line[i] != '~')) return 0;
  char c = line[i];
  size_t n = 0;
  while (i + n < line.size() && line[i + n] == c) ++n;
  if (n < 3) return 0;
  if (c == '`' && line.substr(i + n).find('`') != std::string_view::npos) return 0;
  *fence_char = c;
  return n;
}

bool fence_close(std::string_view line, char c, size_t len) {
  size_t i = indent_of(line);
  if (i > 3) return false;
  size_t n = 0;
  while (i + n < line.size() && line[i + n] == c) ++n;
  return n >= len && is_blank(line.substr(i + n));
}

// ATX heading: level 1-6 and its text, or level 0.
int atx_heading(std::string_view line, std::string_view* text) {
  size_t i = indent_of(line);
  if (i > 3) return 0;
  size_t n = 0;
  while (i + n < line.size() && line[i + n] == '#') ++n;
  if (n == 0 || n > 6) return 0;
  std::string_view rest = line.substr(i + n);
  if (!rest.empty() && rest[0] != ' ' && rest[0] != '\t') return 0;
  rest = trim(rest);
  // Closing sequence: spaces then #s at the end.
  size_t e = rest.size();
  while (e > 0 && rest[e - 1] == '#') --e;
  if (e == 0) {
    rest = {};
  } else if (e < rest.size() && (rest[e - 1] == ' ' || rest[e - 1] == '\t')) {
    rest = trim(rest.substr(0, e));
  }
  *text = rest;
  return static_cast<int>(n);
}

// Setext underline: 1 for "===", 2 for "---", else 0.
int setext_level(std::string_view line) {
  if (indent_of(line) > 3) return 0;
  std::string_view t = trim(line);
  if (t.empty() || (t[0] != '=' && t[0] != '-')) return 0;
  for (char c : t) {
    if (c != t[0]) return 0;
  }
  return t[0] == '=' ? 1 : 2;
}

bool is_thematic_break(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() < 3 || (t[0] != '-' && t[0] != '*' && t[0] != '_')) return false;
  size_t n = 0;
  for (char c : t) {
    if (c == t[0]) {
      ++n;
    } else if (c != ' ' && c != '\t') {
      return false;
    }
  }
  return n >= 3;
}

bool is_table_rule(std::string_view line) {
  std::string_view t = trim(line);
  if (t.empty() || t.find('-') == std::string_view::npos) return false;
  for (char c : t) {
    if (c != '|' && c != '-' && c != ':' && c != ' ') return false;
  }
  return t.find('|') != std::string_view::npos || t.find(':') != std::string_view::npos;
}

bool is_link_definition(std::string_view line) {
  std::string_view t = trim(line);
  if (t.empty() || t[0] != '[') return false;
  size_t close = t.find("]:");
  return close != std::string_view::npos && close > 1;
}

bool is_tag_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Reduces inline markup to text: ![alt](u) -> alt, [text](u) / [text][r] -> text, <url> -> url,
// `code` -> code, ** and __ dropped, <tag ...> and <!-- --> dropped.
std::string inline_to_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && std::ispunct(static_cast<unsigned char>(s[i + 1]))) {
      out += s[i + 1];
      i += 2;
      continue;
    }
    if (c == '!' && i + 1 < s.size() && s[i + 1] == '[') {
      ++i;  // the alt text follows as a link text
      continue;
    }
    if (c == '[') {
      size_t close = s.find(']', i + 1);
      if (close != std::string_view::npos && close + 1 < s.size() &&
          (s[close + 1] == '(' || s[close + 1] == '[')) {
        char end = s[close + 1] == '(' ? ')' : ']';
        size_t target_end = s.find(end, close + 2);
        if (target_end != std::string_view::npos) {
          out += inline_to_text(s.substr(i + 1, close - i - 1));
          i = target_end + 1;
          continue;
        }
      }
    }
    if (c == '<') {
      if (s.substr(i, 4) == "<!--") {
        size_t end = s.find("-->", i + 4);
        i = end == std::string_view::npos ? s.size() : end + 3;
        continue;
      }
      size_t close = s.find('>', i + 1);
      if (close != std::string_view::npos) {
        std::string_view inner = s.substr(i + 1, close - i - 1);
        if (inner.find("://") != std::string_view::npos && inner.find(' ') == inner.npos) {
          out += inner;  // autolink
          i = close + 1;
          continue;
        }
        size_t k = inner.empty() || inner[0] != '/' ? 0 : 1;
        if (k < inner.size() && std::isalpha(static_cast<unsigned char>(inner[k]))) {
          while (k < inner.size() && is_tag_name_char(inner[k])) ++k;
          if (k == inner.size() || inner[k] == ' ' || inner[k] == '/') {
            out += ' ';
            i = close + 1;
            continue;
          }
        }
      }
    }
    if ((c == '*' || c == '_') && i + 1 < s.size() && s[i + 1] == c) {
      i += 2;
      continue;
    }
    if (c == '`') {
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

// A line that keeps its own line inside a paragraph: list item, quote, table row, indented.
bool starts_own_line(std::string_view line) {
  size_t i = indent_of(line);
  if (i >= 2) return true;
  std::string_view t = line.substr(i);
  if (t.empty()) return false;
  if ((t[0] == '-' || t[0] == '*' || t[0] == '+') && t.size() > 1 && t[1] == ' ') return true;
  if (t[0] == '>' || t[0] == '|') return true;
  size_t n = 0;
  while (n < t.size() && n < 9 && t[n] >= '0' && t[n] <= '9') ++n;
  return n > 0 && n + 1 < t.size() && (t[n] == '.' || t[n] == ')') && t[n + 1] == ' ';
}

// Strips a blockquote marker and a bullet.
std::string_view strip_markers(std::string_view line) {
  std::string_view t = trim(line);
  while (!t.empty() && t[0] == '>') t = trim(t.substr(1));
  if (t.size() > 1 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && t[1] == ' ') {
    t = trim(t.substr(2));
  }
  return t;
}

class MarkdownParser {
 public:
  explicit MarkdownParser(Document* doc) : doc_(doc) {}

  void parse(std::string_view content) {
    auto lines = split_lines(content);
    size_t i = skip_front_matter(lines);
    for (; i < lines.size(); ++i) {
      std::string_view line = lines[i];
      char fc = 0;
      if (size_t flen = fence_open(line, &fc)) {
        flush();
        std::string code;
        for (++i; i < lines.size() && !fence_close(lines[i], fc, flen); ++i) {
          code.append(lines[i]).push_back('\n');
        }
        b_.preformatted(code);
        continue;
      }
      if (trim(line).substr(0, 4) == "<!--" && trim(line).find("-->") == std::string_view::npos) {
        flush();
        while (i + 1 < lines.size() && lines[i].find("-->") == std::string_view::npos) ++i;
        continue;
      }
      std::string_view htext;
      if (int level = atx_heading(line, &htext)) {
        flush();
        add_heading(level, htext);
        continue;
      }
      if (int level = setext_level(line); level != 0 && !para_.empty() && !para_own_line_) {
        std::string text;
        for (auto l : para_) text.append(l).push_back(' ');
        para_.clear();
        add_heading(level, text);
        continue;
      }
      if (is_blank(line) || is_thematic_break(line)) {
        flush();
        continue;
      }
      if (is_table_rule(line) || is_link_definition(line)) continue;
      para_own_line_ = para_.empty() && starts_own_line(line);
      para_.push_back(line);
    }
    flush();
    doc_->sections = b_.finish();
    doc_->title = !front_title_.empty() ? front_title_ : first_h1_;
  }

 private:
  size_t skip_front_matter(const std::vector<std::string_view>& lines) {
    if (lines.empty()) return 0;
    std::string_view open = trim(lines[0]);
    if (open != "---" && open != "+++") return 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      std::string_view t = trim(lines[i]);
      if (t == open || (open == "---" && t == "...")) return i + 1;
      for (std::string_view key : {"title:", "title ="}) {
        if (t.substr(0, key.size()) == key) {
          std::string_view v = trim(t.substr(key.size()));
          if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'') && v.back() == v[0]) {
            v = v.substr(1, v.size() - 2);
          }
          front_title_ = std::string(v);
        }
      }
    }
    front_title_.clear();
    return 0;  // no closing line: not front matter
  }

  void add_heading(int level, std::string_view text) {
    std::string h = ingest::collapse_whitespace(inline_to_text(text));
    if (first_h1_.empty() && level == 1) first_h1_ = h;
    b_.heading(level, h);
  }

  void flush() {
    for (auto line : para_) {
      if (starts_own_line(line)) b_.line_break();
      b_.inline_text(inline_to_text(strip_markers(line)));
      b_.inline_text(" ");
    }
    para_.clear();
    b_.paragraph_break();
  }

  Document* doc_;
  ingest::SectionBuilder b_;
  std::vector<std::string_view> para_;
  bool para_own_line_ = false;
  std::string front_title_;
  std::string first_h1_;
};

}  // namespace

Document read_markdown(std::string_view content, const std::filesystem::path& path) {
  content = ingest::require_text(content, path);
  Document doc;
  doc.path = path;
  MarkdownParser(&doc).parse(content);
  if (doc.title.empty()) doc.title = path.stem().string();
  return doc;
}

}  // namespace ragperf
