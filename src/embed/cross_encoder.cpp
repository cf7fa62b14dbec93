// CrossEncoder (ragperf/cross_encoder.h): pair encoding, the BERT encoder on a batch of pairs,
// then the sequence-classification head (pooler, classifier, activation).
#include "ragperf/cross_encoder.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "embed/bert_config.h"
#include "embed/bert_encoder.h"
#include "embed/bert_model.h"
#include "embed/json_file.h"
#include "embed/safetensors.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"

namespace ragperf {

namespace {

enum class Activation { kSigmoid, kIdentity };

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw ModelError(file.string() + ": " + what);
}

// The head's activation as sentence-transformers picks it: config.json's
// `sbert_ce_default_activation_function` (v2/v3) or `sentence_transformers.activation_fn` (v4),
// else sigmoid for one label.
Activation read_activation(const nlohmann::json& config, const std::filesystem::path& file) {
  std::string name;
  if (auto it = config.find("sbert_ce_default_activation_function");
      it != config.end() && it->is_string()) {
    name = it->get<std::string>();
  } else if (auto st = config.find("sentence_transformers");
             st != config.end() && st->is_object()) {
    if (auto fn = st->find("activation_fn"); fn != st->end() && fn->is_string())
      name = fn->get<std::string>();
  }
  if (name.empty()) return Activation::kSigmoid;
  const std::string last =
      name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  if (last == "Sigmoid") return Activation::kSigmoid;
  if (last == "Identity") return Activation::kIdentity;
  fail(file, "activation \"" + name +
                 "\" is not supported; ragperf's cross-encoders apply torch.nn.Sigmoid or "
                 "torch.nn.Identity");
}

}  // namespace

struct CrossEncoder::Impl {
  Impl(embed::BertConfig c, WordPieceTokenizer tok,
       std::shared_ptr<const embed::SafetensorsFile> weights, std::string model_id, Activation act)
      : config(std::move(c)),
        tokenizer(std::move(tok)),
        encoder(config, weights),
        id(std::move(model_id)),
        activation(act) {
    const size_t h = config.hidden_size;
    const auto i64 = [](size_t v) { return static_cast<int64_t>(v); };
    pooler_w = weights->require("pooler.dense.weight", {i64(h), i64(h)}).to_f32();
    pooler_b = weights->require("pooler.dense.bias", {i64(h)}).to_f32();
    classifier_w = weights->require("classifier.weight", {1, i64(h)}).to_f32();
    classifier_b = weights->require("classifier.bias", {1}).to_f32()[0];
  }

  std::vector<PairScore> run(std::vector<PairEncoding>& pairs) const;

  embed::BertConfig config;
  WordPieceTokenizer tokenizer;
  embed::BertEncoder encoder;
  std::string id;
  Activation activation;
  std::vector<float> pooler_w, pooler_b;  // [H, H] as stored (out, in), [H]
  std::vector<float> classifier_w;        // [H]
  float classifier_b = 0;
};

std::vector<PairScore> CrossEncoder::Impl::run(std::vector<PairEncoding>& pairs) const {
  const size_t h = config.hidden_size;
  std::vector<PairScore> out(pairs.size());
  // Longest first, in passes of at most kMaxBatchTokens tokens (as the embedding models batch).
  std::vector<size_t> order(pairs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return pairs[a].ids.size() > pairs[b].ids.size(); });
  std::vector<std::vector<int32_t>> batch;
  std::vector<size_t> starts, rows;
  std::vector<float> cls;
  auto flush = [&] {
    if (batch.empty()) return;
    encoder.forward(batch, cls, /*first_token_only=*/true, starts);
    // The head is a few hundred thousand multiply-adds per pair: in double, so that it adds
    // no rounding of its own to the encoder's.
    for (size_t b = 0; b < batch.size(); ++b) {
      const float* x = cls.data() + b * h;
      double logit = classifier_b;
      for (size_t o = 0; o < h; ++o) {
        const float* w = pooler_w.data() + o * h;
        double acc = pooler_b[o];
        for (size_t c = 0; c < h; ++c) acc += static_cast<double>(w[c]) * x[c];
        logit += static_cast<double>(classifier_w[o]) * std::tanh(acc);
      }
      const double score =
          activation == Activation::kSigmoid ? 1.0 / (1.0 + std::exp(-logit)) : logit;
      out[rows[b]] = PairScore{static_cast<float>(score), static_cast<float>(logit)};
    }
    batch.clear();
    starts.clear();
    rows.clear();
  };
  size_t tokens = 0;
  for (size_t idx : order) {
    if (!batch.empty() && tokens + pairs[idx].ids.size() > embed::BertModel::kMaxBatchTokens) {
      flush();
      tokens = 0;
    }
    tokens += pairs[idx].ids.size();
    batch.push_back(std::move(pairs[idx].ids));
    starts.push_back(pairs[idx].second_start);
    rows.push_back(idx);
  }
  flush();
  return out;
}

