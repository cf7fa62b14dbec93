#include "basic_tokenizer.h"

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
