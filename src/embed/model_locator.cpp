// Model folder or hub id -> folder: the Hugging Face cache layout and an atomic libcurl download.
#include "ragperf/model_locator.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "base/sha256.h"
#include "ragperf/config.h"
#include "ragperf/error.h"

namespace ragperf {

namespace {

namespace fs = std::filesystem;

// RAGPERF_MODEL_MAX_FILE_BYTES: the largest file a download accepts. 4 GiB holds the weights
// of the largest BERT-family embedders (bge-m3: 2.3 GB) and stops a hub that sends without end.
constexpr uint64_t kDefaultMaxFileBytes = uint64_t{4} << 30;
constexpr const char* kMaxFileBytesVar = "RAGPERF_MODEL_MAX_FILE_BYTES";

constexpr const char* kOfflineHint =
    "no internet? set EMBED_MODEL (or --model) to a local model folder, or HF_ENDPOINT to a "
    "reachable mirror";

bool is_commit_id(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

bool is_truthy(const std::optional<std::string>& v) {
  if (!v) return false;
  std::string s = *v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s == "1" || s == "true" || s == "yes" || s == "on";
}

std::string home_dir(const Settings& settings) {
  if (auto h = settings.lookup("HOME"); h && !h->empty()) return *h;
  return "/root";
}

fs::path expand_home(const std::string& path, const Settings& settings) {
  if (path == "~") return home_dir(settings);
  if (path.rfind("~/", 0) == 0) return fs::path(home_dir(settings)) / path.substr(2);
  return path;
}

std::string read_trimmed(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  return s;
}

/// Writes `content` to `path` atomically (temporary file + rename).
void write_atomically(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw ModelError("cannot write " + tmp.string() + "; check the cache folder");
  }
  fs::rename(tmp, path);
}

/// Present and complete enough to load: config, a tokenizer vocabulary and the weights.
bool folder_complete(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "config.json", ec) &&
         (fs::is_regular_file(dir / "vocab.txt", ec) ||
          fs::is_regular_file(dir / "tokenizer.json", ec)) &&
         fs::is_regular_file(dir / "model.safetensors", ec);
}

std::string missing_files(const fs::path& dir) {
  std::string out;
  auto note = [&](const std::string& f) { out += (out.empty() ? "" : ", ") + f; };
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec)) note("config.json");
  if (!fs::is_regular_file(dir / "vocab.txt", ec) &&
      !fs::is_regular_file(dir / "tokenizer.json", ec)) {
    note("vocab.txt or tokenizer.json");
  }
  if (!fs::is_regular_file(dir / "model.safetensors", ec)) note("model.safetensors");
  return out;
}

/// A truncated safetensors file is caught here even when the server sent no Content-Length:
/// the header must parse and its last tensor must end exactly at the end of the file.
std::optional<std::string> safetensors_problem(const fs::path& file) {
  std::error_code ec;
  uint64_t size = fs::file_size(file, ec);
  if (ec || size < 8) return "shorter than the 8-byte header length";
  std::ifstream in(file, std::ios::binary);
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > size - 8) return "header length exceeds the file size (truncated?)";
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  uint64_t data_size = size - 8 - header_len;
  try {
    auto j = nlohmann::json::parse(header);
    uint64_t end = 0;
    for (const auto& [name, t] : j.items()) {
      if (name == "__metadata__") continue;
      const auto& off = t.at("data_offsets");
      end = std::max(end, off.at(1).get<uint64_t>());
    }
    if (end != data_size) {
      return "tensor data ends at byte " + std::to_string(end) + " but the file holds " +
             std::to_string(data_size) + " data bytes (truncated?)";
    }
  } catch (const nlohmann::json::exception& e) {
    return std::string("header is not valid safetensors JSON (") + e.what() + ")";
  }
  return std::nullopt;
}

// ---- libcurl ----

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  FILE* file = nullptr;
  uint64_t max_bytes = 0;     // the body may hold at most this many bytes
  uint64_t n_bytes = 0;       // body bytes written so far
  bool too_large = false;     // the body passed max_bytes: the transfer was stopped
  base::Sha256 sha256;        // of the body
  std::string commit;         // X-Repo-Commit response header
  std::string linked_sha256;  // X-Linked-Etag: the SHA-256 the hub states for an LFS file
};

// The value of header `key` (lower-case, with the colon) in `line`, trimmed, or nullopt.
std::optional<std::string> header_value(std::string_view line, std::string_view key) {
  if (line.size() <= key.size()) return std::nullopt;
  for (size_t i = 0; i < key.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != key[i]) return std::nullopt;
  }
  std::string v(line.substr(key.size()));
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(v.begin());
  return v;
}

// A SHA-256 as a hub states it in an ETag ("\"<64 hex>\"", maybe weak: W/"..."), lower-case;
// empty when the tag is not one (a git blob id has 40 digits).
std::string sha256_of_etag(std::string tag) {
  if (tag.rfind("W/", 0) == 0) tag.erase(0, 2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
    tag = tag.substr(1, tag.size() - 2);
  if (tag.size() != 64) return "";
  for (char& c : tag) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return "";
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return tag;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (auto v = header_value(line, "x-repo-commit:")) t->commit = *v;
  if (auto v = header_value(line, "x-linked-etag:")) t->linked_sha256 = sha256_of_etag(*v);
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (bytes > t->max_bytes - t->n_bytes) {
    t->too_large = true;
    return 0;  // stops the transfer (CURLE_WRITE_ERROR)
  }
  t->n_bytes += bytes;
  t->sha256.update(std::string_view(data, bytes));
  return std::fwrite(data, size, n, t->file) * size == bytes ? bytes : 0;
}

struct CurlHandle {
  CURL* h = nullptr;
  curl_slist* headers = nullptr;
  CurlHandle() {
    curl_init_once();
    h = curl_easy_init();
    if (h == nullptr) throw ModelError("libcurl could not start a transfer");
  }
  ~CurlHandle() {
    if (headers != nullptr) curl_slist_free_all(headers);
    curl_easy_cleanup(h);
  }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
};

std::string url_escape(CURL* h, const std::string& s) {
  char* e = curl_easy_escape(h, s.c_str(), static_cast<int>(s.size()));
  std::string out = e != nullptr ? e : s;
  curl_free(e);
  return out;
}

enum class FetchResult { kOk, kNotFound };

/// Downloads `url` into `dest`, at most `max_bytes` bytes; kNotFound on HTTP 404; throws
/// ModelError on anything else, for a file over the limit and for one whose SHA-256 differs from
/// the one the hub states (X-Linked-Etag, sent for the large LFS files such as the weights).
FetchResult fetch(CurlHandle& c, const std::string& url, const fs::path& dest,
                  const std::string& repo, uint64_t max_bytes, std::string& commit) {
  fs::create_directories(dest.parent_path());
  Transfer t;
  t.max_bytes = max_bytes;
  t.file = std::fopen(dest.c_str(), "wb");
  if (t.file == nullptr) {
    throw ModelError("cannot create " + dest.string() + ": " + std::strerror(errno) +
                     "; check that the Hugging Face cache folder is writable (HF_HUB_CACHE)");
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c.h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(c.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_USERAGENT, "ragperf/0.1");
  curl_easy_setopt(c.h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &t);
  // A stated Content-Length over the limit fails before the body; on_body counts the rest.
  curl_easy_setopt(c.h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_bytes));
  if (c.headers != nullptr) curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
  CURLcode rc = curl_easy_perform(c.h);
  long status = 0;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  bool close_failed = std::fclose(t.file) != 0;
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    throw ModelError("cannot download model " + repo + ": " + url + " is larger than " +
                     kMaxFileBytesVar + "=" + std::to_string(max_bytes) +
                     " bytes; raise it if the model's files are really that large");
  }
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    throw ModelError("cannot download model " + repo + ": " + url + " failed (" + why + "); " +
                     kOfflineHint);
  }
  if (status == 404) return FetchResult::kNotFound;
  if (status == 401 || status == 403) {
    throw ModelError("cannot download model " + repo + ": " + url + " answered HTTP " +
                     std::to_string(status) +
                     " (no such repository, or a gated/private one); check the id, or set "
                     "HF_TOKEN to a token that may read it");
  }
  if (status < 200 || status >= 300) {
    throw ModelError("cannot download model " + repo + ": " + url + " answered HTTP " +
                     std::to_string(status) + "; retry later, or " + kOfflineHint);
  }
  if (close_failed) {
    throw ModelError("cannot write " + dest.string() + " (disk full?) while downloading " + repo);
  }
  if (!t.linked_sha256.empty()) {
    if (const std::string got = t.sha256.hex(); got != t.linked_sha256) {
      throw ModelError("downloaded " + url + " for " + repo + " has SHA-256 " + got + ", not the " +
                       t.linked_sha256 +
                       " the hub states (corrupted in transit, or a bad mirror); retry the "
                       "download or check HF_ENDPOINT");
    }
  }
  if (!t.commit.empty() && commit.empty()) commit = t.commit;
  return FetchResult::kOk;
}

/// Removes a folder tree when it goes out of scope unless released.
struct TreeGuard {
  fs::path path;
  ~TreeGuard() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string random_suffix() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d-%08x", static_cast<int>(::getpid()), rd());
  return buf;
}

// RAGPERF_MODEL_MAX_FILE_BYTES, or its default; ConfigError naming it when it is not a positive
// whole number.
uint64_t max_file_bytes(const Settings& settings) {
  const std::optional<std::string> v = settings.lookup(kMaxFileBytesVar);
  if (!v || v->empty()) return kDefaultMaxFileBytes;
  uint64_t n = 0;
  const char* end = v->data() + v->size();
  const auto [ptr, err] = std::from_chars(v->data(), end, n);
  if (err != std::errc() || ptr != end || n == 0) {
    throw ConfigError(std::string(kMaxFileBytesVar) + "='" + *v +
                      "': use a positive whole number of bytes (default " +
                      std::to_string(kDefaultMaxFileBytes) + ", 4 GiB)");
  }
  return n;
}

fs::path download(const HubModelId& id, const Settings& settings, const fs::path& repo_dir) {
  const uint64_t max_bytes = max_file_bytes(settings);
  std::string endpoint = settings.lookup("HF_ENDPOINT").value_or("");
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();

  std::error_code ec;
  fs::create_directories(repo_dir, ec);
  if (ec) {
    throw ModelError("cannot create " + repo_dir.string() + " for model " + id.repo + ": " +
                     ec.message() + "; set HF_HUB_CACHE to a writable folder");
  }
  TreeGuard tmp{repo_dir / (".ragperf-download-" + random_suffix())};
  fs::create_directories(tmp.path);

  CurlHandle curl;
  if (auto token = settings.lookup("HF_TOKEN"); token && !token->empty()) {
    curl.headers = curl_slist_append(curl.headers, ("Authorization: Bearer " + *token).c_str());
  }
  const std::string base =
      endpoint + "/" + id.repo + "/resolve/" + url_escape(curl.h, id.revision) + "/";
  std::string commit;
  for (const ModelFile& f : model_files()) {
    const std::string url = base + f.name;
    const fs::path dest = tmp.path / f.name;
    if (fetch(curl, url, dest, id.repo, max_bytes, commit) == FetchResult::kNotFound) {
      fs::remove(dest, ec);
      if (f.required) {
        throw ModelError("cannot download model " + id.repo + ": " + url +
                         " answered HTTP 404; check the model id and revision (a "
                         "sentence-transformers BERT model needs " +
                         f.name + ")");
      }
    }
  }
  if (!folder_complete(tmp.path)) {
    throw ModelError("cannot download model " + id.repo + " from " + base +
                     ": the repository has no " + missing_files(tmp.path) +
                     "; ragperf reads BERT models with model.safetensors and vocab.txt or "
                     "tokenizer.json");
  }
  if (auto problem = safetensors_problem(tmp.path / "model.safetensors")) {
    throw ModelError("downloaded " + base + "model.safetensors for " + id.repo +
                     " is broken: " + *problem + "; retry the download");
  }

  std::string snapshot_name = commit;
  if (!is_commit_id(snapshot_name)) snapshot_name = is_commit_id(id.revision) ? id.revision : "";
  if (snapshot_name.empty()) {
    snapshot_name = id.revision;
    std::replace(snapshot_name.begin(), snapshot_name.end(), '/', '-');
  }
  const fs::path snapshot = repo_dir / "snapshots" / snapshot_name;
  fs::create_directories(snapshot.parent_path());
  fs::rename(tmp.path, snapshot, ec);
  if (ec) {
    // Another download won the race, or a partial snapshot from another tool is there.
    if (!folder_complete(snapshot)) {
      for (const ModelFile& f : model_files()) {
        fs::path from = tmp.path / f.name;
        if (!fs::exists(from)) continue;
        fs::create_directories((snapshot / f.name).parent_path());
        fs::rename(from, snapshot / f.name);
      }
    }
  } else {
    tmp.path.clear();
  }
  if (!is_commit_id(id.revision)) {
    write_atomically(repo_dir / "refs" / id.revision, snapshot_name);
  }
  return snapshot;
}

bool valid_id_part(const std::string& s) {
  if (s.empty() || s.size() > 96 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

std::optional<HubModelId> parse_hub_id(const std::string& text) {
  HubModelId id;
  std::string repo = text;
  if (auto at = text.find('@'); at != std::string::npos) {
    repo = text.substr(0, at);
    id.revision = text.substr(at + 1);
    if (id.revision.empty() || id.revision.find("..") != std::string::npos ||
        id.revision.front() == '/' || id.revision.back() == '/') {
      return std::nullopt;
    }
  }
  auto slash = repo.find('/');
  if (slash == std::string::npos) {
    if (!valid_id_part(repo)) return std::nullopt;
  } else {
    if (repo.find('/', slash + 1) != std::string::npos) return std::nullopt;
    if (!valid_id_part(repo.substr(0, slash)) || !valid_id_part(repo.substr(slash + 1))) {
      return std::nullopt;
    }
  }
  id.repo = repo;
  return id;
}

fs::path hub_cache_dir(const Settings& settings) {
  if (auto v = settings.lookup("HF_HUB_CACHE"); v && !v->empty()) return expand_home(*v, settings);
  if (auto v = settings.lookup("HF_HOME"); v && !v->empty()) {
    return expand_home(*v, settings) / "hub";
  }
  return fs::path(home_dir(settings)) / ".cache" / "huggingface" / "hub";
}

const std::vector<ModelFile>& model_files() {
  static const std::vector<ModelFile> files = {
      {"config.json", true},
      {"tokenizer_config.json", false},
      {"vocab.txt", false},  // one of vocab.txt and tokenizer.json is required
      {"tokenizer.json", false},
      {"special_tokens_map.json", false},
      {"modules.json", false},
      {"sentence_bert_config.json", false},
      {"1_Pooling/config.json", false},
      {"model.safetensors", true},
  };
  return files;
}

fs::path resolve_model(const std::string& name_or_path, const Settings& settings) {
  if (name_or_path.empty()) {
    throw ModelError(
        "no model given: set EMBED_MODEL (or --model) to a model folder or a "
        "Hugging Face hub id such as BAAI/bge-small-en");
  }
  const fs::path path = expand_home(name_or_path, settings);
  std::error_code ec;
  if (fs::is_directory(path, ec)) return path;
  if (fs::exists(path, ec)) {
    throw ModelError("model " + name_or_path +
                     " is a file, not a model folder; set EMBED_MODEL "
                     "to the folder that holds config.json and model.safetensors");
  }
  const bool looks_like_path = name_or_path.front() == '/' || name_or_path.front() == '.' ||
                               name_or_path.front() == '~' ||
                               name_or_path.find('\\') != std::string::npos;
  std::optional<HubModelId> id;
  if (!looks_like_path) id = parse_hub_id(name_or_path);
  if (!id) {
    throw ModelError("model folder " + name_or_path +
                     " does not exist and is not a Hugging Face hub id (org/name[@revision]); "
                     "set EMBED_MODEL to an existing folder or a hub id");
  }

  const fs::path cache = hub_cache_dir(settings);
  std::string folder_name = "models--" + id->repo;
  for (size_t p = folder_name.find('/'); p != std::string::npos; p = folder_name.find('/')) {
    folder_name.replace(p, 1, "--");
  }
  const fs::path repo_dir = cache / folder_name;

  fs::path snapshot;
  if (is_commit_id(id->revision)) {
    snapshot = repo_dir / "snapshots" / id->revision;
  } else if (fs::is_regular_file(repo_dir / "refs" / id->revision, ec)) {
    std::string commit = read_trimmed(repo_dir / "refs" / id->revision);
    if (!commit.empty() && commit.find('/') == std::string::npos && commit != "..") {
      snapshot = repo_dir / "snapshots" / commit;
    }
  }
  if (!snapshot.empty() && folder_complete(snapshot)) return snapshot;

  if (is_truthy(settings.lookup("HF_HUB_OFFLINE"))) {
    std::string where = snapshot.empty() ? repo_dir.string() : snapshot.string();
    throw ModelError("model " + name_or_path + " is not in the Hugging Face cache (" + where +
                     (snapshot.empty() ? "" : " lacks " + missing_files(snapshot)) +
                     ") and HF_HUB_OFFLINE forbids downloading it; unset HF_HUB_OFFLINE, or set "
                     "EMBED_MODEL to a local model folder");
  }
  const std::optional<std::string> endpoint = settings.lookup("HF_ENDPOINT");
  if (!endpoint || endpoint->empty()) {
    // No built-in hub address: ragperf downloads only from a hub the user names.
    throw ModelError("model " + name_or_path + " is not in the Hugging Face cache (" +
                     (snapshot.empty() ? repo_dir.string() : snapshot.string()) +
                     "); set HF_ENDPOINT to the URL of the hub to download it from (and HF_TOKEN "
                     "if it needs one), or set EMBED_MODEL (or --model) to a local model folder");
  }
  return download(*id, settings, repo_dir);
}

}  // namespace ragperf
