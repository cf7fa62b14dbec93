// embed/embed_inputs.h: the two halves of embed_inputs() (ragperf/embedding_model.h), apart so
// that AsyncEmbedding can prepare each request alone (one request's bad input fails only it) and
// then embed the prepared inputs of many requests in one forward pass.
//
//   PreparedInputs p = prepare_inputs(model, inputs, Truncation::kRefuse);  // tokenise + fit
//   EmbeddingMatrix m = embed_prepared(model, p);                           // the forward pass
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ragperf/embedding_model.h"

namespace ragperf::embed {

/// Inputs ready for the forward pass. A model with token ids gets `ids` (each fitted to
/// max_tokens() - special_tokens()); a text-only model gets `texts` (checked against
/// max_tokens(); its embed() cuts them as kRight says).
struct PreparedInputs {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::string> texts;
  std::vector<size_t> tokens;          // per input, as EmbedDetails::tokens
  std::vector<size_t> truncated_from;  // per input, as EmbedDetails::truncated_from
  size_t size() const { return tokens.size(); }
};

/// Tokenises and fits `inputs` (moved from) under `truncation`; throws as embed_inputs() does,
/// naming the input by its index in `inputs`. `counted` false lets a text-only model skip
/// counting under kRight (its embed() cuts anyway, and counting would tokenise every text twice
/// on the query path): `tokens` and `truncated_from` are then 0.
PreparedInputs prepare_inputs(const EmbeddingModel& model, std::span<EmbedInput> inputs,
                              Truncation truncation, bool counted = true);

/// Appends `more` to `into` (several requests' inputs for one pass).
void append_prepared(PreparedInputs& into, PreparedInputs&& more);

/// One forward pass over prepared inputs, rows in their order.
EmbeddingMatrix embed_prepared(EmbeddingModel& model, const PreparedInputs& prepared);

}  // namespace ragperf::embed
