// bench/random_bert.h writes a random-weight BERT model folder of a chosen shape, in the Hugging
// Face + sentence-transformers layout ragperf loads (config.json, model.safetensors F32, vocab and
// tokenizer config, modules.json, 1_Pooling/config.json, sentence_bert_config.json). Benchmarks
// use it to time a model of a real model's shape where the real weights cannot be downloaded:
// the cost of a forward pass depends on the shape, not on the values.
//
//   auto shape = ragperf::bench::BertShape::bge_small_en();   // 12 x 384, 12 heads, FFN 1536
//   ragperf::bench::write_random_bert(dir, shape);            // vocab from the shared fixtures
//   auto model = ragperf::load_embedding_model(dir.string(), settings);
//
// The vocabulary (vocab.txt, tokenizer_config.json, special_tokens_map.json) is copied from
// `tokenizer_folder` (default: $RAGPERF_SHARED_DIR, else /work/shared, /models/
// all-MiniLM-L6-v2-tokenizer-only: the bert-base-uncased WordPiece vocabulary that bge-small-en
// and all-MiniLM-L6-v2 share); without one, a synthetic vocabulary of `vocab` entries is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace ragperf::bench {

struct BertShape {
  size_t layers = 12;           // num_hidden_layers
  size_t hidden = 384;          // hidden_size
  size_t heads = 12;            // num_attention_heads (must divide hidden)
  size_t ffn = 1536;            // intermediate_size
  size_t max_positions = 512;   // max_position_embeddings
  size_t max_seq = 512;         // sentence_bert_config max_seq_length (<= max_positions)
  size_t vocab = 30522;         // vocab_size when no tokenizer folder is found
  std::string pooling = "cls";  // "cls", "mean" or "max" (1_Pooling/config.json)
  bool normalize = true;        // a Normalize module in modules.json (L2-normalised output)
  uint64_t seed = 42;           // same seed and shape: the same bytes
  /// A cross-encoder instead (BertForSequenceClassification, one label, identity activation,
  /// pooler + classifier tensors, no sentence-transformers pooling files), for rerank timings.
  bool cross_encoder = false;

  /// BAAI/bge-small-en(-v1.5): 12 layers, hidden 384, 12 heads, FFN 1536, 512 tokens, CLS
  /// pooling, normalised. The guide's default EMBED_MODEL.
  static BertShape bge_small_en();
  /// sentence-transformers/all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536, 256
  /// tokens, mean pooling, normalised.
  static BertShape all_minilm_l6_v2();
  /// cross-encoder/ms-marco-MiniLM-L-6-v2: all-MiniLM-L6-v2's encoder, 512 tokens, a one-label
  /// classification head with the identity activation.
  static BertShape ms_marco_minilm_l6_v2();

  /// "12 layers, hidden 384, 12 heads, FFN 1536, cls pooling, normalized" for notes.
  std::string describe() const;
  /// Weights in the folder (embeddings included).
  size_t parameters(size_t vocab_size) const;
};

/// $RAGPERF_SHARED_DIR/models/all-MiniLM-L6-v2-tokenizer-only (else under /work/shared).
std::filesystem::path default_tokenizer_folder();

/// Writes the folder (created if missing; files in it are overwritten). Throws InputError for an
/// impossible shape (zero sizes, heads not dividing hidden, unknown pooling, max_seq above
/// max_positions) or when a file cannot be written, naming it.
void write_random_bert(const std::filesystem::path& dir, const BertShape& shape,
                       const std::filesystem::path& tokenizer_folder = default_tokenizer_folder());

}  // namespace ragperf::bench
