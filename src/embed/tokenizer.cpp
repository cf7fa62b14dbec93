// WordPiece on top of the basic tokenizer (basic_tokenizer.h), with the vocabulary in a flat
// open-addressing hash table so that a short query costs a few lookups and no per-word allocation.
#include "ragperf/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "base/utf8.h"
#include "basic_tokenizer.h"
#include "embed/json_file.h"
#include "embed/model_file.h"
#include "ragperf/error.h"

namespace ragperf {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline uint64_t hash_bytes(const char* s, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x100000001B3ULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, s, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    s += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, s, n);
    h = (h ^ w) * 0x94d049bb133111ebULL;
  }
  return mix64(h);
}

/// string -> id, open addressing with linear probing; keys live in one arena.
class VocabTable {
 public:
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    size_t total = 0;
    for (const auto& e : entries) total += e.first.size();
    arena_.clear();
    arena_.reserve(total);
    max_key_len_ = 0;
    for (const auto& [key, id] : entries) {
      uint64_t h = hash_bytes(key.data(), key.size());
      size_t i = h & mask_;
      while (slots_[i].id >= 0) {
        if (slots_[i].hash == h && view(slots_[i]) == key) break;
        i = (i + 1) & mask_;
      }
      if (slots_[i].id < 0) {
        slots_[i].hash = h;
        slots_[i].offset = static_cast<uint32_t>(arena_.size());
        slots_[i].length = static_cast<uint32_t>(key.size());
        arena_.append(key);
      }
      slots_[i].id = id;  // a duplicate token keeps its last id, as Python's dict does
      max_key_len_ = std::max(max_key_len_, key.size());
    }
  }

  /// The id of `key`, or -1.
  int32_t find(std::string_view key) const {
    uint64_t h = hash_bytes(key.data(), key.size());
    size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.length == key.size() &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return s.id;
      }
      i = (i + 1) & mask_;
    }
  }

  size_t max_key_len() const { return max_key_len_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    int32_t id = -1;
  };
  std::string_view view(const Slot& s) const { return {arena_.data() + s.offset, s.length}; }

  std::vector<Slot> slots_;
  std::string arena_;
  uint64_t mask_ = 0;
  size_t max_key_len_ = 0;
};

inline bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

struct SpecialTokens {
  std::string cls = "[CLS]";
  std::string sep = "[SEP]";
  std::string pad = "[PAD]";
  std::string unk = "[UNK]";
  std::string mask = "[MASK]";
};

/// A special token given as "text" or as {"content": "text", ...} (AddedToken).
std::optional<std::string> token_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

void read_special_tokens(const json& j, SpecialTokens& s) {
  if (!j.is_object()) return;
  if (auto v = token_string(j, "cls_token")) s.cls = *v;
  if (auto v = token_string(j, "sep_token")) s.sep = *v;
  if (auto v = token_string(j, "pad_token")) s.pad = *v;
  if (auto v = token_string(j, "unk_token")) s.unk = *v;
  if (auto v = token_string(j, "mask_token")) s.mask = *v;
}

template <class T>
std::optional<T> optional_field(const json& j, const char* key, const fs::path& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw ModelError(file.string() + ": field \"" + key + "\" has the wrong type (" + it->dump() +
                     "); fix or re-download the file");
  }
}

std::vector<std::string> read_vocab_txt(const fs::path& path) {
  embed::require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ModelError("cannot read " + path.string() + ": " + std::strerror(errno) +
                     "; check the model folder's files and permissions");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::vector<std::string> vocab;
  vocab.reserve(32000);
  // Python's universal newlines: "\n", "\r\n" and "\r" all end a line.
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find_first_of("\r\n", start);
    if (end == std::string::npos) end = data.size();
    vocab.emplace_back(data, start, end - start);
    if (end < data.size() && data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') {
      ++end;
    }
    start = end + 1;
  }
  if (vocab.empty()) {
    throw ModelError(path.string() + " is empty; re-download the model folder");
  }
  try {
    base::check_utf8(data);
  } catch (const InputError& e) {
    throw ModelError(path.string() + ": " + e.what());
  }
  return vocab;
}

