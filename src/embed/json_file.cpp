#include "embed/json_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "embed/model_file.h"
#include "ragperf/error.h"

namespace ragperf::embed {

nlohmann::json read_json_file(const std::filesystem::path& file) {
  require_regular_file(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ModelError("cannot read " + file.string() + ": " + std::strerror(errno) +
                     "; check that the model folder (Hugging Face layout) has this file and that "
                     "it is readable");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(file.string() + " is not valid JSON (" + e.what() +
                     "); re-download the model folder");
  }
}

}  // namespace ragperf::embed
