// embed/basic_tokenizer.h defines BERT's "basic" pre-tokenisation as Hugging Face's fast
// BertNormalizer + BertPreTokenizer run it, as one pass over the UTF-8 text that hands each word
// to a callback without allocating per character.
//
//   BasicTokenizer basic(options);
//   std::string scratch;
//   basic.for_each_word(text, 0, scratch, [](std::string_view word, size_t n_chars) {
//     ...;           // "hello", ",", "world" ...
//     return true;   // false stops early (truncation)
//   });
//
// Steps per character, in the order the fast tokenizer applies them: drop NUL, U+FFFD and
// control, format and private-use characters; whitespace separates words; CJK ideographs become
// words of their own; strip accents (NFD, drop Mn) and lower-case as the options say; punctuation
// (ASCII punctuation or Unicode P*) becomes a word of its own. Unicode properties come from
// utf8proc. Invalid UTF-8 throws InputError naming the byte offset. Thread-safety: immutable after
// construction.
#pragma once

#include <utf8proc.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/utf8.h"
#include "ragperf/tokenizer.h"

namespace ragperf::embed {

/// U+0130 lower-cases to two code points (i + U+0307) in Rust's and Python's full mapping.
inline constexpr int32_t kCapitalIWithDot = 0x130;

class BasicTokenizer {
 public:
  explicit BasicTokenizer(const TokenizerOptions& options);

  const TokenizerOptions& options() const { return options_; }
  bool strip_accents() const { return strip_accents_; }

  /// Calls on_word(std::string_view word, size_t n_chars) -> bool for each word of `text` in
  /// order; stops when it returns false and then returns the byte offset where it stopped (the
  /// rest is not validated), else text.size(). `scratch` is reused as the word buffer. `base` is
  /// the offset of `text` inside the caller's text, for error messages.
  /// An `on_word` that also takes (size_t source_begin, size_t source_end) receives the bytes of
  /// `text` the word was made from, [source_begin, source_end) (offsets from the start of
  /// `text`); the two-argument form costs nothing for them.
  template <class OnWord>
  size_t for_each_word(std::string_view text, size_t base, std::string& scratch,
                       OnWord&& on_word) const;

 private:
  enum CharClass : uint8_t { kWordChar, kSkip, kSpace, kPunct };

  // The fast tokenizer's ranges (BertNormalizer): note 0x2B920, where Python's slow
  // BertTokenizer says 0x2B820.
  static bool is_cjk(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }
  static bool is_punct(int32_t cp) {
    if (cp < 128) return kAscii[static_cast<size_t>(cp)] == kPunct;
    auto c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
  }
  /// Class of a raw (not yet normalised) non-ASCII code point.
  static CharClass raw_class(int32_t cp) {
    if (cp == 0xFFFD) return kSkip;
    switch (utf8proc_category(cp)) {
      // Cc, Cf and Co only: the fast tokenizer keeps unassigned code points (Cn), which then
      // become [UNK] (Python's slow BertTokenizer drops them; sentence-transformers runs the
      // fast one).
      case UTF8PROC_CATEGORY_CC:
      case UTF8PROC_CATEGORY_CF:
      case UTF8PROC_CATEGORY_CO:
        return kSkip;
      case UTF8PROC_CATEGORY_ZS:
      case UTF8PROC_CATEGORY_ZL:
      case UTF8PROC_CATEGORY_ZP:
        return kSpace;
      default:
        return kWordChar;
    }
  }
  static void append_utf8(std::string& out, int32_t cp) {
    utf8proc_uint8_t buf[4];
    auto n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }

  static const std::array<uint8_t, 128> kAscii;
  static const std::array<char, 128> kAsciiLower;

  TokenizerOptions options_;
  bool strip_accents_ = true;
};

template <class OnWord>
size_t BasicTokenizer::for_each_word(std::string_view text, size_t base, std::string& word,
                                     OnWord&& on_word) const {
  constexpr bool kSpans = std::is_invocable_v<OnWord&, std::string_view, size_t, size_t, size_t>;
  word.clear();
  size_t n_chars = 0;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const size_t n = text.size();
  const bool lower = options_.lowercase;
  const bool cjk = options_.tokenize_chinese_chars;
  size_t i = 0;
  // With kSpans: the source bytes of the word under construction, and of the character being
  // normalised (put() appends what it became).
  size_t word_begin = 0;
  size_t word_end = 0;
  size_t char_begin = 0;

  // Emits the word under construction; false when the callback asked to stop.
  auto flush = [&]() -> bool {
    if (word.empty()) return true;
    bool go_on = false;
    if constexpr (kSpans) {
      go_on = on_word(std::string_view(word), n_chars, word_begin, word_end);
    } else {
      go_on = on_word(std::string_view(word), n_chars);
    }
    word.clear();
    n_chars = 0;
    return go_on;
  };
  // A normalised character: punctuation stands alone, anything else extends the word.
  auto put = [&](int32_t cp) -> bool {
    if (is_punct(cp)) {
      if (!flush()) return false;
      if constexpr (kSpans) word_begin = char_begin;
      append_utf8(word, cp);
      if constexpr (kSpans) word_end = i;
      n_chars = 1;
      return flush();
    }
    if constexpr (kSpans) {
      if (word.empty()) word_begin = char_begin;
    }
    append_utf8(word, cp);
    if constexpr (kSpans) word_end = i;
    ++n_chars;
    return true;
  };

  while (i < n) {
    const size_t at = i;
    const utf8proc_uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      switch (kAscii[b]) {
        case kWordChar:
          if constexpr (kSpans) {
            if (word.empty()) word_begin = at;
            word_end = i;
          }
          word.push_back(lower ? kAsciiLower[b] : static_cast<char>(b));
          ++n_chars;
          continue;
        case kSpace:
          if (!flush()) return at;
          continue;
        case kPunct:
          if (!flush()) return at;
          if constexpr (kSpans) {
            word_begin = at;
            word_end = i;
          }
          word.push_back(static_cast<char>(b));
          n_chars = 1;
          if (!flush()) return at;
          continue;
        default:  // kSkip: NUL and control characters
          continue;
      }
    }
    utf8proc_int32_t cp = 0;
    auto len = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(n - i), &cp);
    if (len <= 0) ragperf::base::throw_invalid_utf8(text, i, base);
    i += static_cast<size_t>(len);
    switch (raw_class(cp)) {
      case kSkip:
        continue;
      case kSpace:
        if (!flush()) return at;
        continue;
      default:
        break;
    }
    if constexpr (kSpans) char_begin = at;
    const bool alone = cjk && is_cjk(cp);
    if (alone && !flush()) return at;
    bool go_on = true;
    if (strip_accents_) {
      utf8proc_int32_t parts[16];
      int last_boundclass = 0;
      auto n_parts = utf8proc_decompose_char(cp, parts, 16, UTF8PROC_DECOMPOSE, &last_boundclass);
      if (n_parts <= 0 || n_parts > 16) {  // cannot happen for a valid code point
        parts[0] = cp;
        n_parts = 1;
      }
      for (utf8proc_ssize_t k = 0; k < n_parts && go_on; ++k) {
        int32_t d = parts[k];
        if (utf8proc_category(d) == UTF8PROC_CATEGORY_MN) continue;
        go_on = put(lower ? utf8proc_tolower(d) : d);
      }
    } else if (lower && cp == kCapitalIWithDot) {
      go_on = put('i') && put(0x307);
    } else {
      go_on = put(lower ? utf8proc_tolower(cp) : cp);
    }
    if (!go_on || (alone && !flush())) return at;
  }
  flush();
  return n;
}

}  // namespace ragperf::embed
