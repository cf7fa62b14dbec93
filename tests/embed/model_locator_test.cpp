// resolve_model: folders, hub ids in the Hugging Face cache layout, and downloads from a local
// HTTP server (python3's http.server with a handler that can fail a file half-way), checking that
// a failed download leaves nothing behind.
#include "ragperf/model_locator.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "ragperf/config.h"
#include "ragperf/error.h"
#include "testing/testing.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;
using Env = std::map<std::string, std::string>;

constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

Settings settings_with(const Env& env) {
  return load_settings(env, {});
}

std::string model_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// A minimal valid safetensors file: one F32 tensor of `n` zeros.
std::string tiny_safetensors(size_t n = 4) {
  std::string header = R"({"w":{"dtype":"F32","shape":[)" + std::to_string(n) +
                       R"(],"data_offsets":[0,)" + std::to_string(n * 4) + "]}}";
  std::string out(8, '\0');
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xFF);
  return out + header + std::string(n * 4, '\0');
}

/// The files of a small sentence-transformers BERT folder.
std::map<std::string, std::string> model_folder_files() {
  return {
      {"config.json", R"({"model_type": "bert", "hidden_size": 4})"},
      {"vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"},
      {"tokenizer_config.json", R"({"do_lower_case": true})"},
      {"modules.json", "[]"},
      {"1_Pooling/config.json", R"({"pooling_mode_mean_tokens": true})"},
      {"model.safetensors", tiny_safetensors()},
  };
}

void write_folder(const fs::path& dir, const std::map<std::string, std::string>& files) {
  for (const auto& [name, content] : files) testing::write_file(dir / name, content);
}

constexpr const char* kServerScript = R"PY(
import hashlib, http.server, os, socket, sys, urllib.parse
root, port_file = sys.argv[1], sys.argv[2]
commit = os.environ.get("FAKE_COMMIT", "")
truncate = os.environ.get("FAKE_TRUNCATE", "")
token = os.environ.get("FAKE_TOKEN", "")
linked_sha256 = os.environ.get("FAKE_LINKED_SHA256", "")  # "right" or "wrong", for .safetensors
log = open(os.path.join(os.path.dirname(port_file), "requests.log"), "a")

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        log.write(self.path + " " + str(self.headers.get("Authorization")) + "\n")
        log.flush()
        if token and self.headers.get("Authorization") != "Bearer " + token:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(root, urllib.parse.unquote(self.path.lstrip("/")))
        if not os.path.isfile(path):
            body = b"Entry not found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = open(path, "rb").read()
        self.send_response(200)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        if linked_sha256 and self.path.endswith(".safetensors"):
            digest = hashlib.sha256(data).hexdigest()
            if linked_sha256 == "wrong":
                digest = hashlib.sha256(data + b"x").hexdigest()
            self.send_header("X-Linked-Etag", '"' + digest.upper() + '"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if truncate and self.path.endswith(truncate):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
)PY";

/// python3 serving `root` on a free loopback port until destroyed.
class LocalHub {
 public:
  explicit LocalHub(const fs::path& root, const Env& env = {}) {
    testing::write_file(dir_ / "server.py", kServerScript);
    const fs::path port_file = dir_ / "port";
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      ::execlp("python3", "python3", (dir_ / "server.py").c_str(), root.c_str(), port_file.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!fs::exists(port_file)) {
      ADD_FAILURE() << "python3 http server did not start (python3 missing? scripts/setup.sh "
                       "installs it)";
      return;
    }
    endpoint_ = "http://127.0.0.1:" + testing::read_file(port_file);
  }
  ~LocalHub() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  LocalHub(const LocalHub&) = delete;
  LocalHub& operator=(const LocalHub&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  std::string requests() const { return testing::read_file(dir_ / "requests.log"); }

 private:
  testing::TempDir dir_;
  pid_t pid_ = -1;
  std::string endpoint_;
};

/// Nothing but finished snapshots, refs and no temporary folders under the cache.
std::vector<std::string> leftovers(const fs::path& cache) {
  std::vector<std::string> out;
  if (!fs::exists(cache)) return out;
  for (const auto& e : fs::recursive_directory_iterator(cache)) {
    out.push_back(fs::relative(e.path(), cache).string());
  }
  return out;
}

TEST(HubId, Parses) {
  auto id = parse_hub_id("BAAI/bge-small-en");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->repo, "BAAI/bge-small-en");
  EXPECT_EQ(id->revision, "main");
  id = parse_hub_id("sentence-transformers/all-MiniLM-L6-v2@v1.0");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->repo, "sentence-transformers/all-MiniLM-L6-v2");
  EXPECT_EQ(id->revision, "v1.0");
  id = parse_hub_id("bert-base-uncased");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->repo, "bert-base-uncased");
  for (const char* bad :
       {"a/b/c", "/abs/path", "a/", "/b", "a b/c", "org/name@", "org/..", "org/name@../x", ""}) {
    EXPECT_FALSE(parse_hub_id(bad)) << bad;
  }
}

