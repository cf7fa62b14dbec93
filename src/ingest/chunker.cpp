// Chunker: sections -> units (sentences; words or characters for over-long ones) -> greedy
// packing under the token budget, with whole-unit overlap between consecutive chunks.
#include <algorithm>
#include <string>

#include "ragperf/error.h"
#include "ragperf/ingest.h"

namespace ragperf {
namespace {

struct Unit {
  std::string_view text;
  std::string_view sep;  // joins it to the previous unit: "\n\n", "\n", " " or ""
  size_t tokens = 0;     // count(text) - specials
};

std::vector<std::string_view> split_on(std::string_view s, std::string_view delim) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t pos = s.find(delim, start);
    if (pos == std::string_view::npos) pos = s.size();
    if (pos > start) out.push_back(s.substr(start, pos - start));
    start = pos + delim.size();
  }
  return out;
}

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  return 4;
}

class SectionChunker {
 public:
  SectionChunker(const TokenCounter& count, size_t n_special, size_t max_tokens, size_t budget,
                 size_t overlap, const std::string& prefix)
      : count_(count),
        n_special_(n_special),
        max_tokens_(max_tokens),
        budget_(budget),
        overlap_(overlap),
        prefix_(prefix) {}

  // Units of a section's text, each within the budget on its own.
  void add_text(std::string_view text) {
    bool first_para = true;
    for (std::string_view para : split_on(text, "\n\n")) {
      bool first_line = true;
      for (std::string_view line : split_on(para, "\n")) {
        auto sentences = split_sentences(line);
        for (size_t s = 0; s < sentences.size(); ++s) {
          std::string_view sentence = sentences[s];
          std::string_view sep = " ";
          if (s == 0) {
            // Keep the line's indentation (code) with its first sentence.
            sentence = line.substr(
                0, static_cast<size_t>(sentence.data() - line.data()) + sentence.size());
            sep = first_line ? (first_para ? "" : "\n\n") : "\n";
          }
          add_unit(sentence, sep);
        }
        first_line = false;
      }
      first_para = false;
    }
  }

  // Greedy packing; appends to `out`.
  void pack(std::vector<TextChunk>* out, const std::string& heading, bool prefixed) {
    size_t i = 0;
    const size_t n = units_.size();
    while (i < n) {
      size_t j = i;
      size_t sum = 0;
      while (j < n && sum + units_[j].tokens <= budget_) sum += units_[j++].tokens;
      if (j == i) j = i + 1;  // cannot happen: every unit fits alone
      std::string body = join(i, j);
      size_t tokens = count_(with_prefix(body));
      while (tokens > max_tokens_ && j - i > 1) {  // a counter that is not additive
        --j;
        body = join(i, j);
        tokens = count_(with_prefix(body));
      }
      TextChunk c;
      c.heading = heading;
      c.body = std::move(body);
      c.n_tokens = tokens;
      c.prefix_heading = prefixed;
      out->push_back(std::move(c));
      if (j >= n) break;
      // Overlap: trailing whole units of this chunk within overlap_, then make room for unit j.
      size_t k = j;
      size_t osum = 0;
      while (k - 1 > i && osum + units_[k - 1].tokens <= overlap_) osum += units_[--k].tokens;
      while (k < j && osum + units_[j].tokens > budget_) osum -= units_[k++].tokens;
      i = k;
    }
  }

 private:
  size_t tokens_of(std::string_view text) const {
    size_t n = count_(text);
    return n > n_special_ ? n - n_special_ : 0;
  }

  std::string with_prefix(const std::string& body) const {
    return prefix_.empty() ? body : prefix_ + "\n" + body;
  }

  // Whether `text` alone fits in one chunk (checked with the real counter).
  bool fits_alone(std::string_view text, size_t tokens) const {
    if (tokens > budget_) return false;
    return count_(with_prefix(std::string(text))) <= max_tokens_;
  }

