// fuzz/model_config.cpp: a model folder's JSON and tokenizer files, as the BERT config reader
// (embed/bert_config.h), the sequence-length rule (ragperf::max_sequence_length) and the
// tokenizer's folder loader (WordPieceTokenizer::from_folder) read them. The input is the
// folder: its parts, split at NUL bytes, become the files below in order (fewer parts: the
// rest absent; an empty part: an empty file). Every refusal must be a ModelError; a folder that
// loads must give a consistent config and a tokenizer that encodes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.h"
#include "embed/bert_config.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"
#include "scratch_dir.h"

namespace {

constexpr const char* kFiles[] = {
    "config.json",           "tokenizer_config.json",     "vocab.txt",
    "tokenizer.json",        "special_tokens_map.json",   "modules.json",
    "1_Pooling/config.json", "sentence_bert_config.json",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ragperf::fuzz::ScratchDir dir("model_config");
  dir.clear();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (const char* name : kFiles) {
    const size_t end = rest.find('\0');
    const std::string_view part = rest.substr(0, end);
    dir.write(name, reinterpret_cast<const uint8_t*>(part.data()), part.size());
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  try {
    const ragperf::embed::BertConfig config = ragperf::embed::read_bert_config(dir.path());
    RAGPERF_FUZZ_CHECK(config.n_heads > 0);
    RAGPERF_FUZZ_CHECK(config.max_seq_length > 0);
    (void)config.head_dim();
  } catch (const ragperf::ModelError&) {
  }
  try {
    RAGPERF_FUZZ_CHECK(ragperf::max_sequence_length(dir.path()) > 0);
  } catch (const ragperf::ModelError&) {
  }
  try {
    const auto tok = ragperf::WordPieceTokenizer::from_folder(dir.path());
    const auto ids = tok.encode("Hello, world! naïve 中文 [MASK] unaffable", 64);
    RAGPERF_FUZZ_CHECK(ids.size() >= 2 && ids.size() <= 64);
    for (int32_t id : ids) {
      RAGPERF_FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
    }
  } catch (const ragperf::ModelError&) {
  }
  return 0;
}
