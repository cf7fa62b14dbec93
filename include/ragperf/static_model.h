// ragperf/static_model.h defines static (word-vector) embedding models: a token lookup and a
// mean, L2-normalised. Orders of magnitude faster than a transformer; used by the offline demo.
//
// Formats:
//  - GloVe / word2vec text: one "word v1 v2 ... vD" line per word (word2vec's "N D" header line
//    optional), in a folder as `vectors.txt` (or the file itself).
//  - Model2Vec-style: `model.safetensors` with one 2-D tensor (`embeddings`) plus `tokenizer.json`
//    or `vocab.txt`.
//
//   auto glove = ragperf::load_static_model("~/.ragperf/models/glove-6b-100d");
#pragma once

#include <filesystem>
#include <memory>

#include "ragperf/embedding_model.h"

namespace ragperf {

/// True when `path` looks like a static model (a vectors file, or a folder holding one or a
/// Model2Vec layout) rather than a BERT folder.
bool is_static_model(const std::filesystem::path& path);

/// Loads a static model. Throws ModelError naming the file and line on malformed input.
std::unique_ptr<EmbeddingModel> load_static_model(const std::filesystem::path& path);

}  // namespace ragperf
