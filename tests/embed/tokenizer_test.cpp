// WordPieceTokenizer and basic_tokenize on small hand-made vocabularies: BERT's normalisation
// (cleanup, CJK, accents, case, punctuation), WordPiece, special tokens, truncation, bad input and
// the folder formats (vocab.txt, tokenizer.json, tokenizer_config.json).
#include "ragperf/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

using Words = std::vector<std::string>;

Words basic(std::string_view text, TokenizerOptions options = {}) {
  return basic_tokenize(text, options);
}

// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then the rest in order.
std::vector<std::string> small_vocab() {
  return {"[PAD]", "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",",  "!", "un",
          "##aff", "##able", "a",     "##a",   "é",      "##é",   "e",     "東", "京"};
}

int32_t id_of(const std::vector<std::string>& vocab, const std::string& token) {
  auto it = std::find(vocab.begin(), vocab.end(), token);
  EXPECT_NE(it, vocab.end()) << token;
  return static_cast<int32_t>(it - vocab.begin());
}

std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string model_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(BasicTokenize, SplitsOnWhitespaceAndPunctuationAndLowerCases) {
  EXPECT_EQ(basic("Hello, World!"), (Words{"hello", ",", "world", "!"}));
  EXPECT_EQ(basic("  leading\tand\ntrailing\r\n "), (Words{"leading", "and", "trailing"}));
  EXPECT_EQ(basic(""), Words{});
  EXPECT_EQ(basic(" \t\n"), Words{});
}

TEST(BasicTokenize, CallbackFormGivesTheSameWords) {
  const std::string text = "Hello, W\u00F6rld! \u6771\u4EAC";
  Words seen;
  basic_tokenize(text, TokenizerOptions{}, [&](std::string_view w) { seen.emplace_back(w); });
  EXPECT_EQ(seen, basic(text));
  EXPECT_EQ(seen, (Words{"hello", ",", "world", "!", "\u6771", "\u4EAC"}));
  EXPECT_THROW(basic_tokenize("a\xFF", TokenizerOptions{}, [](std::string_view) {}), InputError);
}

TEST(BasicTokenize, EveryAsciiSymbolIsPunctuation) {
  // BERT counts all non-alphanumeric printable ASCII as punctuation, Unicode symbols or not.
  EXPECT_EQ(basic("a$b^c`d~e+f<g=h>i|j"), (Words{"a", "$", "b", "^", "c", "`", "d", "~", "e", "+",
                                                 "f", "<", "g", "=", "h", ">", "i", "|", "j"}));
  EXPECT_EQ(basic("cost=$0.02;k-NN"),
            (Words{"cost", "=", "$", "0", ".", "02", ";", "k", "-", "nn"}));
}

TEST(BasicTokenize, UnicodePunctuationSplitsButSymbolsDoNot) {
  EXPECT_EQ(basic("\u00BFQu\u00E9?"), (Words{"\u00BF", "que", "?"}));  // ¿Qué?
  EXPECT_EQ(basic("\u00ABhi\u00BB a\u2014b"),
            (Words{"\u00AB", "hi", "\u00BB", "a", "\u2014", "b"}));
  EXPECT_EQ(basic("a\u2211b \u00A9x"), (Words{"a\u2211b", "\u00A9x"}));  // ∑ (Sm), © (So) stay
}

TEST(BasicTokenize, CjkIdeographsStandAlone) {
  // 東京は日本の首都です: ideographs alone, kana joined to neighbours.
  EXPECT_EQ(basic("\u6771\u4EAC\u306F\u65E5\u672C\u306E\u9996\u90FD\u3067\u3059\u3002"),
            (Words{"\u6771", "\u4EAC", "\u306F", "\u65E5", "\u672C", "\u306E", "\u9996", "\u90FD",
                   "\u3066\u3059", "\u3002"}));  // で -> て: the voicing mark is an accent
  TokenizerOptions keep;
  keep.tokenize_chinese_chars = false;
  EXPECT_EQ(basic("ab\u6771\u4EACcd", keep), (Words{"ab\u6771\u4EACcd"}));
  // A CJK compatibility ideograph decomposes (NFD) to its unified form and still stands alone.
  EXPECT_EQ(basic("x\uF900y"), (Words{"x", "\u8C48", "y"}));
}