/// What ragperf needs from tokenizer.json, read with a SAX handler: the 30k-entry vocabulary
/// goes straight into a vector instead of a JSON tree (several times faster to load).
struct TokenizerJson {
  std::string type;                                    // model.type
  std::vector<std::pair<std::string, int64_t>> vocab;  // model.vocab
  std::optional<std::string> unk_token;                // model.unk_token
  std::optional<std::string> prefix;                   // model.continuing_subword_prefix
  std::optional<int64_t> max_chars;                    // model.max_input_chars_per_word
  std::vector<std::string> added;                      // added_tokens[*].content
  std::string bad_entry;                               // first malformed field, if any
};

class TokenizerJsonSax : public nlohmann::json_sax<json> {
 public:
  explicit TokenizerJsonSax(TokenizerJson& out) : out_(out) { out_.vocab.reserve(32768); }

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t v) override { return integer(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return integer(v > static_cast<number_unsigned_t>(std::numeric_limits<int64_t>::max())
                       ? -1
                       : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t& v) override {
    if (in_model_field()) {
      const std::string& key = frames_[1].key;
      if (key == "type") out_.type = v;
      if (key == "unk_token") out_.unk_token = v;
      if (key == "continuing_subword_prefix") out_.prefix = v;
    } else if (in_added_token_field() && frames_[2].key == "content") {
      out_.added.push_back(v);
    }
    return scalar();
  }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override {
    note_wrong_vocab_value();
    frames_.push_back({true, {}});
    return true;
  }
  bool key(string_t& k) override {
    frames_.back().key = k;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    note_wrong_vocab_value();
    frames_.push_back({false, {}});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = e.what();
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool is_object;
    std::string key;
  };

  bool at_root_key(const char* key) const {
    return frames_.size() >= 2 && frames_[0].is_object && frames_[0].key == key;
  }
  bool in_model_field() const {
    return frames_.size() == 2 && at_root_key("model") && frames_[1].is_object;
  }
  bool in_vocab() const {
    return frames_.size() == 3 && at_root_key("model") && frames_[1].key == "vocab" &&
           frames_[2].is_object;
  }
  bool in_added_token_field() const {
    return frames_.size() == 3 && at_root_key("added_tokens") && !frames_[1].is_object &&
           frames_[2].is_object;
  }
  void note_wrong_vocab_value() {
    if (in_vocab() && out_.bad_entry.empty()) {
      out_.bad_entry = "model.vocab[\"" + frames_[2].key + "\"] is not a valid token id";
    }
  }
  bool integer(int64_t v) {
    if (in_vocab()) {
      out_.vocab.emplace_back(frames_[2].key, v);
    } else if (in_model_field() && frames_[1].key == "max_input_chars_per_word") {
      out_.max_chars = v;
    }
    return true;
  }
  bool scalar() {
    note_wrong_vocab_value();
    return true;
  }

  TokenizerJson& out_;
  std::vector<Frame> frames_;
  std::string error_;
};

TokenizerJson read_tokenizer_json(const fs::path& path) {
  embed::require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ModelError("cannot read " + path.string() + ": " + std::strerror(errno) +
                     "; check the model folder's files and permissions");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  TokenizerJson out;
  TokenizerJsonSax sax(out);
  if (!json::sax_parse(text, &sax)) {
    throw ModelError(path.string() + " is not valid JSON (" + sax.error() +
                     "); re-download the model folder");
  }
  return out;
}

}  // namespace

struct WordPieceTokenizer::Impl {
  std::vector<std::string> vocab;  // id -> token
  VocabTable words;                // tokens that start a word
  VocabTable pieces;               // continuation tokens, prefix removed
  std::string prefix = "##";
  TokenizerOptions options;
  embed::BasicTokenizer basic{TokenizerOptions{}};
  int32_t cls = -1, sep = -1, pad = 0, unk = -1;
  std::vector<std::pair<std::string, int32_t>> added;  // matched in raw text, longest first
  std::array<bool, 256> added_first{};
  bool lowercase_input = false;  // sentence_bert_config.json do_lower_case

