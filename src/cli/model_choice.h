// cli/model_choice.h: which embedding model a command that reads tables (`ragperf query`,
// `ragperf serve`) loads, and the demo model's name (`ragperf demo` prepares it).
#pragma once

#include <string>
#include <vector>

#include "ragperf/config.h"
#include "ragperf/vector_store.h"

namespace ragperf::cli {

/// The folder under RAGPERF_HOME/models that `ragperf demo` prepares (scripts/prepare_glove.sh).
inline constexpr const char* kDemoModelName = "glove-6b-100d";

/// `model_flag` (--model) when given, else EMBED_MODEL when the user set it, else the demo's
/// GloVe model when every table in `tables` was ingested with it and it is prepared, else
/// EMBED_MODEL's default.
std::string choose_model(const std::string& model_flag, const Settings& settings,
                         const std::vector<CollectionInfo>& tables);

}  // namespace ragperf::cli
