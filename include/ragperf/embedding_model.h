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
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ragperf {

struct Settings;

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
};

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
