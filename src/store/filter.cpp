// store/filter.cpp parses the metadata filter language of ragperf/filter.h (a hand-written
// recursive-descent parser over a small tokenizer) and prints its canonical text.
#include "ragperf/filter.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "base/utf8.h"
#include "ragperf/error.h"

namespace ragperf {
namespace {

constexpr size_t kMaxText = 4096;
constexpr size_t kMaxComparisons = 64;
constexpr size_t kMaxDepth = 32;
constexpr size_t kMaxKey = 64;
constexpr size_t kMaxPath = 8;
constexpr size_t kMaxInValues = 256;

enum class Tok { kEnd, kWord, kText, kNumber, kOp, kLParen, kRParen, kComma, kDot };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // word (as written), text literal (unquoted), number or operator
  size_t pos = 0;    // byte offset in the filter
};

bool is_word_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// YYYY-MM-DD, optionally followed by THH:MM or THH:MM:SS (and anything after the seconds, such
/// as a fraction or a zone, as long as it is printable): a real calendar date and time of day.
bool valid_date(std::string_view s) {
  auto digits = [&](size_t at, size_t n, int& v) {
    if (at + n > s.size()) return false;
    v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, m, d;
  if (!digits(0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(5, 2, m) || s[7] != '-' ||
      !digits(8, 2, d)) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[m - 1] + (m == 2 && leap ? 1 : 0)) return false;
  if (s.size() == 10) return true;
  int hh, mm, ss;
  if (s[10] != 'T' || !digits(11, 2, hh) || s.size() < 16 || s[13] != ':' || !digits(14, 2, mm) ||
      hh > 23 || mm > 59) {
    return false;
  }
  if (s.size() == 16) return true;
  if (s[16] != ':' || !digits(17, 2, ss) || ss > 60) return false;
  for (size_t i = 19; i < s.size(); ++i) {
    if (!std::isgraph(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::string quote_text(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  out += '\'';
  return out;
}

std::string number_text(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, end);
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { advance(); }

  FilterNode parse_all() {
    FilterNode node = parse_or(0);
    if (tok_.kind != Tok::kEnd) fail(tok_, "expected 'and', 'or' or the end of the filter");
    return node;
  }

 private:
  [[noreturn]] void fail(const Token& at, const std::string& what) const {
    std::string shown = at.kind == Tok::kEnd ? std::string("the end") : "'" + excerpt(at.pos) + "'";
    throw InputError("filter: " + what + " at byte " + std::to_string(at.pos) + " (" + shown +
                     ") of \"" + std::string(text_) +
                     "\"; the syntax is in the README's \"Metadata filters\" section");
  }

  std::string excerpt(size_t pos) const {
    std::string_view rest = text_.substr(pos, 24);
    return std::string(rest) + (pos + 24 < text_.size() ? "..." : "");
  }

  void advance() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
    tok_ = Token{};
    tok_.pos = at_;
    if (at_ >= text_.size()) return;
    const char c = text_[at_];
    if (is_word_start(c)) {
      size_t end = at_ + 1;
      while (end < text_.size() && is_word_char(text_[end])) ++end;
      tok_.kind = Tok::kWord;
      tok_.text = std::string(text_.substr(at_, end - at_));
      at_ = end;
    } else if (c == '\'') {
      std::string value;
      size_t i = at_ + 1;
      for (;; ++i) {
        if (i >= text_.size()) {
          tok_.kind = Tok::kText;
          fail(tok_, "unterminated text literal (close it with ')");
        }
        if (text_[i] == '\'') {
          if (i + 1 < text_.size() && text_[i + 1] == '\'') {
            value += '\'';
            ++i;
            continue;
          }
          break;
        }
        value += text_[i];
      }
      tok_.kind = Tok::kText;
      tok_.text = std::move(value);
      at_ = i + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      size_t end = at_ + 1;
      while (end < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '.' ||
              ((text_[end] == '-' || text_[end] == '+') &&
               (text_[end - 1] == 'e' || text_[end - 1] == 'E')))) {
        ++end;
      }
      tok_.kind = Tok::kNumber;
      tok_.text = std::string(text_.substr(at_, end - at_));
      at_ = end;
      if (tok_.text == ".") tok_.kind = Tok::kDot;
    } else if (c == '(' || c == ')' || c == ',') {
      tok_.kind = c == '(' ? Tok::kLParen : c == ')' ? Tok::kRParen : Tok::kComma;
      tok_.text = std::string(1, c);
      ++at_;
    } else if (c == '=' || c == '<' || c == '>' || c == '!' || c == '^') {
      std::string op(1, c);
      if (at_ + 1 < text_.size() && text_[at_ + 1] == '=') op += '=';
      if (op == "!" || op == "^") fail(tok_, "expected an operator (=, !=, <, <=, >, >=, ^=)");
      if (op == "==") fail(tok_, "'==' is not an operator: use =");
      tok_.kind = Tok::kOp;
      tok_.text = op;
      at_ += op.size();
    } else {
      fail(tok_, "unexpected character");
    }
  }

  bool keyword(const char* word) const {
    return tok_.kind == Tok::kWord && lower(tok_.text) == word;
  }

  FilterNode parse_or(size_t depth) {
    FilterNode first = parse_and(depth);
    if (!keyword("or")) return first;
    FilterNode node;
    node.kind = FilterNode::Kind::kOr;
    node.children.push_back(std::move(first));
    while (keyword("or")) {
      advance();
      FilterNode next = parse_and(depth);
      if (next.kind == FilterNode::Kind::kOr) {
        for (auto& c : next.children) node.children.push_back(std::move(c));
      } else {
        node.children.push_back(std::move(next));
      }
    }
    return node;
  }

  FilterNode parse_and(size_t depth) {
    FilterNode first = parse_unary(depth);
    if (!keyword("and")) return first;
    FilterNode node;
    node.kind = FilterNode::Kind::kAnd;
    auto add = [&](FilterNode n) {
      if (n.kind == FilterNode::Kind::kAnd) {
        for (auto& c : n.children) node.children.push_back(std::move(c));
      } else {
        node.children.push_back(std::move(n));
      }
    };
    add(std::move(first));
    while (keyword("and")) {
      advance();
      add(parse_unary(depth));
    }
    return node;
  }

  FilterNode parse_unary(size_t depth) {
    if (depth >= kMaxDepth) {
      fail(tok_, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    if (keyword("not")) {
      advance();
      FilterNode node;
      node.kind = FilterNode::Kind::kNot;
      node.children.push_back(parse_unary(depth + 1));
      return node;
    }
    if (tok_.kind == Tok::kLParen) {
      advance();
      FilterNode inner = parse_or(depth + 1);
      if (tok_.kind != Tok::kRParen) fail(tok_, "expected ')'");
      advance();
      return inner;
    }
    if (keyword("exists")) {
      advance();
      FilterNode node;
      node.kind = FilterNode::Kind::kExists;
      node.field = parse_field();
      count_comparison();
      return node;
    }
    FilterNode node;
    node.field = parse_field();
    count_comparison();
    if (keyword("in")) {
      advance();
      node.kind = FilterNode::Kind::kIn;
      if (tok_.kind != Tok::kLParen) fail(tok_, "expected '(' after 'in'");
      advance();
      for (;;) {
        if (node.values.size() == kMaxInValues) {
          fail(tok_, "more than " + std::to_string(kMaxInValues) + " values in one 'in' list");
        }
        node.values.push_back(parse_value());
        if (tok_.kind == Tok::kComma) {
          advance();
          continue;
        }
        if (tok_.kind != Tok::kRParen) fail(tok_, "expected ',' or ')' in the 'in' list");
        advance();
        break;
      }
      if (node.field.is_source) {
        for (const auto& v : node.values) {
          if (v.type != FilterValue::Type::kText) {
            fail(tok_, "source is text: its 'in' list takes text literals only");
          }
        }
      }
      return node;
    }
    if (tok_.kind != Tok::kOp) {
      fail(tok_, "expected an operator (=, !=, <, <=, >, >=, ^=), 'in', 'and', 'or' or ')'");
    }
    const Token op_tok = tok_;
    static constexpr std::pair<const char*, FilterOp> kOps[] = {
        {"=", FilterOp::kEq},     {"!=", FilterOp::kNe}, {"<", FilterOp::kLt},
        {"<=", FilterOp::kLe},    {">", FilterOp::kGt},  {">=", FilterOp::kGe},
        {"^=", FilterOp::kPrefix}};
    for (const auto& [text, op] : kOps) {
      if (op_tok.text == text) node.op = op;
    }
    advance();
    const Token value_tok = tok_;
    node.values.push_back(parse_value());
    const FilterValue& v = node.values.back();
    if (node.op == FilterOp::kPrefix && (v.type != FilterValue::Type::kText || v.is_date)) {
      fail(value_tok, "'^=' (starts with) takes a text literal");
    }
    const bool ordered = node.op != FilterOp::kEq && node.op != FilterOp::kNe;
    if (ordered && v.type == FilterValue::Type::kBool) {
      fail(op_tok, "true and false have no order: use = or !=");
    }
    if (node.field.is_source && v.type != FilterValue::Type::kText) {
      fail(value_tok, "source is text: compare it with a text literal ('...')");
    }
    return node;
  }

  void count_comparison() {
    if (++comparisons_ > kMaxComparisons) {
      fail(tok_, "more than " + std::to_string(kMaxComparisons) + " comparisons");
    }
  }

  FilterField parse_field() {
    FilterField field;
    if (keyword("source")) {
      field.is_source = true;
      advance();
      return field;
    }
    if (!keyword("meta")) {
      fail(tok_, "expected a field: source or meta.KEY");
    }
    dot_follows();
    if (tok_.kind != Tok::kDot) fail(tok_, "expected '.' and a key after meta (meta.KEY)");
    while (tok_.kind == Tok::kDot) {
      advance();
      if (tok_.kind != Tok::kWord) fail(tok_, "expected a key ([A-Za-z_][A-Za-z0-9_-]*) after '.'");
      if (tok_.text.size() > kMaxKey) {
        fail(tok_, "a key longer than " + std::to_string(kMaxKey) + " bytes");
      }
      if (field.path.size() == kMaxPath) {
        fail(tok_, "a path of more than " + std::to_string(kMaxPath) + " keys");
      }
      field.path.push_back(tok_.text);
      dot_follows();
    }
    if (field.path.empty()) fail(tok_, "expected '.' and a key after meta (meta.KEY)");
    return field;
  }

  /// After "meta" or a key: a '.' glued to it continues the path. The tokenizer would read ".b"
  /// as a number, so the dot is looked for here, in the text itself.
  void dot_follows() {
    if (at_ < text_.size() && text_[at_] == '.') {
      tok_ = Token{Tok::kDot, ".", at_};
      ++at_;
      return;
    }
    advance();
  }

  FilterValue parse_value() {
    FilterValue v;
    if (tok_.kind == Tok::kText) {
      v.type = FilterValue::Type::kText;
      v.text = tok_.text;
      advance();
      return v;
    }
    if (tok_.kind == Tok::kNumber) {
      const std::string& s = tok_.text;
      double d = 0;
      auto [end, ec] = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), s.data() + s.size(), d);
      if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d)) {
        fail(tok_, "not a finite number");
      }
      v.type = FilterValue::Type::kNumber;
      v.number = d == 0 ? 0.0 : d;  // -0 prints as 0
      advance();
      return v;
    }
    if (keyword("true") || keyword("false")) {
      v.type = FilterValue::Type::kBool;
      v.boolean = keyword("true");
      advance();
      return v;
    }
    if (keyword("date")) {
      advance();
      if (tok_.kind != Tok::kText || !valid_date(tok_.text)) {
        fail(tok_, "expected a date literal: date 'YYYY-MM-DD' or date 'YYYY-MM-DDTHH:MM[:SS]'");
      }
      v.type = FilterValue::Type::kText;
      v.is_date = true;
      v.text = tok_.text;
      advance();
      return v;
    }
    fail(tok_, "expected a value: 'text', a number, true, false or date '...'");
  }

  std::string_view text_;
  size_t at_ = 0;
  Token tok_;
  size_t comparisons_ = 0;
};

std::string value_text(const FilterValue& v) {
  switch (v.type) {
    case FilterValue::Type::kNumber:
      return number_text(v.number);
    case FilterValue::Type::kBool:
      return v.boolean ? "true" : "false";
    case FilterValue::Type::kText:
      break;
  }
  return (v.is_date ? "date " : "") + quote_text(v.text);
}

std::string field_text(const FilterField& f) {
  if (f.is_source) return "source";
  std::string out = "meta";
  for (const auto& k : f.path) {
    out += '.';
    out += k;
  }
  return out;
}

std::string print(const FilterNode& n);

void append_wrapped(std::string& out, const FilterNode& n, bool wrap) {
  if (wrap) out += '(';
  out += print(n);
  if (wrap) out += ')';
}

/// Canonical text: parentheses only where and/or/not need them.
std::string print(const FilterNode& n) {
  using K = FilterNode::Kind;
  switch (n.kind) {
    case K::kAnd:
    case K::kOr: {
      const char* sep = n.kind == K::kAnd ? " and " : " or ";
      std::string out;
      for (size_t i = 0; i < n.children.size(); ++i) {
        if (i) out += sep;
        const FilterNode& c = n.children[i];
        const bool wrap =
            (c.kind == K::kOr && n.kind == K::kAnd) || (c.kind == K::kAnd && n.kind == K::kOr);
        append_wrapped(out, c, wrap);
      }
      return out;
    }
    case K::kNot: {
      const FilterNode& c = n.children[0];
      const bool wrap = c.kind == K::kAnd || c.kind == K::kOr;
      std::string out = "not ";
      append_wrapped(out, c, wrap);
      return out;
    }
    case K::kExists:
      return "exists " + field_text(n.field);
    case K::kIn: {
      std::string out = field_text(n.field) + " in (";
      for (size_t i = 0; i < n.values.size(); ++i) {
        if (i) out += ", ";
        out += value_text(n.values[i]);
      }
      return out + ")";
    }
    case K::kCompare:
      break;
  }
  static constexpr const char* kOps[] = {"=", "!=", "<", "<=", ">", ">=", "^="};
  return field_text(n.field) + " " + kOps[static_cast<int>(n.op)] + " " + value_text(n.values[0]);
}

}  // namespace

Filter Filter::parse(std::string_view text) {
  if (text.size() > kMaxText) {
    throw InputError("filter: " + std::to_string(text.size()) + " bytes is longer than the " +
                     std::to_string(kMaxText) + "-byte limit; split the query or simplify it");
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      throw InputError("filter: control character at byte " + std::to_string(i) + "; remove it");
    }
  }
  if (auto at = base::invalid_utf8_offset(text)) {
    throw InputError("filter: invalid UTF-8 at byte " + std::to_string(*at) +
                     "; the filter must be UTF-8 text");
  }
  Filter f;
  bool blank = true;
  for (char c : text) blank = blank && std::isspace(static_cast<unsigned char>(c));
  if (blank) return f;
  auto root = std::make_shared<FilterNode>(Parser(text).parse_all());
  f.canonical_ = print(*root);
  f.root_ = std::move(root);
  return f;
}

}  // namespace ragperf
