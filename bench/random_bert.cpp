#include "random_bert.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "ragperf/error.h"

namespace ragperf::bench {
namespace fs = std::filesystem;

BertShape BertShape::bge_small_en() {
  return BertShape{};
}

BertShape BertShape::all_minilm_l6_v2() {
  BertShape s;
  s.layers = 6;
  s.max_seq = 256;
  s.pooling = "mean";
  return s;
}

BertShape BertShape::ms_marco_minilm_l6_v2() {
  BertShape s;
  s.layers = 6;
  s.cross_encoder = true;
  return s;
}

std::string BertShape::describe() const {
  if (cross_encoder) {
    return std::to_string(layers) + " layers, hidden " + std::to_string(hidden) + ", " +
           std::to_string(heads) + " heads, FFN " + std::to_string(ffn) +
           ", one-label cross-encoder head, max " + std::to_string(max_seq) + " tokens";
  }
  return std::to_string(layers) + " layers, hidden " + std::to_string(hidden) + ", " +
         std::to_string(heads) + " heads, FFN " + std::to_string(ffn) + ", " + pooling +
         " pooling, " + (normalize ? "normalized" : "not normalized") + ", max " +
         std::to_string(max_seq) + " tokens";
}

size_t BertShape::parameters(size_t vocab_size) const {
  const size_t h = hidden;
  const size_t per_layer = 4 * (h * h + h) + 2 * h * ffn + ffn + h + 4 * h;
  return (vocab_size + max_positions + 2) * h + 2 * h + layers * per_layer;
}

fs::path default_tokenizer_folder() {
  const char* env = std::getenv("RAGPERF_SHARED_DIR");
  const fs::path shared = env && *env ? fs::path(env) : fs::path("/work/shared");
  return shared / "models" / "all-MiniLM-L6-v2-tokenizer-only";
}

namespace {

void check_written(std::ofstream& out, const fs::path& path) {
  out.flush();
  if (!out) throw InputError(path.string() + ": cannot be written (check the folder and the disk)");
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  check_written(out, path);
}

size_t count_lines(const fs::path& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

/// splitmix64: fast, and the same bytes on every machine for a seed.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [-1, 1).
  float symmetric() {
    return static_cast<float>(static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0);
  }
};

void write_sentence_transformers_files(const fs::path& dir, const BertShape& s) {
  fs::create_directories(dir / "1_Pooling");
  nlohmann::json modules = nlohmann::json::array();
  modules.push_back({{"idx", 0},
                     {"name", "0"},
                     {"path", ""},
                     {"type", "sentence_transformers.models.Transformer"}});
  modules.push_back({{"idx", 1},
                     {"name", "1"},
                     {"path", "1_Pooling"},
                     {"type", "sentence_transformers.models.Pooling"}});
  if (s.normalize) {
    modules.push_back({{"idx", 2},
                       {"name", "2"},
                       {"path", "2_Normalize"},
                       {"type", "sentence_transformers.models.Normalize"}});
  }
  write_text(dir / "modules.json", modules.dump(2));
  const nlohmann::json pooling = {{"word_embedding_dimension", s.hidden},
                                  {"pooling_mode_cls_token", s.pooling == "cls"},
                                  {"pooling_mode_mean_tokens", s.pooling == "mean"},
                                  {"pooling_mode_max_tokens", s.pooling == "max"},
                                  {"pooling_mode_mean_sqrt_len_tokens", false}};
  write_text(dir / "1_Pooling" / "config.json", pooling.dump(2));
  write_text(dir / "sentence_bert_config.json",
             nlohmann::json{{"max_seq_length", s.max_seq}, {"do_lower_case", false}}.dump(2));
}

}  // namespace

void write_random_bert(const fs::path& dir, const BertShape& s, const fs::path& tokenizer_folder) {
  if (s.layers == 0 || s.hidden == 0 || s.heads == 0 || s.ffn == 0 || s.max_positions < 2) {
    throw InputError("random BERT shape '" + s.describe() + "': every size must be positive");
  }
  if (s.hidden % s.heads != 0) {
    throw InputError("random BERT shape: " + std::to_string(s.heads) +
                     " heads do not divide hidden " + std::to_string(s.hidden));
  }
  if (s.pooling != "cls" && s.pooling != "mean" && s.pooling != "max") {
    throw InputError("random BERT pooling '" + s.pooling + "': use cls, mean or max");
  }
  if (s.max_seq < 2 || s.max_seq > s.max_positions) {
    throw InputError("random BERT max_seq " + std::to_string(s.max_seq) + ": must be 2 to " +
                     std::to_string(s.max_positions) + " (max_positions)");
  }
  fs::create_directories(dir);

  size_t vocab = s.vocab;
  if (fs::exists(tokenizer_folder / "vocab.txt")) {
    for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
      if (fs::exists(tokenizer_folder / f)) {
        fs::copy_file(tokenizer_folder / f, dir / f, fs::copy_options::overwrite_existing);
      }
    }
    vocab = count_lines(dir / "vocab.txt");
  } else {
    std::string v = "[PAD]\n";
    for (int i = 1; i < 100; ++i) v += "[unused" + std::to_string(i) + "]\n";
    v += "[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    for (size_t i = 104; i < vocab; ++i) v += "w" + std::to_string(i) + "\n";
    write_text(dir / "vocab.txt", v);
    write_text(dir / "tokenizer_config.json", R"({"do_lower_case": true})");
  }

