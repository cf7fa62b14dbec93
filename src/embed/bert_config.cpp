#include "embed/bert_config.h"

#include <nlohmann/json.hpp>

#include "embed/json_file.h"
#include "embed/max_sequence_length.h"
#include "ragperf/error.h"

namespace ragperf::embed {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw ModelError(file.string() + ": " + what);
}

size_t positive(const nlohmann::json& j, const std::filesystem::path& file, const char* key,
                bool required = true, size_t fallback = 0) {
  if (!j.contains(key)) {
    if (required) fail(file, std::string("lacks \"") + key + "\"");
    return fallback;
  }
  const auto& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 24)) {
    fail(file, std::string("\"") + key + "\" = " + v.dump() + " is not a positive integer");
  }
  return static_cast<size_t>(v.get<int64_t>());
}

}  // namespace

const char* to_string(Activation a) {
  switch (a) {
    case Activation::kGeluErf:
      return "gelu";
    case Activation::kGeluTanh:
      return "gelu_tanh";
    case Activation::kRelu:
      return "relu";
  }
  return "?";
}

const char* to_string(Pooling p) {
  switch (p) {
    case Pooling::kCls:
      return "cls";
    case Pooling::kMean:
      return "mean";
    case Pooling::kMax:
      return "max";
  }
  return "?";
}

BertConfig read_bert_config(const std::filesystem::path& folder) {
  BertConfig c;
  const auto config_path = folder / "config.json";
  const nlohmann::json j = read_json_file(config_path);
  if (!j.is_object()) fail(config_path, "is not a JSON object");
  if (j.contains("model_type") && j["model_type"].is_string()) {
    const auto type = j["model_type"].get<std::string>();
    if (type != "bert") {
      fail(config_path, "model_type \"" + type + "\" is not supported; use a BERT-family model");
    }
  }
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute") {
    fail(config_path, "position_embedding_type " + j["position_embedding_type"].dump() +
                          " is not supported (only \"absolute\")");
  }
  c.hidden_size = positive(j, config_path, "hidden_size");
  c.n_layers = positive(j, config_path, "num_hidden_layers");
  c.n_heads = positive(j, config_path, "num_attention_heads");
  c.intermediate_size = positive(j, config_path, "intermediate_size");
  c.vocab_size = positive(j, config_path, "vocab_size");
  c.max_position_embeddings = positive(j, config_path, "max_position_embeddings", false, 512);
  c.type_vocab_size = positive(j, config_path, "type_vocab_size", false, 2);
  if (c.hidden_size % c.n_heads != 0) {
    fail(config_path, "hidden_size " + std::to_string(c.hidden_size) +
                          " is not a multiple of num_attention_heads " + std::to_string(c.n_heads));
  }
  if (j.contains("layer_norm_eps")) {
    // Real models use 1e-12 to 1e-5. A large epsilon swamps the variance and every text embeds
    // to nearly the same vector, so a value outside (0, 0.01] is refused, not used.
    if (!j["layer_norm_eps"].is_number() || !(j["layer_norm_eps"].get<double>() > 0) ||
        j["layer_norm_eps"].get<double>() > 1e-2) {
      fail(config_path, "\"layer_norm_eps\" = " + j["layer_norm_eps"].dump() +
                            " is outside (0, 0.01] (BERT models use 1e-12 to 1e-5)");
    }
    c.layer_norm_eps = j["layer_norm_eps"].get<float>();
  }
  c.hidden_act = j.value("hidden_act", std::string("gelu"));
  if (c.hidden_act == "gelu") {
    c.activation = Activation::kGeluErf;
  } else if (c.hidden_act == "gelu_new" || c.hidden_act == "gelu_pytorch_tanh" ||
             c.hidden_act == "gelu_fast") {
    c.activation = Activation::kGeluTanh;
  } else if (c.hidden_act == "relu") {
    c.activation = Activation::kRelu;
  } else {
    fail(config_path, "hidden_act \"" + c.hidden_act +
                          "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
  }

  // sentence-transformers pipeline.
  const auto modules_path = folder / "modules.json";
  if (std::filesystem::exists(modules_path)) {
    const auto m = read_json_file(modules_path);
    if (!m.is_array()) fail(modules_path, "is not a JSON list of modules");
    for (const auto& mod : m) {
      if (mod.is_object() && mod.contains("type") && mod["type"].is_string()) {
        const auto type = mod["type"].get<std::string>();
        if (type.size() >= 9 && type.compare(type.size() - 9, 9, "Normalize") == 0) {
          c.normalize = true;
        }
      }
    }
  }
  const auto pooling_path = folder / "1_Pooling" / "config.json";
  if (std::filesystem::exists(pooling_path)) {
    const auto p = read_json_file(pooling_path);
    if (!p.is_object()) fail(pooling_path, "is not a JSON object");
    int modes = 0;
    if (p.value("pooling_mode_cls_token", false)) c.pooling = Pooling::kCls, ++modes;
    if (p.value("pooling_mode_mean_tokens", false)) c.pooling = Pooling::kMean, ++modes;
    if (p.value("pooling_mode_max_tokens", false)) c.pooling = Pooling::kMax, ++modes;
    if (p.value("pooling_mode_mean_sqrt_len_tokens", false) ||
        p.value("pooling_mode_weightedmean_tokens", false) ||
        p.value("pooling_mode_lasttoken", false)) {
      fail(pooling_path, "asks for a pooling mode ragperf does not support (cls, mean, max)");
    }
    if (modes != 1) {
      fail(pooling_path,
           "must enable exactly one of pooling_mode_cls_token, "
           "pooling_mode_mean_tokens, pooling_mode_max_tokens");
    }
    if (p.contains("word_embedding_dimension") &&
        p["word_embedding_dimension"] != nlohmann::json(c.hidden_size)) {
      fail(pooling_path, "word_embedding_dimension " + p["word_embedding_dimension"].dump() +
                             " differs from hidden_size " + std::to_string(c.hidden_size));
    }
  }
  // The one max-sequence-length rule (sentence-transformers'), shared with the tokenizer.
  c.max_seq_length = resolve_max_sequence_length(read_sequence_length_sources(folder));
  return c;
}

}  // namespace ragperf::embed