TEST(BasicTokenize, AccentsFollowStripAccentsAndLowercase) {
  const std::string text = "Caf\u00E9 Na\u00EFve";
  TokenizerOptions unset;  // lowercase, strip_accents unset: strips (BERT's rule)
  EXPECT_EQ(basic(text, unset), (Words{"cafe", "naive"}));

  TokenizerOptions keep_accents;
  keep_accents.strip_accents = false;
  EXPECT_EQ(basic(text, keep_accents), (Words{"caf\u00E9", "na\u00EFve"}));

  TokenizerOptions cased_strip;
  cased_strip.lowercase = false;
  cased_strip.strip_accents = true;
  EXPECT_EQ(basic(text, cased_strip), (Words{"Cafe", "Naive"}));

  TokenizerOptions cased;  // cased, unset: no stripping
  cased.lowercase = false;
  EXPECT_EQ(basic(text, cased), (Words{"Caf\u00E9", "Na\u00EFve"}));

  // Already decomposed input: the combining mark is dropped or kept inside the word.
  EXPECT_EQ(basic("e\u0301t\u00C9", unset), (Words{"ete"}));
  EXPECT_EQ(basic("e\u0301", keep_accents), (Words{"e\u0301"}));
  // Upper-case accented letters, a dash and an em dash from the reference texts.
  EXPECT_EQ(basic("\u00C0\u00C9\u00CE\u00D5\u00DC \u2014 fa\u00E7ade"),
            (Words{"aeiou", "\u2014", "facade"}));
}

TEST(BasicTokenize, CapitalIWithDotLowerCasesLikePython) {
  TokenizerOptions keep_accents;
  keep_accents.strip_accents = false;
  EXPECT_EQ(basic("\u0130stanbul", keep_accents), (Words{"i\u0307stanbul"}));
  EXPECT_EQ(basic("\u0130stanbul"), (Words{"istanbul"}));
}

TEST(BasicTokenize, ControlFormatAndPrivateUseCharactersAreRemoved) {
  std::string text =
      std::string("a\x01") + "b" + std::string(1, '\0') + "c\u200Bd\uFFFDe\uE000f\x7F";
  EXPECT_EQ(basic(text), (Words{"abcdef"}));
  // Unicode whitespace separates words.
  EXPECT_EQ(basic("a\u00A0b\u3000c\u2028d\u2003e"), (Words{"a", "b", "c", "d", "e"}));
  // Vertical tab and form feed are controls (removed), not separators, as in BertNormalizer.
  EXPECT_EQ(basic("a\x0B"
                  "b\x0C"
                  "c"),
            (Words{"abc"}));
  // Unassigned code points are kept (the fast tokenizer keeps them; WordPiece makes them [UNK]).
  EXPECT_EQ(basic("a\u0378b"), (Words{"a\u0378b"}));
}

TEST(BasicTokenize, InvalidUtf8ThrowsWithTheByteOffset) {
  for (const std::string& bad :
       {std::string("ab\xFF"), std::string("ab\xC3"), std::string("ab\xC0\xAF"),
        std::string("ab\xED\xA0\x80"), std::string("ab\xF4\x90\x80\x80")}) {
    std::string err = input_error([&] { basic(bad); });
    EXPECT_NE(err.find("invalid UTF-8 at byte 2"), std::string::npos) << err;
  }
}

class WordPiece : public ::testing::Test {
 protected:
  std::vector<std::string> vocab = small_vocab();
  WordPieceTokenizer tok{small_vocab(), TokenizerOptions{}};
  int32_t id(const std::string& t) { return id_of(vocab, t); }
};

TEST_F(WordPiece, GreedyLongestMatchFirst) {
  EXPECT_EQ(tok.tokenize("unaffable"), (Words{"un", "##aff", "##able"}));
  EXPECT_EQ(tok.encode("Hello, unaffable world!", 512),
            (std::vector<int32_t>{2, id("hello"), id(","), id("un"), id("##aff"), id("##able"),
                                  id("world"), id("!"), 3}));
  // One missing piece makes the whole word [UNK].
  EXPECT_EQ(tok.tokenize("unaffablex hello"), (Words{"[UNK]", "hello"}));
  EXPECT_EQ(tok.tokenize("\u0378"), (Words{"[UNK]"}));
}

