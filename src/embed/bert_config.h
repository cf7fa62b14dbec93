// embed/bert_config.h defines what a BERT model folder says about its architecture and about the
// sentence-transformers pipeline around it.
//
//   BertConfig c = read_bert_config("models/bge-small-en");
//   // c.hidden_size, c.n_layers, c.activation, c.pooling, c.normalize, c.max_seq_length ...
//
// Files read: config.json (required), modules.json (Normalize listed -> normalize),
// 1_Pooling/config.json (CLS, mean or max; mean when absent); max_seq_length follows
// embed/max_sequence_length.h (sentence_bert_config.json, tokenizer_config.json, config.json).
// Throws ModelError naming the file and field.
#pragma once

#include <filesystem>
#include <string>

namespace ragperf::embed {

enum class Activation { kGeluErf, kGeluTanh, kRelu };
enum class Pooling { kCls, kMean, kMax };

const char* to_string(Activation a);
const char* to_string(Pooling p);

struct BertConfig {
  size_t hidden_size = 0;
  size_t n_layers = 0;
  size_t n_heads = 0;
  size_t intermediate_size = 0;
  size_t vocab_size = 0;
  size_t max_position_embeddings = 0;
  size_t type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
  Activation activation = Activation::kGeluErf;
  std::string hidden_act;  // as written in config.json

  Pooling pooling = Pooling::kMean;
  bool normalize = false;
  size_t max_seq_length = 0;  // tokens including [CLS]/[SEP]

  size_t head_dim() const { return hidden_size / n_heads; }
};

BertConfig read_bert_config(const std::filesystem::path& folder);

}  // namespace ragperf::embed
