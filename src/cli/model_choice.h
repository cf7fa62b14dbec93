// cli/model_choice.h: which embedding model a command that reads tables (`ragperf query`,
// `ragperf serve`) loads, and the demo model's name (`ragperf demo` prepares it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/vector_store.h"

namespace ragperf::cli {

/// The folder under RAGPERF_HOME/models that holds the demo model, the real
/// sentence-transformers/all-MiniLM-L6-v2 (scripts/prepare_model.sh prepares it).
inline constexpr const char* kDemoModelName = "all-MiniLM-L6-v2";

/// `model_flag` (--model) when given, else EMBED_MODEL when the user set it, else the demo's
/// model when every table in `tables` was ingested with it and it is prepared, else
/// EMBED_MODEL's default.
std::string choose_model(const std::string& model_flag, const Settings& settings,
                         const std::vector<CollectionInfo>& tables);

/// load_embedding_model(name, settings), then check_embed_dim(): every command that loads a model
/// goes through here, so a guide user's EMBED_DIM that disagrees with the model stops the command
/// with ConfigError naming both dimensions.
std::unique_ptr<EmbeddingModel> load_model(const std::string& name, const Settings& settings);

}  // namespace ragperf::cli