std::unique_ptr<CrossEncoder> CrossEncoder::load(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder)) {
    throw ModelError(folder.string() +
                     ": not a model folder (expected config.json, model.safetensors and "
                     "vocab.txt or tokenizer.json of a BertForSequenceClassification checkpoint)");
  }
  const auto config_path = folder / "config.json";
  const nlohmann::json j = embed::read_json_file(config_path);
  if (!j.is_object()) fail(config_path, "is not a JSON object");
  if (auto arch = j.find("architectures"); arch != j.end() && arch->is_array()) {
    const bool classifier = std::any_of(arch->begin(), arch->end(), [](const nlohmann::json& a) {
      return a.is_string() && a.get<std::string>() == "BertForSequenceClassification";
    });
    if (!classifier) {
      fail(config_path, "architectures " + arch->dump() +
                            " has no BertForSequenceClassification; a cross-encoder (reranker) "
                            "folder is needed, such as cross-encoder/ms-marco-MiniLM-L-6-v2");
    }
  }
  size_t labels = 1;
  if (auto n = j.find("num_labels"); n != j.end() && n->is_number_integer()) {
    labels = n->get<size_t>();
  } else if (auto id2label = j.find("id2label"); id2label != j.end() && id2label->is_object()) {
    labels = id2label->size();
  }
  if (labels != 1) {
    fail(config_path,
         "has " + std::to_string(labels) + " labels; a reranker scores with one (num_labels 1)");
  }
  const Activation activation = read_activation(j, config_path);
  embed::BertConfig config = embed::read_bert_config(folder);
  if (config.type_vocab_size < 2) {
    fail(config_path, "type_vocab_size " + std::to_string(config.type_vocab_size) +
                          " cannot tell a query from a passage; a cross-encoder needs 2");
  }
  WordPieceTokenizer tokenizer = WordPieceTokenizer::from_folder(folder);
  if (tokenizer.vocab_size() > config.vocab_size) {
    fail(config_path, "vocab_size " + std::to_string(config.vocab_size) +
                          " is smaller than the tokenizer's " +
                          std::to_string(tokenizer.vocab_size()) + " tokens");
  }
  const auto weights_path = folder / "model.safetensors";
  if (!std::filesystem::exists(weights_path)) {
    fail(weights_path, "missing; ragperf reads BERT weights from model.safetensors only");
  }
  auto weights = std::make_shared<const embed::SafetensorsFile>(weights_path);
  std::string id = embed::model_fingerprint(folder, *weights);
  return std::unique_ptr<CrossEncoder>(new CrossEncoder(std::make_unique<Impl>(
      std::move(config), std::move(tokenizer), std::move(weights), std::move(id), activation)));
}

CrossEncoder::CrossEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CrossEncoder::~CrossEncoder() = default;

std::vector<PairScore> CrossEncoder::score(std::string_view query,
                                           std::span<const std::string> passages) const {
  return score(query, passages, Truncation::kRight);
}

std::vector<PairScore> CrossEncoder::score(std::string_view query,
                                           std::span<const std::string> passages,
                                           Truncation truncation,
                                           std::vector<size_t>* truncated) const {
  const WordPieceTokenizer& tok = impl_->tokenizer;
  if (truncated) truncated->assign(passages.size(), 0);
  std::vector<int32_t> query_ids;  // tokenised once for every passage
  try {
    query_ids = tok.token_ids(query);
  } catch (const InputError& e) {
    throw InputError(std::string("query: ") + e.what());
  }
  std::vector<PairEncoding> pairs;
  pairs.reserve(passages.size());
  for (size_t i = 0; i < passages.size(); ++i) {
    std::vector<int32_t> passage_ids;
    try {
      passage_ids = tok.token_ids(passages[i]);
    } catch (const InputError& e) {
      throw InputError("passage " + std::to_string(i) + ": " + e.what());
    }
    const size_t n = query_ids.size() + passage_ids.size() + 3;  // [CLS] q [SEP] p [SEP]
    if (n > max_length()) {
      if (truncation == Truncation::kRefuse) throw InputTooLongError(i, n, max_length());
      if (truncated) (*truncated)[i] = n;
    }
    pairs.push_back(tok.encode_pair_ids(query_ids, passage_ids, max_length()));
  }
  return impl_->run(pairs);
}

std::vector<PairScore> CrossEncoder::score_pairs(
    std::span<const std::pair<std::string, std::string>> pairs) const {
  std::vector<PairEncoding> encoded;
  encoded.reserve(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    try {
      encoded.push_back(
          impl_->tokenizer.encode_pair(pairs[i].first, pairs[i].second, max_length()));
    } catch (const InputError& e) {
      throw InputError("pair " + std::to_string(i) + ": " + e.what());
    }
  }
  return impl_->run(encoded);
}

const std::string& CrossEncoder::id() const {
  return impl_->id;
}

size_t CrossEncoder::max_length() const {
  return impl_->config.max_seq_length;
}

const char* CrossEncoder::activation() const {
  return impl_->activation == Activation::kSigmoid ? "sigmoid" : "identity";
}

}  // namespace ragperf
