// tests/server/server_test_support.h: a Server started in-process on a free port over a real
// LocalStore (under a temporary RAGPERF_HOME) and the small static model of
// tests/data/retrieve_model, and a libcurl client with timeouts so that no test can hang.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/monitor.h"
#include "ragperf/semantic_cache.h"
#include "ragperf/server.h"
#include "ragperf/vector_store.h"
#include "testing/testing.h"

namespace ragperf::testing {

/// One HTTP answer.
struct Reply {
  long status = 0;  // 0: no answer (see `error`)
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string error;                           // libcurl's message when the request failed
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

/// A libcurl easy handle: requests made with one client reuse its connection (keep-alive).
class HttpClient {
 public:
  explicit HttpClient(uint16_t port, long timeout_s = 20)
      : base_("http://127.0.0.1:" + std::to_string(port)), timeout_s_(timeout_s) {
    static const bool initialised = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == 0; }();
    EXPECT_TRUE(initialised);
    curl_ = curl_easy_init();
  }
  ~HttpClient() { curl_easy_cleanup(curl_); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Reply get(const std::string& path) { return request("GET", path, "", ""); }
  Reply post(const std::string& path, const std::string& body,
             const std::string& content_type = "application/json") {
    return request("POST", path, body, content_type);
  }
  Reply post_json(const std::string& path, const nlohmann::json& body) {
    return post(path, body.dump());
  }

  /// `content_type` "" sends no Content-Type header.
  Reply request(const std::string& method, const std::string& path, const std::string& body,
                const std::string& content_type) {
    Reply reply;
    curl_easy_reset(curl_);
    const std::string url = base_ + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, timeout_s_);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(
        headers, ("Content-Type:" + (content_type.empty() ? "" : " " + content_type)).c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    if (method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    } else {
      if (method != "POST") curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    }
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpClient::on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &HttpClient::on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &reply);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      reply.error = curl_easy_strerror(rc);
      return reply;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &new_connections_);
    return reply;
  }

  /// Connections the last request had to open (0: it reused the kept-alive one).
  long new_connections() const { return new_connections_; }

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    static_cast<Reply*>(user)->body.append(data, size * n);
    return size * n;
  }
  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    const std::string line(data, size * n);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t\r\n") + 1);
      static_cast<Reply*>(user)->headers[name] = value;
    }
    return size * n;
  }

  std::string base_;
  long timeout_s_;
  CURL* curl_ = nullptr;
  long new_connections_ = -1;
};

/// Sends `bytes` on a fresh connection and returns everything read until the server closes it
/// (or 10 s pass).
inline std::string raw_exchange(uint16_t port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket() failed";
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

/// Texts stored in the tables "docs" and "notes" (words of tests/data/retrieve_model).
inline const std::vector<std::string>& server_test_docs() {
  static const std::vector<std::string> docs = {
      "You can create an index concurrently so that writes to the table are not locked out "
      "while the index is built",
      "A btree index handles equality and range queries. A hash index handles only equality",
      "VACUUM FULL rewrites the whole table into a new disk file and reclaims the space of dead "
      "rows",
      "To configure streaming replication create a standby server from a base backup of the "
      "primary",
      "A replication slot keeps the primary from removing WAL that a standby still needs",
  };
  return docs;
}
inline const std::vector<std::string>& server_test_notes() {
  static const std::vector<std::string> notes = {
      "Plain vacuum marks dead row space for reuse without an exclusive lock",
      "The standby connects to the primary and streams WAL records as they are generated",
  };
  return notes;
}

/// A temporary RAGPERF_HOME with the test model, a LocalStore holding "docs" and "notes", and
/// the components a Server needs (one monitor shared by all of them).
class ServerHome {
 public:
  explicit ServerHome(std::shared_ptr<EmbeddingModel> model = nullptr) {
    namespace fs = std::filesystem;
    fs::copy(source_dir() / "tests" / "data" / "retrieve_model", model_dir(),
             fs::copy_options::recursive);
    settings_ = load_settings({{"RAGPERF_HOME", (dir_ / "home").string()}}, dir_ / "no.env");
    model_ = model ? model : load_embedding_model(model_dir().string(), settings_);
    store_ = open_store(settings_);
    add("docs", server_test_docs());
    add("notes", server_test_notes());
  }

  std::filesystem::path model_dir() const { return dir_ / "model"; }
  const Settings& settings() const { return settings_; }
  std::shared_ptr<EmbeddingModel> model() const { return model_; }
  std::shared_ptr<VectorStore> store() const { return store_; }
  /// Components made after this call use `model` (e.g. a wrapper of model()) / `store`.
  void use_model(std::shared_ptr<EmbeddingModel> model) { model_ = std::move(model); }
  void use_store(std::shared_ptr<VectorStore> store) { store_ = std::move(store); }

  /// Stores `texts` in `table` (created with the model), ids "<table>-<i>".
  void add(const std::string& table, const std::vector<std::string>& texts,
           Metric metric = Metric::kCosine) {
    store_->ensure_collection(table, model_->dim(), metric, model_->id());
    EmbeddingMatrix m = model_->embed(texts);
    std::vector<Chunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      Chunk c;
      c.id = table + "-" + std::to_string(i);
      c.text = texts[i];
      c.source = table + ".txt";
      c.metadata_json = R"({"n": )" + std::to_string(i) + "}";
      c.embedding.assign(m.row(i).begin(), m.row(i).end());
      chunks.push_back(std::move(c));
    }
    store_->add(table, chunks);
  }

  /// Components sharing one monitor; `cache` false leaves the cache out.
  ServerComponents components(bool cache = true) {
    ServerComponents parts;
    parts.monitor = std::make_shared<PerformanceMonitor>();
    parts.store = store_;
    parts.embedder = std::make_shared<AsyncEmbedding>(
        model_, AsyncEmbeddingOptions{.batch_size = 32, .monitor = parts.monitor.get()});
    if (cache) {
      parts.cache = std::make_shared<SemanticCache>(SemanticCacheOptions{}, parts.monitor.get());
    }
    return parts;
  }

 private:
  TempDir dir_;
  Settings settings_;
  std::shared_ptr<EmbeddingModel> model_;
  std::shared_ptr<VectorStore> store_;
};

/// ServerHome + a started Server on a free port.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override {
    if (server_) server_->stop();
  }

  void start(ServerOptions options, bool cache = true) {
    if (server_) server_->stop();
    options.port = 0;
    parts_ = home_.components(cache);
    server_ = std::make_unique<Server>(options, parts_);
    server_->start();
    ASSERT_NE(server_->port(), 0);
  }

  ServerHome home_;
  ServerComponents parts_;
  std::unique_ptr<Server> server_;
};

}  // namespace ragperf::testing