TEST(HubCacheDir, FollowsHuggingFacePrecedence) {
  EXPECT_EQ(hub_cache_dir(settings_with({{"HOME", "/home/u"}})),
            fs::path("/home/u/.cache/huggingface/hub"));
  EXPECT_EQ(hub_cache_dir(settings_with({{"HOME", "/home/u"}, {"HF_HOME", "/data/hf"}})),
            fs::path("/data/hf/hub"));
  EXPECT_EQ(hub_cache_dir(settings_with(
                {{"HOME", "/home/u"}, {"HF_HOME", "/data/hf"}, {"HF_HUB_CACHE", "/cache"}})),
            fs::path("/cache"));
  EXPECT_EQ(hub_cache_dir(settings_with({{"HOME", "/home/u"}, {"HF_HOME", "~/hf"}})),
            fs::path("/home/u/hf/hub"));
}

TEST(ResolveModel, ExistingFolderIsReturnedAsIs) {
  testing::TempDir tmp;
  Settings s = settings_with({{"HOME", tmp.path().string()}});
  EXPECT_EQ(resolve_model(tmp.path().string(), s), tmp.path());
  fs::create_directories(tmp / "org" / "name");
  // A relative folder that exists wins over the hub id it also looks like.
  fs::path old = fs::current_path();
  fs::current_path(tmp.path());
  EXPECT_EQ(resolve_model("org/name", s), fs::path("org/name"));
  fs::current_path(old);
  testing::write_file(tmp / "file.txt", "x");
  EXPECT_TRUE(contains(model_error([&] { resolve_model((tmp / "file.txt").string(), s); }),
                       "is a file, not a model folder"));
  std::string err = model_error([&] { resolve_model((tmp / "missing").string(), s); });
  EXPECT_TRUE(contains(err, "does not exist")) << err;
  EXPECT_TRUE(contains(err, "EMBED_MODEL")) << err;
  EXPECT_TRUE(contains(model_error([&] { resolve_model("", s); }), "EMBED_MODEL"));
}

TEST(ResolveModel, FindsHubIdsInTheCacheLayout) {
  testing::TempDir tmp;
  const fs::path repo = tmp / "hub" / "models--org--name";
  write_folder(repo / "snapshots" / kCommit, model_folder_files());
  testing::write_file(repo / "refs" / "main", std::string(kCommit) + "\n");
  const std::string other = "fedcba9876543210fedcba9876543210fedcba98";
  write_folder(repo / "snapshots" / other, model_folder_files());
  testing::write_file(repo / "refs" / "v2", other);
  // No endpoint is reachable: a lookup that tried the network would fail.
  Settings s = settings_with(
      {{"HF_HUB_CACHE", (tmp / "hub").string()}, {"HF_ENDPOINT", "http://127.0.0.1:1"}});
  EXPECT_EQ(resolve_model("org/name", s), repo / "snapshots" / kCommit);
  EXPECT_EQ(resolve_model("org/name@v2", s), repo / "snapshots" / other);
  EXPECT_EQ(resolve_model(std::string("org/name@") + other, s), repo / "snapshots" / other);

  Settings via_home = settings_with({{"HF_HOME", tmp.path().string()}});
  EXPECT_EQ(resolve_model("org/name", via_home), repo / "snapshots" / kCommit);
  fs::rename(tmp / "hub", tmp / ".cache");
  fs::create_directories(tmp / "home" / ".cache" / "huggingface");
  fs::rename(tmp / ".cache", tmp / "home" / ".cache" / "huggingface" / "hub");
  Settings via_default = settings_with({{"HOME", (tmp / "home").string()}});
  EXPECT_EQ(resolve_model("org/name", via_default),
            tmp / "home" / ".cache/huggingface/hub/models--org--name/snapshots" / kCommit);
}

TEST(ResolveModel, WithoutHfEndpointNothingIsDownloaded) {
  testing::TempDir tmp;
  Settings s = settings_with({{"HF_HUB_CACHE", tmp.path().string()}});
  std::string err = model_error([&] { resolve_model("org/absent", s); });
  EXPECT_TRUE(contains(err, "org/absent")) << err;
  EXPECT_TRUE(contains(err, "set HF_ENDPOINT")) << err;
  EXPECT_TRUE(fs::is_empty(tmp.path())) << "nothing written";
}

TEST(ResolveModel, OfflineModeNamesTheMissingModel) {
  testing::TempDir tmp;
  Settings s = settings_with({{"HF_HUB_CACHE", tmp.path().string()}, {"HF_HUB_OFFLINE", "1"}});
  std::string err = model_error([&] { resolve_model("org/absent", s); });
  EXPECT_TRUE(contains(err, "org/absent")) << err;
  EXPECT_TRUE(contains(err, "HF_HUB_OFFLINE")) << err;
  // An incomplete snapshot (say, an interrupted huggingface_hub download) is not used.
  const fs::path repo = tmp / "models--org--partial";
  testing::write_file(repo / "refs" / "main", kCommit);
  testing::write_file(repo / "snapshots" / kCommit / "config.json", "{}");
  err = model_error([&] { resolve_model("org/partial", s); });
  EXPECT_TRUE(contains(err, "model.safetensors")) << err;
}

class Download : public ::testing::Test {
 protected:
  testing::TempDir served;  // <id>/resolve/<revision>/<file>
  testing::TempDir cache;

  void serve(const std::string& id, const std::string& revision,
             std::map<std::string, std::string> files) {
    write_folder(served / (id + "/resolve/" + revision), files);
  }
  Settings settings(const std::string& endpoint, const Env& extra = {}) {
    Env env = {{"HF_HUB_CACHE", cache.path().string()}, {"HF_ENDPOINT", endpoint}};
    for (const auto& [k, v] : extra) env[k] = v;
    return settings_with(env);
  }
};

TEST_F(Download, FetchesIntoTheCacheLayoutOnce) {
  serve("org/name", "main", model_folder_files());
  fs::path snapshot;
  {
    LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}});
    snapshot = resolve_model("org/name", settings(hub.endpoint() + "/"));
    const std::string log = hub.requests();
    EXPECT_TRUE(contains(log, "/org/name/resolve/main/config.json")) << log;
    EXPECT_TRUE(contains(log, "/org/name/resolve/main/1_Pooling/config.json")) << log;
    EXPECT_TRUE(contains(log, "/org/name/resolve/main/tokenizer.json")) << log;  // 404: optional
  }
  const fs::path repo = cache / "models--org--name";
  EXPECT_EQ(snapshot, repo / "snapshots" / kCommit);
  EXPECT_EQ(testing::read_file(repo / "refs" / "main"), kCommit);
  for (const auto& [name, content] : model_folder_files()) {
    EXPECT_EQ(testing::read_file(snapshot / name), content) << name;
  }
  EXPECT_FALSE(fs::exists(snapshot / "tokenizer.json"));
  EXPECT_FALSE(fs::exists(snapshot / "sentence_bert_config.json"));
  for (const auto& p : leftovers(cache.path())) {
    EXPECT_EQ(p.find(".ragperf-download"), std::string::npos) << p;
    EXPECT_EQ(p.find(".tmp"), std::string::npos) << p;
  }
  // The server is gone: the second lookup is served from the cache.
  EXPECT_EQ(resolve_model("org/name", settings("http://127.0.0.1:1")), snapshot);
}

TEST_F(Download, RevisionsAndTokensAreSent) {
  serve("org/name", "v1.0", model_folder_files());
  LocalHub hub(served.path(), {{"FAKE_TOKEN", "secret-token"}});
  std::string err = model_error([&] { resolve_model("org/name@v1.0", settings(hub.endpoint())); });
  EXPECT_TRUE(contains(err, "HTTP 401")) << err;
  EXPECT_TRUE(contains(err, "HF_TOKEN")) << err;
  EXPECT_TRUE(leftovers(cache.path() / "models--org--name").empty());

  fs::path snapshot =
      resolve_model("org/name@v1.0", settings(hub.endpoint(), {{"HF_TOKEN", "secret-token"}}));
  // Without X-Repo-Commit the snapshot is named after the revision; refs point at it.
  EXPECT_EQ(snapshot, cache / "models--org--name" / "snapshots" / "v1.0");
  EXPECT_EQ(testing::read_file(cache / "models--org--name" / "refs" / "v1.0"), "v1.0");
  EXPECT_TRUE(fs::exists(snapshot / "model.safetensors"));
}

TEST_F(Download, MissingRequiredFileLeavesNothingBehind) {
  auto files = model_folder_files();
  files.erase("model.safetensors");
  serve("org/name", "main", files);
  LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}});
  std::string err = model_error([&] { resolve_model("org/name", settings(hub.endpoint())); });
  EXPECT_TRUE(contains(err, "org/name")) << err;
  EXPECT_TRUE(contains(err, hub.endpoint() + "/org/name/resolve/main/model.safetensors")) << err;
  EXPECT_TRUE(contains(err, "404")) << err;
  EXPECT_EQ(leftovers(cache.path()), std::vector<std::string>{"models--org--name"});

  // No vocabulary at all is an error too.
  files = model_folder_files();
  files.erase("vocab.txt");
  serve("org/novocab", "main", files);
  err = model_error([&] { resolve_model("org/novocab", settings(hub.endpoint())); });
  EXPECT_TRUE(contains(err, "vocab.txt or tokenizer.json")) << err;
  EXPECT_TRUE(fs::is_empty(cache / "models--org--novocab"));
}

