// ragperf/tokenizer.h defines BERT's WordPiece tokenizer as Hugging Face's BertTokenizer runs it.
//
//   auto tok = ragperf::WordPieceTokenizer::from_folder("models/bge-small-en");
//   std::vector<int32_t> ids = tok.encode("Hello, world!", 512);  // [CLS] hello , world ! [SEP]
//   PairEncoding pair = tok.encode_pair("query", "passage", 512);  // for cross-encoders
//
// Normalisation (control-character cleanup, CJK splitting, lower-casing and accent stripping as
// tokenizer_config.json says, punctuation splitting) uses utf8proc for Unicode properties and
// follows the fast (Rust) tokenizer that sentence-transformers runs where it differs from
// Python's BertTokenizer. Words longer than 100 characters become [UNK]. Special-token strings in
// the text ("[SEP]", "[MASK]" ...) keep their ids, as in Hugging Face. Thread-safety: a
// constructed tokenizer is immutable; encode() may be called from any number of threads.
// Cost: linear in the text's length; encode() allocates only its id vector (timings in
// README.md's Performance section).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf {

struct TokenizerOptions {
  bool lowercase = true;                  // tokenizer_config.json do_lower_case
  std::optional<bool> strip_accents;      // unset: follows `lowercase` (BERT's rule)
  bool tokenize_chinese_chars = true;     // split CJK ideographs into single tokens
  size_t max_input_chars_per_word = 100;  // longer words become [UNK]
};

/// BERT's "basic" pre-tokenisation: clean, split CJK, lower-case/strip accents, split on
/// whitespace and punctuation. Throws InputError on invalid UTF-8. Static word-vector models
/// use it too.
std::vector<std::string> basic_tokenize(std::string_view text, const TokenizerOptions& options);

/// The same words handed to `on_word` one at a time, without building strings (faster for
/// per-word lookups). `word` is valid only during the call. Throws InputError on invalid UTF-8.
void basic_tokenize(std::string_view text, const TokenizerOptions& options,
                    const std::function<void(std::string_view word)>& on_word);

/// A text pair as BERT cross-encoders read it: [CLS] first [SEP] second [SEP].
struct PairEncoding {
  std::vector<int32_t> ids;
  /// Index of the second text's first id: token type 0 before it, 1 from it on (its [SEP]
  /// included).
  size_t second_start = 0;
};

/// One id of token_spans(): the bytes [start, stop) of the text it was read from. `added` marks
/// a special token written in the text itself ("[SEP]").
struct TokenSpan {
  int32_t id = 0;
  size_t start = 0;
  size_t stop = 0;
  bool added = false;
};

class WordPieceTokenizer {
 public:
  /// Reads vocab.txt (or tokenizer.json's WordPiece vocab) and tokenizer_config.json from a
  /// model folder. Throws ModelError naming the file when one is missing or malformed.
  static WordPieceTokenizer from_folder(const std::filesystem::path& folder);

  WordPieceTokenizer(std::vector<std::string> vocab, TokenizerOptions options);
  ~WordPieceTokenizer();
  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;

  /// Token ids with [CLS] ... [SEP], truncated so the total is at most `max_length`
  /// (>= 2). Throws InputError on invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text, size_t max_length) const;

  /// [CLS] first [SEP] second [SEP], at most `max_length` (>= 3) ids. Longer pairs are cut as
  /// Hugging Face's fast tokenizers cut them with truncation="longest_first": the shorter text
  /// keeps its tokens when they fit in half the room, the longer one gets the rest; when both
  /// are longer than that, each keeps about half (the second the extra one of an odd budget
  /// unless the first is the longer). Throws InputError on invalid UTF-8, naming the text.
  PairEncoding encode_pair(std::string_view first, std::string_view second,
                           size_t max_length) const;
  /// encode_pair() on texts already turned into token_ids(): one query against many passages
  /// is tokenised once.
  PairEncoding encode_pair_ids(std::span<const int32_t> first, std::span<const int32_t> second,
                               size_t max_length) const;
  /// The WordPiece ids of `text` without special tokens or truncation. Throws InputError on
  /// invalid UTF-8.
  std::vector<int32_t> token_ids(std::string_view text) const;

  /// token_ids() with the source bytes of each id (TEI's /tokenize). A piece of a word whose
  /// normalised form has another byte length than its source is mapped per character when the
  /// character counts agree, else given its whole word's span; so is every id when
  /// sentence_bert_config.json's do_lower_case changed the text's length. Throws InputError on
  /// invalid UTF-8.
  std::vector<TokenSpan> token_spans(std::string_view text) const;

  /// The token string of an id ("[CLS]", "##ing"); "" outside the vocabulary.
  const std::string& id_to_token(int32_t id) const;

  /// The WordPiece strings without special tokens or truncation (for debugging and chunking).
  std::vector<std::string> tokenize(std::string_view text) const;

  /// Number of tokens encode() would produce before truncation (including [CLS]/[SEP]).
  size_t count_tokens(std::string_view text) const;

  int32_t cls_id() const;
  int32_t sep_id() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  size_t vocab_size() const;
  const TokenizerOptions& options() const;

 private:
  WordPieceTokenizer();  // empty, for from_folder
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Longest input in tokens (including [CLS]/[SEP]) that sentence-transformers feeds the model in
/// `folder`: sentence_bert_config.json `max_seq_length`, else the smaller of tokenizer_config.json
/// `model_max_length` and config.json `max_position_embeddings`, else 512. Throws ModelError
/// naming the file when one of them is present but malformed.
size_t max_sequence_length(const std::filesystem::path& folder);

}  // namespace ragperf
