#include "model_choice.h"

#include <filesystem>

namespace ragperf::cli {

std::string choose_model(const std::string& model_flag, const Settings& settings,
                         const std::vector<CollectionInfo>& tables) {
  if (!model_flag.empty()) return model_flag;
  const SettingValue* v = settings.find("EMBED_MODEL");
  if (v && v->source != SettingSource::kDefault) return settings.embed_model;
  const std::filesystem::path demo = settings.home / "models" / kDemoModelName;
  const std::string prefix = std::string(kDemoModelName) + "@";
  bool all_demo = !tables.empty();
  for (const auto& c : tables) all_demo &= c.model_id.rfind(prefix, 0) == 0;
  if (all_demo && std::filesystem::exists(demo)) return demo.string();
  return settings.embed_model;
}

std::unique_ptr<EmbeddingModel> load_model(const std::string& name, const Settings& settings) {
  std::unique_ptr<EmbeddingModel> model = load_embedding_model(name, settings);
  check_embed_dim(settings, model->dim(), model->id());
  return model;
}

}  // namespace ragperf::cli