  nlohmann::json config = {{"architectures", {"BertModel"}},
                           {"model_type", "bert"},
                           {"hidden_size", s.hidden},
                           {"num_hidden_layers", s.layers},
                           {"num_attention_heads", s.heads},
                           {"intermediate_size", s.ffn},
                           {"hidden_act", "gelu"},
                           {"layer_norm_eps", 1e-12},
                           {"max_position_embeddings", s.max_positions},
                           {"type_vocab_size", 2},
                           {"vocab_size", vocab},
                           {"pad_token_id", 0},
                           {"position_embedding_type", "absolute"}};
  if (s.cross_encoder) {
    config["architectures"] = {"BertForSequenceClassification"};
    config["num_labels"] = 1;
    config["sbert_ce_default_activation_function"] = "torch.nn.modules.linear.Identity";
  }
  write_text(dir / "config.json", config.dump(2));
  if (!s.cross_encoder) write_sentence_transformers_files(dir, s);

  // Tensors: name, shape, kind (0 dense, 1 embedding, 2 LayerNorm gamma ~1, 3 bias).
  struct Tensor {
    std::string name;
    std::vector<size_t> shape;
    int kind;
  };
  const size_t h = s.hidden;
  std::vector<Tensor> tensors = {{"embeddings.word_embeddings.weight", {vocab, h}, 1},
                                 {"embeddings.position_embeddings.weight", {s.max_positions, h}, 1},
                                 {"embeddings.token_type_embeddings.weight", {2, h}, 1},
                                 {"embeddings.LayerNorm.weight", {h}, 2},
                                 {"embeddings.LayerNorm.bias", {h}, 3}};
  for (size_t l = 0; l < s.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* q : {"query", "key", "value"}) {
      tensors.push_back({p + "attention.self." + q + ".weight", {h, h}, 0});
      tensors.push_back({p + "attention.self." + q + ".bias", {h}, 3});
    }
    tensors.push_back({p + "attention.output.dense.weight", {h, h}, 0});
    tensors.push_back({p + "attention.output.dense.bias", {h}, 3});
    tensors.push_back({p + "attention.output.LayerNorm.weight", {h}, 2});
    tensors.push_back({p + "attention.output.LayerNorm.bias", {h}, 3});
    tensors.push_back({p + "intermediate.dense.weight", {s.ffn, h}, 0});
    tensors.push_back({p + "intermediate.dense.bias", {s.ffn}, 3});
    tensors.push_back({p + "output.dense.weight", {h, s.ffn}, 0});
    tensors.push_back({p + "output.dense.bias", {h}, 3});
    tensors.push_back({p + "output.LayerNorm.weight", {h}, 2});
    tensors.push_back({p + "output.LayerNorm.bias", {h}, 3});
  }
  if (s.cross_encoder) {
    tensors.push_back({"pooler.dense.weight", {h, h}, 0});
    tensors.push_back({"pooler.dense.bias", {h}, 3});
    tensors.push_back({"classifier.weight", {1, h}, 0});
    tensors.push_back({"classifier.bias", {1}, 3});
  }
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& t : tensors) {
    size_t n = 1;
    for (size_t d : t.shape) n *= d;
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  std::string head = header.dump();
  while (head.size() % 8 != 0) head += ' ';
  const fs::path weights = dir / "model.safetensors";
  std::ofstream out(weights, std::ios::binary);
  const uint64_t len = head.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
  // Uniform values with the spread of a trained model's: dense weights std ~ 1/sqrt(fan_in) /2,
  // embeddings std 0.5, LayerNorm gamma ~ 1, biases small. sqrt(3) turns a uniform [-1, 1) into
  // unit variance.
  Rng rng{s.seed};
  const float dense = static_cast<float>(std::sqrt(3.0) * 0.5 / std::sqrt(static_cast<double>(h)));
  std::vector<float> data;
  for (const auto& t : tensors) {
    size_t n = 1;
    for (size_t d : t.shape) n *= d;
    data.resize(n);
    for (auto& x : data) {
      const float u = rng.symmetric();
      x = t.kind == 0   ? dense * u
          : t.kind == 1 ? 0.87f * u
          : t.kind == 2 ? 1.0f + 0.17f * u
                        : 0.035f * u;
    }
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(n * sizeof(float)));
  }
  check_written(out, weights);
}

}  // namespace ragperf::bench