TEST_F(WordPiece, WordsOver100CharactersBecomeUnk) {
  EXPECT_EQ(tok.tokenize(std::string(100, 'a')).size(), 100U);
  EXPECT_EQ(tok.tokenize(std::string(101, 'a')), (Words{"[UNK]"}));
  // Characters, not bytes: 100 two-byte characters are still one word of pieces.
  TokenizerOptions keep_accents;
  keep_accents.strip_accents = false;
  WordPieceTokenizer accented(small_vocab(), keep_accents);
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "\u00E9";
  EXPECT_EQ(accented.tokenize(hundred).size(), 100U);
  EXPECT_EQ(accented.tokenize(hundred + "\u00E9"), (Words{"[UNK]"}));
  // The limit is an option.
  TokenizerOptions short_words;
  short_words.max_input_chars_per_word = 3;
  WordPieceTokenizer limited(small_vocab(), short_words);
  EXPECT_EQ(limited.tokenize("aaa aaaa"), (Words{"a", "##a", "##a", "[UNK]"}));
}

TEST_F(WordPiece, SpecialIdsAndVocabulary) {
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.cls_id(), 2);
  EXPECT_EQ(tok.sep_id(), 3);
  EXPECT_EQ(tok.vocab_size(), vocab.size());
  EXPECT_TRUE(tok.options().lowercase);
  EXPECT_EQ(tok.encode("", 512), (std::vector<int32_t>{2, 3}));
}

TEST_F(WordPiece, SpecialTokensInTheTextKeepTheirIds) {
  EXPECT_EQ(tok.encode("hello[SEP]world [MASK]", 512),
            (std::vector<int32_t>{2, id("hello"), 3, id("world"), 4, 3}));
  // Matched on the raw text: a lower-cased "[sep]" is ordinary punctuation and a word.
  EXPECT_EQ(tok.tokenize("[sep]"), (Words{"[UNK]", "[UNK]", "[UNK]"}));
}

TEST_F(WordPiece, TruncatesToMaxLengthIncludingClsAndSep) {
  const std::string text = "hello world hello world hello";
  EXPECT_EQ(tok.encode(text, 512).size(), 7U);
  EXPECT_EQ(tok.encode(text, 5),
            (std::vector<int32_t>{2, id("hello"), id("world"), id("hello"), 3}));
  EXPECT_EQ(tok.encode(text, 3), (std::vector<int32_t>{2, id("hello"), 3}));
  EXPECT_EQ(tok.encode(text, 2), (std::vector<int32_t>{2, 3}));
  // Truncation may cut a word between its pieces, as Hugging Face does.
  EXPECT_EQ(tok.encode("unaffable", 4), (std::vector<int32_t>{2, id("un"), id("##aff"), 3}));
  // A special token past the limit is not added.
  EXPECT_EQ(tok.encode("hello [SEP] world", 3), (std::vector<int32_t>{2, id("hello"), 3}));
  EXPECT_EQ(tok.count_tokens(text), 7U);
  EXPECT_NE(input_error([&] { tok.encode(text, 1); }).find("at least 2"), std::string::npos);
}

TEST_F(WordPiece, InvalidUtf8IsAnErrorEvenPastTheTruncationPoint) {
  std::string text = "hello world hello \xFF";
  std::string err = input_error([&] { tok.encode(text, 3); });
  EXPECT_NE(err.find("invalid UTF-8 at byte 18"), std::string::npos) << err;
  EXPECT_NE(input_error([&] { tok.encode(text, 2); }).find("byte 18"), std::string::npos);
  EXPECT_NE(input_error([&] { tok.count_tokens("[SEP]\xC3"); }).find("byte 5"), std::string::npos);
  EXPECT_NE(input_error([&] { tok.tokenize("\xE2\x82"); }).find("byte 0"), std::string::npos);
}

