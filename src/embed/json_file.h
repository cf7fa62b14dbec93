// embed/json_file.h defines the one reader for a model folder's JSON files (config.json,
// tokenizer.json, tokenizer_config.json, special_tokens_map.json, modules.json,
// 1_Pooling/config.json, sentence_bert_config.json).
//
//   nlohmann::json j = read_json_file(folder / "config.json");
//
// Throws ModelError naming the file: "cannot read <file>: <reason>; ..." when it cannot be opened,
// "<file> is not valid JSON (<parser message>); re-download the model folder" when it does not
// parse. Thread-safety: reentrant.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace ragperf::embed {

/// The parsed contents of `file` (any JSON value; callers check the shape they need).
nlohmann::json read_json_file(const std::filesystem::path& file);

}  // namespace ragperf::embed
