// ragperf/embedding_model.h defines what every embedding model offers (BERT encoders and static
// word-vector models alike) and how one is loaded from a name.
//
//   auto model = ragperf::load_embedding_model("/models/bge-small-en", settings);
//   ragperf::EmbeddingMatrix m = model->embed({"first text", "second"});
//   std::span<const float> v = m.row(0);   // model->dim() floats
//
// Thread-safety: embed() may be called concurrently from several threads; implementations
// serialise or parallelise internally. AsyncEmbedding (ragperf/async_embedding.h) adds batching
// across callers, futures and coroutines on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ragperf/error.h"

namespace ragperf {

struct Settings;

/// What embedding does with an input longer than the model's max_tokens(), the one rule of every
/// surface (HTTP, `ragperf embed`, Python): kRefuse (the default everywhere) throws
/// InputTooLongError; kRight keeps the first tokens (cuts the end, as sentence-transformers
/// does); kLeft keeps the last ones (cuts the start). Special tokens ([CLS]/[SEP]) always stay.
enum class Truncation { kRefuse, kRight, kLeft };

/// "refuse", "right", "left".
const char* to_string(Truncation truncation);

/// An input longer than the model takes, refused under Truncation::kRefuse. `tokens` counts the
/// input's tokens with the model's special tokens, as `limit` (max_tokens()) does.
class InputTooLongError : public InputError {
 public:
  InputTooLongError(size_t index, size_t tokens, size_t limit)
      : InputError("input " + std::to_string(index) + " has " + std::to_string(tokens) +
                   " tokens; the model takes at most " + std::to_string(limit) +
                   ": shorten it, split it, or ask for truncation"),
        index_(index),
        tokens_(tokens),
        limit_(limit) {}
  size_t index() const noexcept { return index_; }
  size_t tokens() const noexcept { return tokens_; }
  size_t limit() const noexcept { return limit_; }

 private:
  size_t index_;
  size_t tokens_;
  size_t limit_;
};

/// One input to embed: a text, or the token ids of a text in the model's vocabulary without its
/// special tokens (the ids WordPieceTokenizer::token_ids() gives; the model adds [CLS]/[SEP]).
using EmbedInput = std::variant<std::string, std::vector<int32_t>>;

/// One token of a text as the model reads it (TEI's /tokenize shape). `start`/`stop` are byte
/// offsets into the text of the word piece's source ([start, stop)); special tokens have none
/// (both 0, `special` true). A piece of a word whose normalised form has a different length
/// from its source (accents stripped, case folded to other bytes) is mapped per character, or,
/// when even the characters differ in number, given its whole word's span.
struct TextToken {
  int32_t id = 0;
  std::string text;  // the source bytes (special tokens: the token, e.g. "[CLS]")
  bool special = false;
  size_t start = 0;
  size_t stop = 0;
};

/// Row-major rows × dim floats.
struct EmbeddingMatrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<float> data;
  std::span<const float> row(size_t i) const { return {data.data() + i * dim, dim}; }
  std::span<float> row(size_t i) { return {data.data() + i * dim, dim}; }
};

class EmbeddingModel {
 public:
  virtual ~EmbeddingModel() = default;

  /// Output dimension.
  virtual size_t dim() const = 0;
  /// A stable identity for the weights (folder name or hub id plus a content fingerprint):
  /// stores and caches record it so that vectors from different models are never mixed.
  virtual std::string id() const = 0;
  /// Longest input in tokens; longer texts are truncated (as sentence-transformers does).
  virtual size_t max_tokens() const = 0;
  /// Tokens the model sees for `text` before truncation (for token-aware chunking).
  virtual size_t count_tokens(std::string_view text) const = 0;

  /// Embeds every text; `token_counts`, when given, receives the tokens used per text (after
  /// truncation). Throws InputError for invalid UTF-8, naming the text's index.
  virtual EmbeddingMatrix embed(std::span<const std::string> texts,
                                std::vector<size_t>* token_counts = nullptr) = 0;

  /// Whether its vectors come L2-normalised (sentence-transformers' Normalize module; static
  /// models always).
  virtual bool normalizes() const { return false; }

  /// Whether the model reads token ids (BERT: yes; static word-vector models: no, they take
  /// text only). The three calls below throw InputError on a model without them.
  virtual bool has_token_ids() const { return false; }
  /// Special tokens the model adds around a text's ids ([CLS] and [SEP]: 2).
  virtual size_t special_tokens() const { return 0; }
  /// Token ids are 0 .. vocab_size() - 1 (0 for a model without token ids).
  virtual size_t vocab_size() const { return 0; }
  /// The ids of `text` without special tokens or truncation. InputError for invalid UTF-8.
  virtual std::vector<int32_t> token_ids(std::string_view text) const;
  /// The tokens of `text` with their source offsets, untruncated; `add_special` puts the
  /// special tokens around them.
  virtual std::vector<TextToken> text_tokens(std::string_view text, bool add_special) const;
  /// Embeds id sequences (each as token_ids() gives them, 0 .. max_tokens() -
  /// special_tokens() ids): the special tokens are added. InputError naming the sequence for
  /// an empty or over-long one or an id outside the vocabulary.
  virtual EmbeddingMatrix embed_token_ids(const std::vector<std::vector<int32_t>>& ids);
};

/// What embed_inputs() reports per input and per stage.
struct EmbedDetails {
  std::vector<size_t> tokens;          // tokens each input was embedded with (specials included)
  std::vector<size_t> truncated_from;  // its tokens before truncation when it was cut, else 0
  double tokenize_s = 0;               // turning texts into ids and fitting them
  double inference_s = 0;              // the forward pass (pooling, normalising included)
  bool truncated() const {
    for (size_t n : truncated_from)
      if (n) return true;
    return false;
  }
};

/// Embeds `inputs` (texts or token ids) under `truncation`, the rule every surface shares.
/// Throws InputTooLongError for the first input over max_tokens() under kRefuse; InputError
/// naming the input for invalid UTF-8, empty token ids, ids outside the vocabulary, token ids
/// or kLeft on a model without token ids. `details`, when given, is filled.
EmbeddingMatrix embed_inputs(EmbeddingModel& model, std::span<const EmbedInput> inputs,
                             Truncation truncation, EmbedDetails* details = nullptr);

/// Loads a model from a folder path or a Hugging Face hub id (resolved through the HF cache
/// layout, downloaded from HF_ENDPOINT when missing). A folder holding a BERT model
/// (config.json + model.safetensors) gives the encoder; a static model folder (see
/// static_model.h) gives the word-vector model. Throws ModelError naming the file and the problem.
std::unique_ptr<EmbeddingModel> load_embedding_model(const std::string& name_or_path,
                                                     const Settings& settings);

/// What to tell a user whose table was made with the model `model_id` (an id() value, which is
/// not itself loadable): "--model X" with X the folder or hub name the id records, and the id.
std::string how_to_load(const std::string& model_id);

/// Which library computes the BERT encoder's products with weights, process-wide. kAuto (the
/// default): oneDNN when ragperf was built with it, else OpenBLAS; kOpenBlas / kOneDnn force one
/// (for measurements: `ragperf bench embed` compares them). Set it while no encoder is running.
enum class GemmBackend { kAuto, kOpenBlas, kOneDnn };
void set_gemm_backend(GemmBackend backend);
/// Whether this build has oneDNN (kOneDnn falls back to OpenBLAS without it).
bool have_onednn();

}  // namespace ragperf
