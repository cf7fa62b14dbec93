// embed/max_sequence_length.h defines the one rule for how many tokens (including [CLS] and [SEP])
// a model folder takes: the rule sentence-transformers' Transformer module applies, used by both
// the tokenizer (`ragperf tokenize`, ragperf::max_sequence_length) and the model (BertConfig).
//
//   SequenceLengthSources s = read_sequence_length_sources(folder);
//   size_t n = resolve_max_sequence_length(s);  // 300 for config 1024 + tokenizer_config 300
//
// The rule (sentence_transformers/models/Transformer.py):
//   1. sentence_bert_config.json `max_seq_length`, when present and not null;
//   2. else min(config.json `max_position_embeddings`, tokenizer_config.json `model_max_length`);
//      a missing `model_max_length` (or transformers' "very large" sentinel, >= 1e9) counts as no
//      limit, and config.json without `max_position_embeddings` means BertConfig's default, 512;
//   3. else (no config.json) `model_max_length`, else 512.
// One addition: the result never exceeds `max_position_embeddings`, since the model has no
// position embedding beyond it (sentence-transformers would fail inside the model instead).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>

namespace ragperf::embed {

/// What a model folder says about its sequence length; a field is empty when its file or key is
/// absent (or, for model_max_length, holds the "no limit" sentinel).
struct SequenceLengthSources {
  std::optional<size_t> max_seq_length;           // sentence_bert_config.json
  std::optional<size_t> max_position_embeddings;  // config.json (512 when the key is absent)
  std::optional<size_t> model_max_length;         // tokenizer_config.json
};

/// Reads the three files that exist in `folder`. Throws ModelError naming the file and key when
/// a present value is not a positive integer, or a file is not valid JSON.
SequenceLengthSources read_sequence_length_sources(const std::filesystem::path& folder);

/// Applies the rule above. Throws ModelError when the result is below 2 (no room for [CLS] and
/// [SEP]).
size_t resolve_max_sequence_length(const SequenceLengthSources& sources);

}  // namespace ragperf::embed
