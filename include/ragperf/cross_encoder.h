// ragperf/cross_encoder.h defines CrossEncoder: a reranker that scores (query, passage) pairs
// with a BERT sequence-classification checkpoint, as sentence-transformers' CrossEncoder.predict
// does.
//
//   auto ce =
//   ragperf::CrossEncoder::load(ragperf::resolve_model("cross-encoder/ms-marco-MiniLM-L-6-v2",
//                                                                settings));
//   std::vector<ragperf::PairScore> s = ce->score("what is a vacuum?", passages);  // one per
//   passage
//
// A model folder holds config.json (architectures BertForSequenceClassification, num_labels 1),
// model.safetensors (the BERT tensors, plain or under "bert.", then bert.pooler.dense.* and
// classifier.*) and the tokenizer files. A pair is encoded [CLS] query [SEP] passage [SEP] with
// token type 1 from the passage on and cut to max_length() by the `longest_first` rule
// (WordPieceTokenizer::encode_pair); then pooler = tanh(W_p h_[CLS] + b_p), logit = W_c pooler +
// b_c, and score = the activation config.json names (`sbert_ce_default_activation_function`, or
// sentence_transformers.activation_fn): sigmoid when it names none, identity for real rerankers
// such as ms-marco-MiniLM-L-6-v2 (then score == logit). The forward pass is the embedding
// models' own encoder (packed sequences, the Runtime's compute pool), on a batch of pairs at once.
//
// Errors: ModelError naming the file for a folder that is not such a checkpoint (another
// architecture, several labels, an unknown activation, a missing tensor); InputError naming the
// passage for invalid UTF-8. Thread-safety: immutable after load(); score() may be called from any
// number of threads (the compute pool serialises the passes).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ragperf/embedding_model.h"

namespace ragperf {

/// One pair's outcome: `score` is the activation of `logit` (equal to it for identity).
struct PairScore {
  float score = 0;
  float logit = 0;
};

class CrossEncoder {
 public:
  /// Loads a model folder (resolve a hub id first with resolve_model, ragperf/model_locator.h).
  static std::unique_ptr<CrossEncoder> load(const std::filesystem::path& folder);
  ~CrossEncoder();
  CrossEncoder(const CrossEncoder&) = delete;
  CrossEncoder& operator=(const CrossEncoder&) = delete;

  /// Scores `query` against each passage, in order; a pair longer than max_length() is cut by
  /// the `longest_first` rule.
  std::vector<PairScore> score(std::string_view query, std::span<const std::string> passages) const;
  /// The same under the truncation rule of ragperf/embedding_model.h: kRefuse throws
  /// InputTooLongError naming the first passage whose pair (specials included) is longer than
  /// max_length(); kRight and kLeft both cut by `longest_first` (a pair has no one direction).
  /// `truncated`, when given, receives per passage its pair's tokens before a cut, else 0.
  std::vector<PairScore> score(std::string_view query, std::span<const std::string> passages,
                               Truncation truncation,
                               std::vector<size_t>* truncated = nullptr) const;
  /// Scores each (query, passage) pair, in order.
  std::vector<PairScore> score_pairs(
      std::span<const std::pair<std::string, std::string>> pairs) const;

  /// "folder-name@fingerprint", like the embedding models' ids.
  const std::string& id() const;
  /// Tokens of one encoded pair, at most (specials included).
  size_t max_length() const;
  /// "sigmoid" or "identity".
  const char* activation() const;

 private:
  struct Impl;
  explicit CrossEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragperf
