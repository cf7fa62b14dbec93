// ragperf/model_locator.h defines how a model name (EMBED_MODEL, --model) becomes a model folder:
// an existing folder as is, or a Hugging Face hub id found in (or downloaded into) the Hugging
// Face cache.
//
//   ragperf::Settings s = ragperf::load_settings();
//   std::filesystem::path dir = ragperf::resolve_model(s.embed_model, s);
//   // "BAAI/bge-small-en" -> ~/.cache/huggingface/hub/models--BAAI--bge-small-en/snapshots/<sha>
//   auto tok = ragperf::WordPieceTokenizer::from_folder(dir);
//
// Cache folder: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub (the layout
// huggingface_hub writes: models--org--name/refs/<revision> holds a commit id, the files live in
// models--org--name/snapshots/<commit>/). A missing model is downloaded with libcurl from
// HF_ENDPOINT (no default: without it a missing model is an error that says so),
// `<endpoint>/<id>/resolve/<revision>/<file>`, with
// HF_TOKEN as bearer token when set; HF_HUB_OFFLINE=1 forbids downloads. Files are fetched into a
// temporary folder that is renamed into place only when every required file arrived whole, so an
// interrupted or failed download never leaves a broken model behind. A file larger than
// RAGPERF_MODEL_MAX_FILE_BYTES (default 4 GiB) stops its download, and a file whose SHA-256
// differs from the one the hub states for it (the X-Linked-Etag header the Hugging Face hub sends
// for LFS files, the weights among them) is refused: both fail the download with a ModelError.
//
// Thread-safety: resolve_model may be called from several threads and processes at once; two
// concurrent downloads of one model both succeed (the second rename yields to the first).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ragperf {

struct Settings;

/// A hub id: "org/name" (or a legacy "name"), optionally "@revision" (branch, tag or commit).
struct HubModelId {
  std::string repo;               // "BAAI/bge-small-en"
  std::string revision = "main";  // "main", "v1.0", a 40-hex commit id, "refs/pr/1"
};

/// Parses "org/name[@revision]"; nullopt when `text` is not shaped like a hub id.
std::optional<HubModelId> parse_hub_id(const std::string& text);

/// The hub cache folder the settings select (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub).
std::filesystem::path hub_cache_dir(const Settings& settings);

/// Files fetched for a sentence-transformers BERT folder, in download order.
struct ModelFile {
  const char* name;  // path inside the repository, e.g. "1_Pooling/config.json"
  bool required;     // a 404 on a required file fails the download
};
const std::vector<ModelFile>& model_files();

/// The model folder for `name_or_path`: an existing folder is returned unchanged; a hub id is
/// resolved in the cache and downloaded when missing. Throws ModelError naming the id, the URL
/// or path, and what to do (e.g. "no internet? set EMBED_MODEL to a local folder"); ConfigError
/// for a RAGPERF_MODEL_MAX_FILE_BYTES that is not a positive whole number.
std::filesystem::path resolve_model(const std::string& name_or_path, const Settings& settings);

}  // namespace ragperf
