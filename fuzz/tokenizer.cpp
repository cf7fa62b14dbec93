// fuzz/tokenizer.cpp: the WordPiece tokenizer (ragperf/tokenizer.h) on arbitrary bytes. The first
// byte picks the options (lower-casing, accent stripping, CJK splitting, the longest word), the
// rest is the text, or two texts split at the first NUL for the pair encoding. Invalid UTF-8
// must be an InputError; valid text must respect the documented lengths: count_tokens() is
// encode()'s length before truncation, and encode() / encode_pair() stay within max_length;
// token_spans() gives token_ids()' ids, each with an in-order span inside the text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"

namespace {

// A small vocabulary with BERT's special tokens, whole words, ## continuations, punctuation,
// accented, CJK and other non-ASCII entries, so that every WordPiece path is reachable.
std::vector<std::string> vocabulary() {
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const char* word :
       {"the", "a",      "hello", "world", "un",    "##aff", "##able", "##s",     "##ing",
        "run", "##ning", "café",  "cafe",  "naïve", "über",  "中",     "文",      "日本",
        "é",   "##é",    "ß",     "σ",     "##σ",   "ﬁ",     "😀",      "\xc2\xa0"}) {
    vocab.emplace_back(word);
  }
  for (char c = 'a'; c <= 'z'; ++c) {
    vocab.emplace_back(1, c);
    vocab.push_back(std::string("##") + c);
  }
  for (char c = '0'; c <= '9'; ++c) vocab.emplace_back(1, c);
  for (const char* p : {".", ",", "!", "?", "'", "\"", "-", "(", ")", "$", "#"})
    vocab.emplace_back(p);
  return vocab;
}

const ragperf::WordPieceTokenizer& tokenizer(uint8_t flags) {
  static const std::vector<ragperf::WordPieceTokenizer> all = [] {
    std::vector<ragperf::WordPieceTokenizer> out;
    for (unsigned f = 0; f < 16; ++f) {
      ragperf::TokenizerOptions o;
      o.lowercase = f & 1;
      if (f & 2) o.strip_accents = (f & 4) != 0;
      o.tokenize_chinese_chars = (f & 8) == 0;
      o.max_input_chars_per_word = (f & 4) ? 8 : 100;
      out.emplace_back(vocabulary(), o);
    }
    return out;
  }();
  return all[flags & 15];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ragperf::WordPieceTokenizer& tok = tokenizer(data[0]);
  const size_t max_length = 2 + (data[0] >> 4);  // 2..17: truncation is exercised
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const std::vector<int32_t> all = tok.encode(text, size_t{1} << 20);
    RAGPERF_FUZZ_CHECK(all.size() == tok.count_tokens(text));
    RAGPERF_FUZZ_CHECK(all.size() >= 2 && all.front() == tok.cls_id() &&
                       all.back() == tok.sep_id());
    const std::vector<int32_t> ids = tok.token_ids(text);
    RAGPERF_FUZZ_CHECK(ids.size() + 2 == all.size());
    RAGPERF_FUZZ_CHECK(tok.tokenize(text).size() == ids.size());
    for (int32_t id : ids) {
      RAGPERF_FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
    }
    // token_spans(): the same ids, each with a span inside the text, in order.
    const std::vector<ragperf::TokenSpan> spans = tok.token_spans(text);
    RAGPERF_FUZZ_CHECK(spans.size() == ids.size());
    size_t last_start = 0;
    for (size_t k = 0; k < spans.size(); ++k) {
      RAGPERF_FUZZ_CHECK(spans[k].id == ids[k]);
      RAGPERF_FUZZ_CHECK(spans[k].start <= spans[k].stop && spans[k].stop <= text.size());
      RAGPERF_FUZZ_CHECK(spans[k].start >= last_start || spans[k].start == 0);
      last_start = spans[k].start;
    }
    const std::vector<int32_t> cut = tok.encode(text, max_length);
    RAGPERF_FUZZ_CHECK(cut.size() == std::min(all.size(), max_length));
    RAGPERF_FUZZ_CHECK(cut.back() == tok.sep_id());
    (void)ragperf::basic_tokenize(text, tok.options());
  } catch (const ragperf::InputError&) {
    // Invalid UTF-8: the documented answer.
  }
  const size_t nul = text.find('\0');
  if (nul == std::string_view::npos) return 0;
  try {
    const ragperf::PairEncoding pair =
        tok.encode_pair(text.substr(0, nul), text.substr(nul + 1), max_length + 1);
    RAGPERF_FUZZ_CHECK(pair.ids.size() <= max_length + 1 && pair.ids.size() >= 3);
    RAGPERF_FUZZ_CHECK(pair.second_start > 1 && pair.second_start < pair.ids.size());
    RAGPERF_FUZZ_CHECK(pair.ids.front() == tok.cls_id() && pair.ids.back() == tok.sep_id());
  } catch (const ragperf::InputError&) {
  }
  return 0;
}
