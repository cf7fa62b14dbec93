// embed/bert_model.h defines the BERT EmbeddingModel: tokenizer + encoder + pooling + normalise,
// exactly as sentence-transformers runs a model folder.
//
//   auto model = BertModel::load("models/bge-small-en");   // ModelError naming the bad file
//   EmbeddingMatrix m = model->embed(texts);
//
// Batches are packed without padding (see bert_encoder.h) and split into forward passes of at
// most kMaxBatchTokens tokens, longest texts grouped together. Thread-safety: embed() may be
// called concurrently; the compute pool serialises the passes.
#pragma once

#include <filesystem>
#include <memory>

#include "embed/bert_config.h"
#include "embed/bert_encoder.h"
#include "ragperf/embedding_model.h"
#include "ragperf/tokenizer.h"

namespace ragperf::embed {

/// "folder-name@hash": a model's id, from its folder's name and a hash of its tensor table and a
/// sample of its weights (ingested tables remember it; a changed model gets another id).
std::string model_fingerprint(const std::filesystem::path& folder, const SafetensorsFile& weights);

class BertModel final : public EmbeddingModel {
 public:
  static std::unique_ptr<BertModel> load(const std::filesystem::path& folder);

  BertModel(BertConfig config, WordPieceTokenizer tokenizer,
            std::shared_ptr<const SafetensorsFile> weights, std::string id);

  size_t dim() const override { return config_.hidden_size; }
  std::string id() const override { return id_; }
  size_t max_tokens() const override { return config_.max_seq_length; }
  size_t count_tokens(std::string_view text) const override;
  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts = nullptr) override;
  bool normalizes() const override { return config_.normalize; }
  bool has_token_ids() const override { return true; }
  size_t special_tokens() const override { return 2; }
  size_t vocab_size() const override { return config_.vocab_size; }
  std::vector<int32_t> token_ids(std::string_view text) const override;
  std::vector<TextToken> text_tokens(std::string_view text, bool add_special) const override;
  EmbeddingMatrix embed_token_ids(const std::vector<std::vector<int32_t>>& ids) override;

  /// Token ids as the encoder sees them (with [CLS]/[SEP], truncated).
  std::vector<int32_t> encode(std::string_view text) const;
  /// Embeds already tokenised sequences (each 1..max_tokens() ids).
  EmbeddingMatrix embed_ids(const std::vector<std::vector<int32_t>>& ids) const;

  const BertConfig& config() const { return config_; }
  const BertEncoder& encoder() const { return encoder_; }

  /// Tokens per forward pass, at most (longer batches are split).
  static constexpr size_t kMaxBatchTokens = 16384;

 private:
  BertConfig config_;
  WordPieceTokenizer tokenizer_;
  BertEncoder encoder_;
  std::string id_;
};

}  // namespace ragperf::embed