  void add_unit(std::string_view text, std::string_view sep) {
    size_t tokens = tokens_of(text);
    if (tokens <= budget_ && (tokens * 2 < budget_ || fits_alone(text, tokens))) {
      units_.push_back({text, sep, tokens});
      return;
    }
    // An over-long sentence: split between words.
    bool first = true;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t b = text.find_first_not_of(" \t", pos);
      if (b == std::string_view::npos) break;
      size_t e = text.find_first_of(" \t", b);
      if (e == std::string_view::npos) e = text.size();
      std::string_view word = text.substr(b, e - b);
      std::string_view wsep = first ? sep : " ";
      first = false;
      size_t wt = tokens_of(word);
      if (wt <= budget_ && fits_alone(word, wt)) {
        units_.push_back({word, wsep, wt});
      } else {
        add_word_pieces(word, wsep);
      }
      pos = e;
    }
  }

  // An over-long word: the longest prefixes (whole UTF-8 characters) that fit, in turn.
  void add_word_pieces(std::string_view word, std::string_view sep) {
    while (!word.empty()) {
      std::vector<size_t> cuts;  // character boundaries after each character
      for (size_t p = 0; p < word.size();) {
        p = std::min(word.size(), p + utf8_length(static_cast<unsigned char>(word[p])));
        cuts.push_back(p);
      }
      size_t lo = 0;  // index into cuts of the longest fitting prefix found so far
      size_t hi = cuts.size();
      while (lo + 1 < hi) {
        size_t mid = (lo + hi) / 2;
        std::string_view piece = word.substr(0, cuts[mid]);
        if (fits_alone(piece, tokens_of(piece))) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      size_t len = cuts[lo];
      if (lo + 1 == cuts.size()) len = word.size();
      std::string_view piece = word.substr(0, len);
      units_.push_back({piece, sep, tokens_of(piece)});
      sep = "";
      word.remove_prefix(len);
    }
  }

  std::string join(size_t i, size_t j) const {
    size_t size = 0;
    for (size_t k = i; k < j; ++k) size += units_[k].text.size() + units_[k].sep.size();
    std::string s;
    s.reserve(size);
    for (size_t k = i; k < j; ++k) {
      if (k > i) s += units_[k].sep;
      s += units_[k].text;
    }
    return s;
  }

  const TokenCounter& count_;
  size_t n_special_;
  size_t max_tokens_;
  size_t budget_;
  size_t overlap_;
  const std::string& prefix_;
  std::vector<Unit> units_;
};

}  // namespace

Chunker::Chunker(TokenCounter count_tokens, ChunkerOptions options)
    : count_(std::move(count_tokens)), options_(options) {
  if (!count_) throw ConfigError("Chunker: no token counter given");
  n_special_ = count_("");
  if (options_.max_tokens <= n_special_ + 4) {
    throw ConfigError("chunk size " + std::to_string(options_.max_tokens) +
                      " tokens leaves no room for text (the model adds " +
                      std::to_string(n_special_) +
                      " special tokens); use --chunk-tokens 32 or more");
  }
  if (options_.overlap_tokens * 2 >= options_.max_tokens) {
    throw ConfigError("chunk overlap " + std::to_string(options_.overlap_tokens) +
                      " tokens must be less than half the chunk size " +
                      std::to_string(options_.max_tokens) + "; lower --overlap");
  }
}

std::vector<TextChunk> Chunker::chunk(const Document& document) const {
  std::vector<TextChunk> out;
  const size_t room = options_.max_tokens - n_special_;
  for (const DocumentSection& section : document.sections) {
    std::vector<std::string_view> path;
    if (!document.title.empty()) path.push_back(document.title);
    for (const auto& h : section.headings) {
      if (path.empty() || path.back() != h) path.push_back(h);
    }
    std::string heading;
    for (size_t k = 0; k < path.size(); ++k) {
      if (k > 0) heading += " > ";
      heading += path[k];
    }
    std::string prefix;
    size_t budget = room;
    if (options_.prefix_heading && !heading.empty()) {
      size_t n = count_(heading);
      size_t prefix_tokens = n > n_special_ ? n - n_special_ : 0;
      if (prefix_tokens * 2 <= room) {
        prefix = heading;
        budget = room - prefix_tokens;
      }
    }
    SectionChunker sc(count_, n_special_, options_.max_tokens, budget, options_.overlap_tokens,
                      prefix);
    sc.add_text(section.text);
    sc.pack(&out, heading, !prefix.empty());
  }
  for (size_t k = 0; k < out.size(); ++k) out[k].index = k;
  return out;
}

}  // namespace ragperf