  void init(std::vector<std::string> v, const TokenizerOptions& opts, const SpecialTokens& special,
            std::string continuing_prefix, const std::vector<std::string>& extra_added) {
    vocab = std::move(v);
    options = opts;
    basic = embed::BasicTokenizer(opts);
    prefix = std::move(continuing_prefix);
    if (vocab.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      throw ModelError("vocabulary too large (" + std::to_string(vocab.size()) + " tokens)");
    }
    std::vector<std::pair<std::string_view, int32_t>> all, cont;
    all.reserve(vocab.size());
    for (size_t id = 0; id < vocab.size(); ++id) {
      const std::string& t = vocab[id];
      if (t.empty()) continue;
      all.emplace_back(t, static_cast<int32_t>(id));
      if (!prefix.empty() && t.size() > prefix.size() && t.compare(0, prefix.size(), prefix) == 0) {
        cont.emplace_back(std::string_view(t).substr(prefix.size()), static_cast<int32_t>(id));
      }
    }
    words.build(all);
    pieces.build(cont);

    auto require = [&](const std::string& token, const char* role) {
      int32_t id = words.find(token);
      if (id < 0) {
        throw ModelError("the vocabulary has no " + std::string(role) + " token \"" + token +
                         "\"; the tokenizer files do not describe a BERT WordPiece tokenizer");
      }
      return id;
    };
    cls = require(special.cls, "CLS");
    sep = require(special.sep, "SEP");
    unk = require(special.unk, "UNK");
    pad = std::max<int32_t>(0, words.find(special.pad));

    added.clear();
    added_first.fill(false);
    auto add = [&](const std::string& token) {
      int32_t id = words.find(token);
      if (token.empty() || id < 0) return;
      for (const auto& a : added) {
        if (a.first == token) return;
      }
      added.emplace_back(token, id);
      added_first[static_cast<unsigned char>(token[0])] = true;
    };
    for (const std::string* t :
         {&special.pad, &special.unk, &special.cls, &special.sep, &special.mask}) {
      add(*t);
    }
    for (const auto& t : extra_added) add(t);
    std::stable_sort(added.begin(), added.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }

  /// Next occurrence of an added (special) token at or after `from`: {position, index}.
  std::pair<size_t, size_t> find_added(std::string_view text, size_t from) const {
    if (added.empty()) return {text.size(), 0};
    for (size_t i = from; i < text.size(); ++i) {
      if (!added_first[static_cast<unsigned char>(text[i])]) continue;
      for (size_t k = 0; k < added.size(); ++k) {
        if (text.compare(i, added[k].first.size(), added[k].first) == 0) return {i, k};
      }
    }
    return {text.size(), 0};
  }

  /// The greedy longest-match-first split of one normalised word into `out` (and, when given,
  /// each piece's byte range in `w` into `ranges`); false when the word is one [UNK] (too long,
  /// or a piece is missing). The one WordPiece loop of both tokenising paths.
  bool split_word(std::string_view w, size_t n_chars, std::vector<int32_t>& out,
                  std::vector<std::pair<size_t, size_t>>* ranges) const {
    out.clear();
    if (ranges) ranges->clear();
    if (n_chars > options.max_input_chars_per_word) return false;
    const size_t len = w.size();
    size_t start = 0;
    while (start < len) {
      const VocabTable& table = start == 0 ? words : pieces;
      size_t end = std::min(len, start + table.max_key_len());
      while (end > start && end < len && is_continuation_byte(w[end])) --end;
      int32_t id = -1;
      while (end > start) {
        id = table.find(w.substr(start, end - start));
        if (id >= 0) break;
        do {
          --end;
        } while (end > start && is_continuation_byte(w[end]));
      }
      if (id < 0) return false;
      out.push_back(id);
      if (ranges) ranges->emplace_back(start, end);
      start = end;
    }
    return true;
  }

  /// WordPiece of one normalised word: its pieces, or [UNK], through emit. Returns false when
  /// `emit` asked to stop.
  template <class Emit>
  bool word_piece(std::string_view w, size_t n_chars, std::vector<int32_t>& out, Emit& emit) const {
    if (!split_word(w, n_chars, out, nullptr)) return emit(unk);
    for (int32_t id : out) {
      if (!emit(id)) return false;
    }
    return true;
  }

  /// Calls emit(id) -> bool for every token of `text` (no [CLS]/[SEP]); stops when it returns
  /// false. The whole text is validated as UTF-8 either way.
  template <class Emit>
  void run(std::string_view text, Emit&& emit) const {
    std::string lowered;
    if (lowercase_input) {
      lowered = lower_case(text);
      text = lowered;
    }
    // Per-thread word buffers: a short query allocates nothing but its id vector.
    thread_local std::string scratch;
    thread_local std::vector<int32_t> buf;
    bool stopped = false;
    auto checked_emit = [&](int32_t id) {
      stopped = !emit(id);
      return !stopped;
    };
    auto on_word = [&](std::string_view w, size_t n_chars) {
      return word_piece(w, n_chars, buf, checked_emit);
    };
    size_t pos = 0;
    while (pos < text.size()) {
      auto [match, index] = find_added(text, pos);
      std::string_view segment = text.substr(pos, match - pos);
      size_t stop = basic.for_each_word(segment, pos, scratch, on_word);
      if (!stopped && match < text.size()) checked_emit(added[index].second);
      if (stopped) {
        size_t rest = pos + stop;
        base::check_utf8(text.substr(rest), rest);
        return;
      }
      if (match == text.size()) break;
      pos = match + added[index].first.size();
    }
  }

  /// run() with each id's source bytes: spans[k] for the k-th id.
  void run_spans(std::string_view source, std::vector<TokenSpan>& spans) const {
    std::string lowered;
    std::string_view text = source;
    if (lowercase_input) {
      lowered = lower_case(text);
      text = lowered;
    }
    const bool whole = text.size() != source.size();  // offsets no longer line up
    std::string scratch;
    std::vector<int32_t> ids;
    std::vector<std::pair<size_t, size_t>> ranges;  // byte ranges in the normalised word
    size_t pos = 0;
    auto on_word = [&](std::string_view w, size_t n_chars, size_t begin, size_t end) {
      begin += pos;
      end += pos;
      if (whole) {
        begin = 0;
        end = source.size();
      }
      if (!split_word(w, n_chars, ids, &ranges)) {
        spans.push_back({unk, begin, end, false});
        return true;
      }
      const std::string_view src = text.substr(begin, end - begin);
      const bool same_bytes = !whole && src.size() == w.size();
      std::vector<size_t> w_chars, s_chars;  // byte offset of each character
      if (!whole && !same_bytes) {
        w_chars = char_starts(w);
        s_chars = char_starts(src);
      }
      const bool per_char = !whole && !same_bytes && w_chars.size() == s_chars.size();
      for (size_t k = 0; k < ids.size(); ++k) {
        size_t a = begin;
        size_t b = end;
        if (same_bytes) {
          a = begin + ranges[k].first;
          b = begin + ranges[k].second;
        } else if (per_char) {
          const auto first = std::lower_bound(w_chars.begin(), w_chars.end(), ranges[k].first);
          const auto last = std::lower_bound(w_chars.begin(), w_chars.end(), ranges[k].second);
          const size_t ca = static_cast<size_t>(first - w_chars.begin());
          const size_t cb = static_cast<size_t>(last - w_chars.begin());
          a = begin + s_chars[ca];
          b = cb < s_chars.size() ? begin + s_chars[cb] : end;
        }
        spans.push_back({ids[k], a, b, false});
      }
      return true;
    };
    while (pos < text.size()) {
      auto [match, index] = find_added(text, pos);
      std::string_view segment = text.substr(pos, match - pos);
      basic.for_each_word(segment, pos, scratch, on_word);
      if (match == text.size()) break;
      const size_t len = added[index].first.size();
      spans.push_back(
          {added[index].second, whole ? 0 : match, whole ? source.size() : match + len, true});
      pos = match + len;
    }
  }

  /// Byte offsets of the UTF-8 characters of `s` (valid UTF-8).
  static std::vector<size_t> char_starts(std::string_view s) {
    std::vector<size_t> out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!is_continuation_byte(s[i])) out.push_back(i);
    }
    return out;
  }

  /// Python's str.lower() as sentence-transformers applies it when do_lower_case is set.
  static std::string lower_case(std::string_view text) {
    base::check_utf8(text);
    std::string out;
    out.reserve(text.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    size_t i = 0;
    while (i < text.size()) {
      utf8proc_int32_t cp = 0;
      auto len = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
      i += static_cast<size_t>(len);
      if (cp == embed::kCapitalIWithDot) {
        out += "i\xCC\x87";
        continue;
      }
      utf8proc_uint8_t enc[4];
      auto n = utf8proc_encode_char(utf8proc_tolower(cp), enc);
      out.append(reinterpret_cast<const char*>(enc), static_cast<size_t>(n));
    }
    return out;
  }
};

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, TokenizerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->init(std::move(vocab), options, SpecialTokens{}, "##", {});
}

