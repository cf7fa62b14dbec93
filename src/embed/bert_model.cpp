#include "embed/bert_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "base/distance.h"
#include "ragperf/error.h"

namespace ragperf::embed {

std::string model_fingerprint(const std::filesystem::path& folder, const SafetensorsFile& weights) {
  // FNV-1a over the tensor table (names, dtypes, shapes) and a sample of the weights.
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) hash = (hash ^ b[i]) * 1099511628211ull;
  };
  for (const auto& [name, t] : weights.tensors()) {
    mix(name.data(), name.size());
    mix(t.shape.data(), t.shape.size() * sizeof(int64_t));
    const size_t bytes = t.n_elements * dtype_size(t.dtype);
    mix(t.data, std::min<size_t>(bytes, 256));
    if (bytes > 256) mix(t.data + bytes - 256, 256);
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(hash));
  std::filesystem::path name =
      folder.filename().empty() ? folder.parent_path().filename() : folder.filename();
  return name.string() + "@" + buf;
}

std::unique_ptr<BertModel> BertModel::load(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder)) {
    throw ModelError(folder.string() +
                     ": not a model folder (expected config.json, "
                     "model.safetensors and vocab.txt or tokenizer.json)");
  }
  BertConfig config = read_bert_config(folder);
  WordPieceTokenizer tokenizer = WordPieceTokenizer::from_folder(folder);
  if (tokenizer.vocab_size() > config.vocab_size) {
    throw ModelError((folder / "config.json").string() + ": vocab_size " +
                     std::to_string(config.vocab_size) + " is smaller than the tokenizer's " +
                     std::to_string(tokenizer.vocab_size()) + " tokens");
  }
  const auto weights_path = folder / "model.safetensors";
  if (!std::filesystem::exists(weights_path)) {
    throw ModelError(weights_path.string() +
                     ": missing; ragperf reads BERT weights from model.safetensors only "
                     "(convert pytorch_model.bin with safetensors' convert script)");
  }
  auto weights = std::make_shared<const SafetensorsFile>(weights_path);
  std::string id = model_fingerprint(folder, *weights);
  return std::make_unique<BertModel>(std::move(config), std::move(tokenizer), std::move(weights),
                                     std::move(id));
}

BertModel::BertModel(BertConfig config, WordPieceTokenizer tokenizer,
                     std::shared_ptr<const SafetensorsFile> weights, std::string id)
    : config_(std::move(config)),
      tokenizer_(std::move(tokenizer)),
      encoder_(config_, std::move(weights)),
      id_(std::move(id)) {}

size_t BertModel::count_tokens(std::string_view text) const {
  return tokenizer_.count_tokens(text);
}

std::vector<int32_t> BertModel::encode(std::string_view text) const {
  return tokenizer_.encode(text, config_.max_seq_length);
}

EmbeddingMatrix BertModel::embed(std::span<const std::string> texts,
                                 std::vector<size_t>* token_counts) {
  std::vector<std::vector<int32_t>> ids(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    try {
      ids[i] = encode(texts[i]);
    } catch (const InputError& e) {
      throw InputError("text " + std::to_string(i) + ": " + e.what());
    }
  }
  if (token_counts) {
    token_counts->resize(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) (*token_counts)[i] = ids[i].size();
  }
  return embed_ids(ids);
}

std::vector<int32_t> BertModel::token_ids(std::string_view text) const {
  return tokenizer_.token_ids(text);
}

std::vector<TextToken> BertModel::text_tokens(std::string_view text, bool add_special) const {
  std::vector<TextToken> out;
  auto special = [&](int32_t id) {
    TextToken t;
    t.id = id;
    t.text = tokenizer_.id_to_token(id);
    t.special = true;
    out.push_back(std::move(t));
  };
  if (add_special) special(tokenizer_.cls_id());
  for (const TokenSpan& s : tokenizer_.token_spans(text)) {
    if (s.added) {
      special(s.id);
      continue;
    }
    TextToken t;
    t.id = s.id;
    t.text = std::string(text.substr(s.start, s.stop - s.start));
    t.start = s.start;
    t.stop = s.stop;
    out.push_back(std::move(t));
  }
  if (add_special) special(tokenizer_.sep_id());
  return out;
}