TEST_F(WordPiece, ConcurrentEncodeGivesTheSameIds) {
  const std::string text = "Hello, unaffable world! \u6771\u4EAC caf\u00E9";
  const auto expected = tok.encode(text, 512);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (tok.encode(text, 512) != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(WordPiece, RandomInputIsTokenisedOrRejectedNeverMangled) {
  // Pieces that exercise every branch: ASCII, accents, combining marks, CJK, controls, special
  // token fragments, and invalid bytes.
  const std::vector<std::string> parts = {
      "hello", " ",     "a",    "##",   "\u00E9", "e\u0301",   "\u6771", "\u4EAC",
      "!",     "[SEP]", "[SE",  "\t",   "\u200B", "\x01",      "\u0130", "\uFFFD",
      "un",    "aff",   "\xFF", "\xC3", "\u2014", "\U0001F642"};
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    bool invalid = false;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const std::string& part = parts[rng() % parts.size()];
      invalid = invalid || part == "\xFF" || part == "\xC3";
      text += part;
    }
    std::vector<int32_t> full;
    try {
      full = tok.encode(text, 100000);
    } catch (const InputError&) {
      EXPECT_TRUE(invalid) << text;
      continue;
    }
    EXPECT_FALSE(invalid) << text;
    ASSERT_GE(full.size(), 2U);
    EXPECT_EQ(full.front(), tok.cls_id());
    EXPECT_EQ(full.back(), tok.sep_id());
    for (int32_t id : full) EXPECT_LT(static_cast<size_t>(id), tok.vocab_size());
    EXPECT_EQ(tok.count_tokens(text), full.size());
    EXPECT_EQ(tok.tokenize(text).size(), full.size() - 2);
    // Truncation keeps a prefix.
    const size_t k = 2 + rng() % 8;
    auto cut = tok.encode(text, k);
    std::vector<int32_t> expected(full.begin(),
                                  full.begin() + static_cast<long>(std::min(k, full.size()) - 1));
    expected.push_back(tok.sep_id());
    EXPECT_EQ(cut, expected) << text;
  }
}

TEST(WordPieceVocabulary, MissingSpecialTokenIsAModelError) {
  std::string err = model_error([] { WordPieceTokenizer({"[CLS]", "[SEP]", "hello"}, {}); });
  EXPECT_NE(err.find("[UNK]"), std::string::npos) << err;
}

// ---- model folders ----

void write_vocab_txt(const std::filesystem::path& dir, const std::vector<std::string>& vocab,
                     const std::string& eol = "\n") {
  std::string s;
  for (const auto& t : vocab) s += t + eol;
  testing::write_file(dir / "vocab.txt", s);
}

std::string tokenizer_json(const std::vector<std::string>& vocab, const std::string& prefix = "##",
                           int max_chars = 100) {
  nlohmann::json v = nlohmann::json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  nlohmann::json j = {{"added_tokens", nlohmann::json::array({{{"id", 0}, {"content", "[PAD]"}},
                                                              {{"id", 2}, {"content", "[CLS]"}},
                                                              {{"id", 3}, {"content", "[SEP]"}}})},
                      {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
                      {"model",
                       {{"type", "WordPiece"},
                        {"unk_token", "[UNK]"},
                        {"continuing_subword_prefix", prefix},
                        {"max_input_chars_per_word", max_chars},
                        {"vocab", v}}}};
  return j.dump();
}

TEST(TokenizerFolder, ReadsVocabTxtWithAnyLineEnding) {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    testing::TempDir dir;
    write_vocab_txt(dir.path(), small_vocab(), eol);
    auto tok = WordPieceTokenizer::from_folder(dir.path());
    EXPECT_EQ(tok.vocab_size(), small_vocab().size());
    EXPECT_EQ(tok.tokenize("Hello unaffable"), (Words{"hello", "un", "##aff", "##able"}));
  }
}

TEST(TokenizerFolder, ReadsTokenizerJsonVocabulary) {
  testing::TempDir dir;
  // Ids deliberately not in file order.
  std::vector<std::string> vocab = small_vocab();
  std::swap(vocab[5], vocab[6]);  // world=5, hello=6
  testing::write_file(dir / "tokenizer.json", tokenizer_json(vocab));
  auto tok = WordPieceTokenizer::from_folder(dir.path());
  EXPECT_EQ(tok.encode("hello world", 16), (std::vector<int32_t>{2, 6, 5, 3}));
  EXPECT_EQ(tok.vocab_size(), vocab.size());
}

