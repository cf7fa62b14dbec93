// ragperf/static_model.h defines static (word-vector) embedding models: a token lookup and a
// weighted sum, L2-normalised. Orders of magnitude faster than a transformer; used by the offline
// demo.
//
// Weighting: a plain mean lets frequent words ("the", "of", "what", "do") dominate every text,
// so all texts look alike (cosine ~0.95 between unrelated passages). Word-vector files are
// weighted as in SIF (Arora et al. 2017, "A Simple but Tough-to-Beat Baseline for Sentence
// Embeddings"): word w of frequency p(w) weighs a / (a + p(w)), a = kSifA = 1e-3. GloVe and
// word2vec files list words by descending corpus frequency, so p is estimated from the rank r
// (1-based line order) by Zipf's law normalised over the N words of the file:
// p(r) = 1 / (r * H_N), H_N = 1 + 1/2 + ... + 1/N. ("the" in GloVe 6B: weight ~0.013; rank 1000:
// ~0.93.) Every occurrence of a word counts. Such models' id() ends in "-sif1", so a collection
// embedded with another scheme is never mixed with these vectors. Model2Vec models are already
// trained as weighted sums and keep weight 1 per token (a plain mean).
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

/// SIF's smoothing constant a in a / (a + p(w)) (see the file comment).
inline constexpr double kSifA = 1e-3;

/// True when `path` looks like a static model (a vectors file, or a folder holding one or a
/// Model2Vec layout) rather than a BERT folder.
bool is_static_model(const std::filesystem::path& path);

/// Loads a static model. Throws ModelError naming the file and line on malformed input.
std::unique_ptr<EmbeddingModel> load_static_model(const std::filesystem::path& path);

}  // namespace ragperf