WordPieceTokenizer::WordPieceTokenizer() : impl_(std::make_unique<Impl>()) {}
WordPieceTokenizer::~WordPieceTokenizer() = default;
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;

WordPieceTokenizer WordPieceTokenizer::from_folder(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw ModelError("model folder " + folder.string() +
                     " does not exist; set EMBED_MODEL (or --model) to a folder holding "
                     "vocab.txt or tokenizer.json");
  }
  // BertTokenizer(Fast)'s defaults, overridden by tokenizer_config.json (which also wins over
  // tokenizer.json's normalizer, as BertTokenizerFast.__init__ does).
  TokenizerOptions options;
  SpecialTokens special;
  std::vector<std::string> extra_added;

  const fs::path special_map = folder / "special_tokens_map.json";
  if (fs::exists(special_map)) read_special_tokens(embed::read_json_file(special_map), special);

  const fs::path config_file = folder / "tokenizer_config.json";
  if (fs::exists(config_file)) {
    json config = embed::read_json_file(config_file);
    if (!config.is_object()) {
      throw ModelError(config_file.string() + " is not a JSON object; re-download the model");
    }
    read_special_tokens(config, special);
    if (auto v = optional_field<bool>(config, "do_lower_case", config_file)) options.lowercase = *v;
    options.strip_accents = optional_field<bool>(config, "strip_accents", config_file);
    if (auto v = optional_field<bool>(config, "tokenize_chinese_chars", config_file)) {
      options.tokenize_chinese_chars = *v;
    }
    if (auto it = config.find("added_tokens_decoder"); it != config.end() && it->is_object()) {
      for (const auto& [id, token] : it->items()) {
        if (token.is_object() && token.contains("content") && token["content"].is_string()) {
          extra_added.push_back(token["content"].get<std::string>());
        }
      }
    }
  }

  std::vector<std::string> vocab;
  std::string prefix = "##";
  const fs::path tokenizer_json = folder / "tokenizer.json";
  const fs::path vocab_txt = folder / "vocab.txt";
  bool have_vocab = false;
  if (fs::exists(tokenizer_json)) {
    TokenizerJson tj = read_tokenizer_json(tokenizer_json);
    if (tj.type == "WordPiece") {
      auto fail = [&](const std::string& what) {
        throw ModelError(tokenizer_json.string() + ": " + what + "; re-download the model folder");
      };
      if (!tj.bad_entry.empty()) fail(tj.bad_entry);
      if (tj.vocab.empty()) fail("model.vocab is missing or empty");
      size_t n = 0;
      for (const auto& [token, id] : tj.vocab) {
        if (id < 0 || id >= static_cast<int64_t>(tj.vocab.size()) * 4 + 1024) {
          fail("model.vocab[\"" + token + "\"] = " + std::to_string(id) +
               " is not a valid token id");
        }
        n = std::max(n, static_cast<size_t>(id) + 1);
      }
      vocab.assign(n, std::string());
      for (auto& [token, id] : tj.vocab) {
        auto& slot = vocab[static_cast<size_t>(id)];
        if (!slot.empty()) {
          fail("tokens \"" + slot + "\" and \"" + token + "\" share id " + std::to_string(id));
        }
        slot = std::move(token);
      }
      if (tj.unk_token) special.unk = *tj.unk_token;
      if (tj.prefix) prefix = *tj.prefix;
      if (tj.max_chars) {
        if (*tj.max_chars <= 0) {
          fail("model.max_input_chars_per_word must be positive, got " +
               std::to_string(*tj.max_chars));
        }
        options.max_input_chars_per_word = static_cast<size_t>(*tj.max_chars);
      }
      for (auto& t : tj.added) extra_added.push_back(std::move(t));
      have_vocab = true;
    } else if (!fs::exists(vocab_txt)) {
      throw ModelError(tokenizer_json.string() + " describes a \"" + tj.type +
                       "\" model; ragperf reads WordPiece (BERT-family) tokenizers only");
    }
  }
  if (!have_vocab) {
    if (!fs::exists(vocab_txt)) {
      throw ModelError("model folder " + folder.string() +
                       " has neither vocab.txt nor tokenizer.json; copy the tokenizer files "
                       "from the model's Hugging Face repository");
    }
    vocab = read_vocab_txt(vocab_txt);
  }

  WordPieceTokenizer tok;
  const fs::path vocab_file = have_vocab ? tokenizer_json : vocab_txt;
  try {
    tok.impl_->init(std::move(vocab), options, special, prefix, extra_added);
  } catch (const ModelError& e) {
    throw ModelError(vocab_file.string() + ": " + e.what());
  }

  const fs::path st_config = folder / "sentence_bert_config.json";
  if (fs::exists(st_config)) {
    json st = embed::read_json_file(st_config);
    if (st.is_object()) {
      tok.impl_->lowercase_input =
          optional_field<bool>(st, "do_lower_case", st_config).value_or(false);
    }
  }
  return tok;
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, size_t max_length) const {
  if (max_length < 2) {
    throw InputError("max_length " + std::to_string(max_length) +
                     " leaves no room for [CLS] and [SEP]; use at least 2");
  }
  std::vector<int32_t> ids;
  ids.reserve(std::min(max_length, text.size() / 2 + 8));
  ids.push_back(impl_->cls);
  const size_t budget = max_length - 1;  // ids before [SEP]
  if (budget > 1) {
    impl_->run(text, [&](int32_t id) {
      ids.push_back(id);
      return ids.size() < budget;
    });
  } else {
    base::check_utf8(text);
  }
  ids.push_back(impl_->sep);
  return ids;
}