TEST_F(Download, ConnectionDroppedMidFileLeavesNothingBehind) {
  auto files = model_folder_files();
  files["model.safetensors"] = tiny_safetensors(100000);
  serve("org/name", "main", files);
  LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}, {"FAKE_TRUNCATE", "model.safetensors"}});
  std::string err = model_error([&] { resolve_model("org/name", settings(hub.endpoint())); });
  EXPECT_TRUE(contains(err, "org/name")) << err;
  EXPECT_TRUE(contains(err, "model.safetensors")) << err;
  EXPECT_TRUE(fs::is_empty(cache / "models--org--name")) << err;
  EXPECT_FALSE(fs::exists(cache / "models--org--name" / "refs"));
}

TEST_F(Download, TruncatedWeightsFileIsRejected) {
  auto files = model_folder_files();
  std::string weights = tiny_safetensors(1000);
  files["model.safetensors"] = weights.substr(0, weights.size() - 100);
  serve("org/name", "main", files);
  LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}});
  std::string err = model_error([&] { resolve_model("org/name", settings(hub.endpoint())); });
  EXPECT_TRUE(contains(err, "model.safetensors")) << err;
  EXPECT_TRUE(contains(err, "broken")) << err;
  EXPECT_TRUE(fs::is_empty(cache / "models--org--name"));
}

// A file over RAGPERF_MODEL_MAX_FILE_BYTES stops the download (it used to be fetched whatever its
// size); the limit must be a positive whole number.
TEST_F(Download, FileOverTheSizeLimitIsRefused) {
  auto files = model_folder_files();
  files["model.safetensors"] = tiny_safetensors(100000);  // 400 KB
  serve("org/name", "main", files);
  LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}});
  std::string err = model_error([&] {
    resolve_model("org/name",
                  settings(hub.endpoint(), {{"RAGPERF_MODEL_MAX_FILE_BYTES", "100000"}}));
  });
  EXPECT_TRUE(contains(err,
                       "/org/name/resolve/main/model.safetensors is larger than "
                       "RAGPERF_MODEL_MAX_FILE_BYTES=100000 bytes"))
      << err;
  EXPECT_TRUE(fs::is_empty(cache / "models--org--name")) << err;
  EXPECT_THROW(
      resolve_model("org/name", settings(hub.endpoint(), {{"RAGPERF_MODEL_MAX_FILE_BYTES", "4k"}})),
      ConfigError);
  // Within the limit it downloads.
  EXPECT_TRUE(
      fs::exists(resolve_model("org/name", settings(hub.endpoint(),
                                                    {{"RAGPERF_MODEL_MAX_FILE_BYTES", "500000"}})) /
                 "model.safetensors"));
}

// A file whose SHA-256 differs from the one the hub states (X-Linked-Etag) is refused and nothing
// is kept (it used to be accepted unchecked); a matching one is accepted.
TEST_F(Download, WeightsThatDoNotMatchTheStatedHashAreRefused) {
  serve("org/name", "main", model_folder_files());
  {
    LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}, {"FAKE_LINKED_SHA256", "wrong"}});
    std::string err = model_error([&] { resolve_model("org/name", settings(hub.endpoint())); });
    EXPECT_TRUE(contains(err, "/org/name/resolve/main/model.safetensors for org/name has SHA-256"))
        << err;
    EXPECT_TRUE(contains(err, "retry the download")) << err;
    EXPECT_TRUE(fs::is_empty(cache / "models--org--name")) << err;
  }
  LocalHub hub(served.path(), {{"FAKE_COMMIT", kCommit}, {"FAKE_LINKED_SHA256", "right"}});
  EXPECT_TRUE(
      fs::exists(resolve_model("org/name", settings(hub.endpoint())) / "model.safetensors"));
}

TEST_F(Download, UnreachableEndpointSaysWhatToDo) {
  // Port 9 (discard) on loopback: nothing listens there.
  std::string err = model_error([&] { resolve_model("org/name", settings("http://127.0.0.1:9")); });
  EXPECT_TRUE(contains(err, "org/name")) << err;
  EXPECT_TRUE(contains(err, "http://127.0.0.1:9/org/name/resolve/main/config.json")) << err;
  EXPECT_TRUE(contains(err, "no internet? set EMBED_MODEL")) << err;
  EXPECT_TRUE(fs::is_empty(cache / "models--org--name"));
}

}  // namespace
}  // namespace ragperf