TEST(TokenizerFolder, TokenizerJsonSettingsAreRead) {
  testing::TempDir dir;
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "@@aff", "@@able"};
  testing::write_file(dir / "tokenizer.json", tokenizer_json(vocab, "@@", 5));
  auto tok = WordPieceTokenizer::from_folder(dir.path());
  EXPECT_EQ(tok.tokenize("unaff unaffable"), (Words{"un", "@@aff", "[UNK]"}));
  EXPECT_EQ(tok.options().max_input_chars_per_word, 5U);
}

TEST(TokenizerFolder, TokenizerConfigSetsCaseAccentsAndSpecialTokens) {
  testing::TempDir dir;
  write_vocab_txt(dir.path(), {"<pad>", "<unk>", "<s>", "</s>", "Caf", "##é", "Café"});
  testing::write_file(dir / "tokenizer_config.json",
                      R"({"do_lower_case": false, "strip_accents": false,
                          "tokenize_chinese_chars": false,
                          "cls_token": "<s>", "sep_token": "</s>",
                          "pad_token": {"content": "<pad>", "__type": "AddedToken"},
                          "unk_token": "<unk>", "model_max_length": 64})");
  auto tok = WordPieceTokenizer::from_folder(dir.path());
  EXPECT_FALSE(tok.options().lowercase);
  EXPECT_EQ(tok.options().strip_accents, std::optional<bool>(false));
  EXPECT_FALSE(tok.options().tokenize_chinese_chars);
  EXPECT_EQ(tok.cls_id(), 2);
  EXPECT_EQ(tok.sep_id(), 3);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.encode("Café café", 16), (std::vector<int32_t>{2, 6, 1, 3}));
}

TEST(TokenizerFolder, SentenceTransformersLowerCaseFlagLowerCasesTheInput) {
  testing::TempDir dir;
  write_vocab_txt(dir.path(), small_vocab());
  testing::write_file(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  auto cased = WordPieceTokenizer::from_folder(dir.path());
  EXPECT_EQ(cased.tokenize("Hello [SEP]"), (Words{"[UNK]", "[SEP]"}));
  testing::write_file(dir / "sentence_bert_config.json",
                      R"({"max_seq_length": 128, "do_lower_case": true})");
  auto lowered = WordPieceTokenizer::from_folder(dir.path());
  EXPECT_EQ(lowered.tokenize("Hello [SEP]"), (Words{"hello", "[UNK]", "[UNK]", "[UNK]"}));
}

TEST(TokenizerFolder, BadFoldersNameTheFile) {
  testing::TempDir dir;
  EXPECT_NE(
      model_error([&] { WordPieceTokenizer::from_folder(dir / "missing"); }).find("does not exist"),
      std::string::npos);
  std::string err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("neither vocab.txt nor tokenizer.json"), std::string::npos) << err;

  testing::write_file(dir / "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", ");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("tokenizer.json is not valid JSON"), std::string::npos) << err;

  testing::write_file(dir / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}}})");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("\"BPE\""), std::string::npos) << err;

  testing::write_file(dir / "tokenizer.json",
                      R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 0}}})");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("share id 0"), std::string::npos) << err;

  testing::write_file(dir / "tokenizer.json",
                      R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": "x"}}})");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("not a valid token id"), std::string::npos) << err;

  std::filesystem::remove(dir / "tokenizer.json");
  write_vocab_txt(dir.path(), {"[CLS]", "[SEP]", "hello"});
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("vocab.txt"), std::string::npos) << err;
  EXPECT_NE(err.find("[UNK]"), std::string::npos) << err;

  testing::write_file(dir / "vocab.txt", "");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("vocab.txt is empty"), std::string::npos) << err;

  testing::write_file(dir / "vocab.txt", "[UNK]\n[CLS]\n[SEP]\n\xFF\n");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("invalid UTF-8"), std::string::npos) << err;

  write_vocab_txt(dir.path(), small_vocab());
  testing::write_file(dir / "tokenizer_config.json", R"({"do_lower_case": "yes"})");
  err = model_error([&] { WordPieceTokenizer::from_folder(dir.path()); });
  EXPECT_NE(err.find("tokenizer_config.json: field \"do_lower_case\""), std::string::npos) << err;
}

