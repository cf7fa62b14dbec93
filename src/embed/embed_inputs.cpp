// embed_inputs(): the one truncation rule of every surface (ragperf/embedding_model.h), and the
// EmbeddingModel defaults for models without token ids.
#include "embed/embed_inputs.h"

#include <chrono>
#include <iterator>

#include "ragperf/error.h"

namespace ragperf {

const char* to_string(Truncation truncation) {
  switch (truncation) {
    case Truncation::kRefuse:
      return "refuse";
    case Truncation::kRight:
      return "right";
    case Truncation::kLeft:
      return "left";
  }
  return "refuse";
}

namespace {

[[noreturn]] void no_token_ids(const EmbeddingModel& model, const std::string& what) {
  throw InputError(what + ": the model " + model.id() +
                   " is a static word-vector model that reads text, not token ids; send text, "
                   "or serve a BERT model folder");
}

}  // namespace

std::vector<int32_t> EmbeddingModel::token_ids(std::string_view) const {
  no_token_ids(*this, "token ids");
}

std::vector<TextToken> EmbeddingModel::text_tokens(std::string_view, bool) const {
  no_token_ids(*this, "tokenizing");
}

EmbeddingMatrix EmbeddingModel::embed_token_ids(const std::vector<std::vector<int32_t>>&) {
  no_token_ids(*this, "token ids");
}

EmbeddingMatrix embed_inputs(EmbeddingModel& model, std::span<const EmbedInput> inputs,
                             Truncation truncation, EmbedDetails* details) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::vector<EmbedInput> copy(inputs.begin(), inputs.end());
  embed::PreparedInputs prepared = embed::prepare_inputs(model, copy, truncation);
  const auto t1 = Clock::now();
  EmbeddingMatrix m = embed::embed_prepared(model, prepared);
  if (details) {
    details->tokens = std::move(prepared.tokens);
    details->truncated_from = std::move(prepared.truncated_from);
    details->tokenize_s = std::chrono::duration<double>(t1 - t0).count();
    details->inference_s = std::chrono::duration<double>(Clock::now() - t1).count();
  }
  return m;
}

}  // namespace ragperf

namespace ragperf::embed {

PreparedInputs prepare_inputs(const EmbeddingModel& model, std::span<EmbedInput> inputs,
                              Truncation truncation, bool counted) {
  PreparedInputs out;
  const size_t limit = model.max_tokens();
  const bool with_ids = model.has_token_ids();
  const size_t specials = model.special_tokens();
  const size_t room = limit > specials ? limit - specials : 0;  // content ids that fit
  out.tokens.resize(inputs.size());
  out.truncated_from.assign(inputs.size(), 0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string* text = std::get_if<std::string>(&inputs[i]);
    // "text I" as EmbeddingModel::embed names a text, "input I" for token ids.
    const std::string where = (text ? "text " : "input ") + std::to_string(i);
    if (text) {
      if (!with_ids && !counted && truncation == Truncation::kRight) {
        out.texts.push_back(std::move(*text));
        continue;
      }
      if (!with_ids) {
        size_t n = 0;
        try {
          n = model.count_tokens(*text);
        } catch (const InputError& e) {
          throw InputError(where + ": " + e.what());
        }
        if (n > limit) {
          if (truncation == Truncation::kRefuse) throw InputTooLongError(i, n, limit);
          if (truncation == Truncation::kLeft) {
            throw InputError(where + " has " + std::to_string(n) +
                             " tokens and truncation from the left needs a model that reads "
                             "token ids (" +
                             model.id() + " does not): ask for right truncation or shorten it");
          }
          out.truncated_from[i] = n;
          n = limit;
        }
        out.tokens[i] = n;
        out.texts.push_back(std::move(*text));
        continue;
      }
      std::vector<int32_t> ids;
      try {
        ids = model.token_ids(*text);
      } catch (const InputError& e) {
        throw InputError(where + ": " + e.what());
      }
      inputs[i] = std::move(ids);
    } else if (!with_ids) {
      no_token_ids(model, where + " is token ids");
    } else {
      const size_t vocab = model.vocab_size();
      const std::vector<int32_t>& ids = std::get<std::vector<int32_t>>(inputs[i]);
      for (size_t k = 0; k < ids.size(); ++k) {
        if (ids[k] < 0 || static_cast<size_t>(ids[k]) >= vocab) {
          throw InputError(where + ": token id " + std::to_string(ids[k]) + " at position " +
                           std::to_string(k) + " is outside the model's vocabulary (0 to " +
                           std::to_string(vocab - 1) + ")");
        }
      }
    }
    std::vector<int32_t>& ids = std::get<std::vector<int32_t>>(inputs[i]);
    const size_t n = ids.size() + specials;
    if (ids.size() > room) {
      if (truncation == Truncation::kRefuse) throw InputTooLongError(i, n, limit);
      const auto cut = static_cast<std::ptrdiff_t>(ids.size() - room);
      if (truncation == Truncation::kRight) {
        ids.erase(ids.end() - cut, ids.end());
      } else {
        ids.erase(ids.begin(), ids.begin() + cut);
      }
      out.truncated_from[i] = n;
    }
    out.tokens[i] = ids.size() + specials;
    out.ids.push_back(std::move(ids));
  }
  return out;
}

void append_prepared(PreparedInputs& into, PreparedInputs&& more) {
  auto move_all = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  move_all(into.ids, more.ids);
  move_all(into.texts, more.texts);
  move_all(into.tokens, more.tokens);
  move_all(into.truncated_from, more.truncated_from);
}

EmbeddingMatrix embed_prepared(EmbeddingModel& model, const PreparedInputs& prepared) {
  if (model.has_token_ids()) return model.embed_token_ids(prepared.ids);
  return model.embed(prepared.texts);
}

}  // namespace ragperf::embed