std::vector<int32_t> WordPieceTokenizer::token_ids(std::string_view text) const {
  std::vector<int32_t> ids;
  impl_->run(text, [&](int32_t id) {
    ids.push_back(id);
    return true;
  });
  return ids;
}

PairEncoding WordPieceTokenizer::encode_pair(std::string_view first, std::string_view second,
                                             size_t max_length) const {
  auto ids_of = [&](std::string_view text, const char* which) {
    try {
      return token_ids(text);
    } catch (const InputError& e) {
      throw InputError(std::string(which) + ": " + e.what());
    }
  };
  const std::vector<int32_t> a = ids_of(first, "first text");
  return encode_pair_ids(a, ids_of(second, "second text"), max_length);
}

PairEncoding WordPieceTokenizer::encode_pair_ids(std::span<const int32_t> first,
                                                 std::span<const int32_t> second,
                                                 size_t max_length) const {
  if (max_length < 3) {
    throw InputError("max_length " + std::to_string(max_length) +
                     " leaves no room for [CLS] and two [SEP]; use at least 3");
  }
  // The `longest_first` split of Hugging Face's tokenizers (Rust): n1 is the shorter side.
  const size_t room = max_length - 3;
  size_t keep_first = first.size();
  size_t keep_second = second.size();
  if (first.size() + second.size() > room) {
    size_t n1 = first.size();
    size_t n2 = second.size();
    const bool swapped = n1 > n2;
    if (swapped) std::swap(n1, n2);
    n2 = n1 > room ? n1 : std::max(n1, room - n1);
    if (n1 + n2 > room) {
      n1 = room / 2;
      n2 = n1 + room % 2;
    }
    if (swapped) std::swap(n1, n2);
    keep_first = std::min(keep_first, n1);
    keep_second = std::min(keep_second, n2);
  }
  PairEncoding out;
  out.ids.reserve(keep_first + keep_second + 3);
  out.ids.push_back(impl_->cls);
  out.ids.insert(out.ids.end(), first.begin(), first.begin() + static_cast<long>(keep_first));
  out.ids.push_back(impl_->sep);
  out.second_start = out.ids.size();
  out.ids.insert(out.ids.end(), second.begin(), second.begin() + static_cast<long>(keep_second));
  out.ids.push_back(impl_->sep);
  return out;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  impl_->run(text, [&](int32_t id) {
    out.push_back(impl_->vocab[static_cast<size_t>(id)]);
    return true;
  });
  return out;
}

std::vector<TokenSpan> WordPieceTokenizer::token_spans(std::string_view text) const {
  base::check_utf8(text);
  std::vector<TokenSpan> out;
  impl_->run_spans(text, out);
  return out;
}

const std::string& WordPieceTokenizer::id_to_token(int32_t id) const {
  static const std::string kNone;
  if (id < 0 || static_cast<size_t>(id) >= impl_->vocab.size()) return kNone;
  return impl_->vocab[static_cast<size_t>(id)];
}

size_t WordPieceTokenizer::count_tokens(std::string_view text) const {
  size_t n = 2;
  impl_->run(text, [&](int32_t) {
    ++n;
    return true;
  });
  return n;
}

int32_t WordPieceTokenizer::cls_id() const {
  return impl_->cls;
}
int32_t WordPieceTokenizer::sep_id() const {
  return impl_->sep;
}
int32_t WordPieceTokenizer::pad_id() const {
  return impl_->pad;
}
int32_t WordPieceTokenizer::unk_id() const {
  return impl_->unk;
}
size_t WordPieceTokenizer::vocab_size() const {
  return impl_->vocab.size();
}
const TokenizerOptions& WordPieceTokenizer::options() const {
  return impl_->options;
}

}  // namespace ragperf