TEST(MaxSequenceLength, FollowsSentenceTransformers) {
  testing::TempDir dir;
  EXPECT_EQ(max_sequence_length(dir.path()), 512U);
  testing::write_file(dir / "config.json", R"({"max_position_embeddings": 1024})");
  EXPECT_EQ(max_sequence_length(dir.path()), 1024U);
  testing::write_file(dir / "tokenizer_config.json", R"({"model_max_length": 300})");
  EXPECT_EQ(max_sequence_length(dir.path()), 300U);
  testing::write_file(dir / "tokenizer_config.json",
                      R"({"model_max_length": 1000000000000000019884624838656})");
  EXPECT_EQ(max_sequence_length(dir.path()), 1024U);
  testing::write_file(dir / "sentence_bert_config.json", R"({"max_seq_length": 128})");
  EXPECT_EQ(max_sequence_length(dir.path()), 128U);
  testing::write_file(dir / "sentence_bert_config.json", R"({"max_seq_length": -3})");
  EXPECT_NE(model_error([&] {
              max_sequence_length(dir.path());
            }).find("sentence_bert_config.json: \"max_seq_length\" must be a positive integer"),
            std::string::npos);
  testing::write_file(dir / "sentence_bert_config.json", "{");
  EXPECT_NE(model_error([&] { max_sequence_length(dir.path()); }).find("not valid JSON"),
            std::string::npos);
}

// encode_pair's `longest_first` cut (Hugging Face tokenizers' rule), with "a" as one token each.
TEST(WordPieceTokenizerPairs, LongestFirstCutsTheLongerSideAndSplitsWhenBothAreLong) {
  const auto vocab = small_vocab();
  WordPieceTokenizer tok(vocab, TokenizerOptions{});
  const int32_t a = id_of(vocab, "a");
  const int32_t hello = id_of(vocab, "hello");
  auto words = [](const char* w, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += std::string(i ? " " : "") + w;
    return s;
  };
  auto sides = [&](const PairEncoding& p) {
    // Lengths of the first and second text without the specials.
    EXPECT_EQ(p.ids.front(), 2);
    EXPECT_EQ(p.ids[p.second_start - 1], 3);
    EXPECT_EQ(p.ids.back(), 3);
    return std::pair<size_t, size_t>(p.second_start - 2, p.ids.size() - p.second_start - 1);
  };
  // Fits: nothing is cut; type 1 starts after the first [SEP].
  const PairEncoding fit = tok.encode_pair("a a", "hello", 16);
  EXPECT_EQ(fit.ids, (std::vector<int32_t>{2, a, a, 3, hello, 3}));
  EXPECT_EQ(fit.second_start, 4u);
  // Room 7 (10 - 3 specials). The shorter side (3) fits in half: the longer gets the other 4.
  EXPECT_EQ(sides(tok.encode_pair(words("a", 10), words("hello", 3), 10)),
            std::make_pair(4ul, 3ul));
  EXPECT_EQ(sides(tok.encode_pair(words("a", 3), words("hello", 10), 10)),
            std::make_pair(3ul, 4ul));
  // Both longer than half of room 6: three each.
  EXPECT_EQ(sides(tok.encode_pair(words("a", 10), words("hello", 12), 9)),
            std::make_pair(3ul, 3ul));
  // Odd room 7, both long: the longer side gets the extra token.
  EXPECT_EQ(sides(tok.encode_pair(words("a", 12), words("hello", 10), 10)),
            std::make_pair(4ul, 3ul));
  EXPECT_EQ(sides(tok.encode_pair(words("a", 10), words("hello", 12), 10)),
            std::make_pair(3ul, 4ul));
  EXPECT_EQ(sides(tok.encode_pair(words("a", 10), words("hello", 10), 10)),
            std::make_pair(3ul, 4ul));
  // Empty texts keep their separators.
  EXPECT_EQ(tok.encode_pair("", "", 3).ids, (std::vector<int32_t>{2, 3, 3}));
  EXPECT_NE(input_error([&] { tok.encode_pair("a", "b", 2); }).find("max_length 2"),
            std::string::npos);
  EXPECT_NE(input_error([&] { tok.encode_pair("a", "\xFF", 8); }).find("second text"),
            std::string::npos);
}

}  // namespace
}  // namespace ragperf