EmbeddingMatrix BertModel::embed_token_ids(const std::vector<std::vector<int32_t>>& ids) {
  std::vector<std::vector<int32_t>> full(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].size() + 2 > config_.max_seq_length) {
      throw InputError(
          "sequence " + std::to_string(i) + " has " + std::to_string(ids[i].size() + 2) +
          " tokens with [CLS] and [SEP]; at most " + std::to_string(config_.max_seq_length));
    }
    full[i].reserve(ids[i].size() + 2);
    full[i].push_back(tokenizer_.cls_id());
    full[i].insert(full[i].end(), ids[i].begin(), ids[i].end());
    full[i].push_back(tokenizer_.sep_id());
  }
  return embed_ids(full);
}

EmbeddingMatrix BertModel::embed_ids(const std::vector<std::vector<int32_t>>& ids) const {
  const size_t h = config_.hidden_size;
  EmbeddingMatrix out;
  out.rows = ids.size();
  out.dim = h;
  out.data.assign(out.rows * h, 0.0f);
  if (ids.empty()) return out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty() || ids[i].size() > config_.max_seq_length) {
      throw InputError("sequence " + std::to_string(i) + " has " + std::to_string(ids[i].size()) +
                       " tokens; expected 1 to " + std::to_string(config_.max_seq_length));
    }
    for (int32_t id : ids[i]) {
      if (id < 0 || static_cast<size_t>(id) >= config_.vocab_size) {
        throw InputError("sequence " + std::to_string(i) + " holds token id " + std::to_string(id) +
                         " outside the vocabulary of " + std::to_string(config_.vocab_size));
      }
    }
  }
  // Longest first, so that each forward pass holds texts of similar length.
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });

  std::vector<std::vector<int32_t>> batch;
  std::vector<size_t> batch_rows;
  std::vector<float> hidden;
  auto flush = [&] {
    if (batch.empty()) return;
    const bool cls = config_.pooling == Pooling::kCls;
    encoder_.forward(batch, hidden, cls);
    size_t offset = 0;
    for (size_t b = 0; b < batch.size(); ++b) {
      const size_t len = cls ? 1 : batch[b].size();  // with CLS pooling: one row per text
      float* dst = out.data.data() + batch_rows[b] * h;
      const float* src = hidden.data() + offset * h;
      switch (config_.pooling) {
        case Pooling::kCls:
          std::copy(src, src + h, dst);
          break;
        case Pooling::kMean: {
          for (size_t i = 0; i < len; ++i)
            for (size_t c = 0; c < h; ++c) dst[c] += src[i * h + c];
          const float inv = 1.0f / static_cast<float>(len);
          for (size_t c = 0; c < h; ++c) dst[c] *= inv;
          break;
        }
        case Pooling::kMax:
          std::copy(src, src + h, dst);
          for (size_t i = 1; i < len; ++i)
            for (size_t c = 0; c < h; ++c) dst[c] = std::max(dst[c], src[i * h + c]);
          break;
      }
      if (config_.normalize) {
        const double norm = base::squared_norm(dst, h);
        const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
        for (size_t c = 0; c < h; ++c) dst[c] *= inv;
      }
      offset += len;
    }
    batch.clear();
    batch_rows.clear();
  };
  size_t tokens = 0;
  for (size_t idx : order) {
    if (!batch.empty() && tokens + ids[idx].size() > kMaxBatchTokens) {
      flush();
      tokens = 0;
    }
    batch.push_back(ids[idx]);
    batch_rows.push_back(idx);
    tokens += ids[idx].size();
  }
  flush();
  return out;
}

}  // namespace ragperf::embed
