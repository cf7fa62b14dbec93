// split_sentences(): a rule-based sentence splitter for one line of prose.
#include <array>
#include <cctype>
#include <string>

#include "ragperf/ingest.h"

namespace ragperf {
namespace {

// Words whose trailing '.' does not end a sentence (compared lower-case, without the '.').
constexpr std::array<std::string_view, 24> kAbbreviations = {
    "e.g", "i.e", "vs", "cf",  "mr", "mrs", "ms",  "dr", "prof", "st",  "no",     "fig",
    "eq",  "sec", "ch", "vol", "al", "inc", "ltd", "jr", "sr",   "u.s", "approx", "resp"};

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// Length of a closing quote/bracket at s[i], else 0.
size_t closer_at(std::string_view s, size_t i) {
  char c = s[i];
  if (c == ')' || c == ']' || c == '"' || c == '\'') return 1;
  if (s.substr(i, 3) == "\xE2\x80\x99" || s.substr(i, 3) == "\xE2\x80\x9D") return 3;  // ’ ”
  if (s.substr(i, 2) == "\xC2\xBB") return 2;                                          // »
  return 0;
}

bool starts_sentence(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (std::isupper(c) || std::isdigit(c)) return true;
  if (c == '"' || c == '\'' || c == '(' || c == '[') return true;
  return c >= 0xC0;  // a non-ASCII letter or opening quote (“ ‘ «)
}

bool is_abbreviation(std::string_view line, size_t dot) {
  size_t b = dot;
  while (b > 0 && !is_space(line[b - 1])) --b;
  std::string_view word = line.substr(b, dot - b);
  while (!word.empty() && (word[0] == '(' || word[0] == '"' || word[0] == '\'')) {
    word.remove_prefix(1);
  }
  if (word.size() == 1 && std::isalpha(static_cast<unsigned char>(word[0]))) return true;  // "J."
  std::string lower(word);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view a : kAbbreviations) {
    if (lower == a) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string_view> split_sentences(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < line.size() && is_space(line[start])) ++start;
  const size_t n = line.size();
  for (size_t i = start; i < n; ++i) {
    char c = line[i];
    if (c != '.' && c != '!' && c != '?') continue;
    size_t j = i + 1;
    while (j < n && (line[j] == '.' || line[j] == '!' || line[j] == '?')) ++j;
    while (j < n) {
      size_t k = closer_at(line, j);
      if (k == 0) break;
      j += k;
    }
    if (j >= n || !is_space(line[j])) {
      i = j - 1;
      continue;
    }
    size_t next = j;
    while (next < n && is_space(line[next])) ++next;
    if (next >= n) break;
    if (!starts_sentence(line, next) || (c == '.' && j == i + 1 && is_abbreviation(line, i))) {
      i = j - 1;
      continue;
    }
    out.push_back(line.substr(start, j - start));
    start = next;
    i = next - 1;
  }
  size_t end = n;
  while (end > start && is_space(line[end - 1])) --end;
  if (end > start) out.push_back(line.substr(start, end - start));
  return out;
}

}  // namespace ragperf
