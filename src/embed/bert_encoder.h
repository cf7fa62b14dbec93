// embed/bert_encoder.h defines the BERT forward pass on packed sequences (no padding).
//
//   BertEncoder enc(config, safetensors);            // checks every tensor against config.json
//   std::vector<float> hidden;                       // [total tokens, hidden]
//   enc.forward({{101, 7592, 102}, {101, 102}}, hidden);
//
// Sequences are packed one after another: dense layers run on all tokens of the batch at once,
// attention runs per sequence and head over that sequence's own tokens only, so no padding is
// computed and the attention mask is exact. Dense weights are upcast once to F32, transposed to
// [in, out] and packed for the GEMM kernel (kernels::PackedMatrix); the embedding tables stay in
// the memory-mapped file.
// Thread-safety: forward() may be called from several threads (it serialises on the compute pool).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "embed/bert_config.h"
#include "embed/gemm.h"
#include "embed/safetensors.h"

namespace ragperf {
class Runtime;
}

namespace ragperf::embed {

class BertEncoder {
 public:
  BertEncoder(const BertConfig& config, std::shared_ptr<const SafetensorsFile> weights);

  const BertConfig& config() const { return config_; }

  /// Last hidden states of every token, sequences concatenated: [sum of lengths, hidden].
  /// Each sequence needs 1 <= length <= max_position_embeddings and ids < vocab_size.
  /// With `first_token_only` (CLS pooling), only each sequence's first token: [sequences, hidden];
  /// the last layer then runs attention queries, the output projection and the FFN for those rows
  /// only (the same numbers, about 9/12 of a layer's work saved per other token).
  /// `second_starts` (pairs, for cross-encoders): per sequence, the index from which its tokens
  /// have token type 1 (its length or more: none); empty: every token has type 0.
  void forward(const std::vector<std::vector<int32_t>>& sequences, std::vector<float>& hidden,
               bool first_token_only = false, const std::vector<size_t>& second_starts = {}) const;

  /// Multiply-adds ×2 of one forward pass over these lengths (for GFLOP/s figures).
  double flops(const std::vector<size_t>& lengths) const;

 private:
  struct Layer {
    kernels::PackedMatrix w_qkv;                // [H, 3H]
    kernels::PackedMatrix w_o;                  // [H, H]
    kernels::PackedMatrix w_i;                  // [H, I]
    kernels::PackedMatrix w_out;                // [I, H]
    std::vector<float> b_qkv, b_o, b_i, b_out;  // [3H], [H], [I], [H]
    std::vector<float> ln1_g, ln1_b;            // [H]
    std::vector<float> ln2_g, ln2_b;            // [H]
  };
  // The dense weights of each layer as row-major [in, out] (w_qkv, w_o, w_i, w_out), for the
  // library GEMM modes (measurements only): unpacked on the first forward() in such a mode.
  using RowMajorLayer = std::array<std::vector<float>, 4>;
  const std::vector<RowMajorLayer>& row_major_weights() const;

  BertConfig config_;
  std::shared_ptr<Runtime> runtime_;  // Runtime::shared(): its compute pool runs the loops
  std::shared_ptr<const SafetensorsFile> weights_;
  const TensorView* word_ = nullptr;
  const TensorView* position_ = nullptr;
  const TensorView* token_type_ = nullptr;
  std::vector<float> emb_ln_g_, emb_ln_b_;
  std::vector<Layer> layers_;
  mutable std::once_flag row_major_once_;
  mutable std::vector<RowMajorLayer> row_major_;
};

}  // namespace ragperf::embed
