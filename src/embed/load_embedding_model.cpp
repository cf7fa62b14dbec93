// load_embedding_model(): a folder or hub id -> the right EmbeddingModel.
#include <filesystem>

#include "embed/bert_model.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/model_locator.h"
#include "ragperf/static_model.h"

namespace ragperf {

std::unique_ptr<EmbeddingModel> load_embedding_model(const std::string& name_or_path,
                                                     const Settings& settings) {
  if (name_or_path.empty()) {
    throw ModelError(
        "EMBED_MODEL is empty; set it to a model folder or a hub id such as "
        "BAAI/bge-small-en-v1.5");
  }
  const std::filesystem::path path = resolve_model(name_or_path, settings);
  if (is_static_model(path)) return load_static_model(path);
  return embed::BertModel::load(path);
}

std::string how_to_load(const std::string& model_id) {
  // Ids are "name@fingerprint" (BERT folders, hub ids) or "static:name@fingerprint[-sif1]".
  std::string name = model_id.substr(0, model_id.find('@'));
  if (name.rfind("static:", 0) == 0) name = name.substr(7);
  if (name.empty()) return "the model it was ingested with (id '" + model_id + "')";
  return "--model <the folder or hub id of '" + name + "'> (the model it was ingested with, id '" +
         model_id + "')";
}

}  // namespace ragperf
