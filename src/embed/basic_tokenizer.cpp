#include "basic_tokenizer.h"

#include <cstdio>

#include "ragperf/error.h"

namespace ragperf::embed {

namespace {

constexpr std::array<uint8_t, 128> make_ascii_classes() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    uint8_t k = 0;                  // word character
    if (c < 32 || c == 127) k = 1;  // control: dropped
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') k = 2;
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126)) {
      k = 3;  // BERT counts every ASCII non-alphanumeric printable as punctuation
    }
    t[static_cast<size_t>(c)] = k;
  }
  return t;
}

constexpr std::array<char, 128> make_ascii_lower() {
  std::array<char, 128> t{};
  for (int c = 0; c < 128; ++c) {
    t[static_cast<size_t>(c)] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  return t;
}

}  // namespace

const std::array<uint8_t, 128> BasicTokenizer::kAscii = make_ascii_classes();
const std::array<char, 128> BasicTokenizer::kAsciiLower = make_ascii_lower();

BasicTokenizer::BasicTokenizer(const TokenizerOptions& options)
    : options_(options), strip_accents_(options.strip_accents.value_or(options.lowercase)) {}

void throw_invalid_utf8(std::string_view text, size_t pos, size_t base) {
  std::string bytes;
  for (size_t k = pos; k < text.size() && k < pos + 4; ++k) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%s0x%02X", bytes.empty() ? "" : " ",
                  static_cast<unsigned>(static_cast<unsigned char>(text[k])));
    bytes += hex;
  }
  throw InputError("invalid UTF-8 at byte " + std::to_string(base + pos) + " (" + bytes +
                   "); the text must be UTF-8 encoded");
}

void validate_utf8(std::string_view text, size_t base) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    auto len = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(n - i), &cp);
    if (len <= 0) throw_invalid_utf8(text, i, base);
    i += static_cast<size_t>(len);
  }
}

}  // namespace ragperf::embed

namespace ragperf {

std::vector<std::string> basic_tokenize(std::string_view text, const TokenizerOptions& options) {
  embed::BasicTokenizer basic(options);
  std::vector<std::string> words;
  std::string scratch;
  basic.for_each_word(text, 0, scratch, [&](std::string_view word, size_t) {
    words.emplace_back(word);
    return true;
  });
  return words;
}

void basic_tokenize(std::string_view text, const TokenizerOptions& options,
                    const std::function<void(std::string_view word)>& on_word) {
  embed::BasicTokenizer basic(options);
  thread_local std::string scratch;
  basic.for_each_word(text, 0, scratch, [&](std::string_view word, size_t) {
    on_word(word);
    return true;
  });
}

}  // namespace ragperf
