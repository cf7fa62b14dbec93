// `ragperf serve` as a user runs it: a child process on a free port over an embedded store,
// one query over HTTP, then SIGTERM -> exit 0.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "retrieve_cli_support.h"
#include "server/server_test_support.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using ragperf::testing::CommandResult;
using ragperf::testing::HttpClient;
using ragperf::testing::Reply;
using ragperf::testing::RetrieveCliHome;

// A child `ragperf serve ...` whose stdout is read line by line; killed if still running at the
// end of the test.
class ServeProcess {
 public:
  ServeProcess(const RetrieveCliHome& home, const std::string& args) {
    err_path_ = home.dir() / "serve.err";
    const std::string cmd = "cd '" + home.dir().path().string() +
                            "' && exec env -u DATABASE_URL -u PGHOST -u PGDATABASE -u PGSERVICE "
                            "-u EMBED_MODEL -u EMBED_DIM -u RAGPERF_PROFILE -u RAGPERF_ENV_FILE "
                            "-u RAGPERF_PORT -u RAGPERF_HOST RAGPERF_HOME='" +
                            home.home().string() + "' '" +
                            ragperf::testing::ragperf_binary().string() + "' serve " + args +
                            " 2>'" + err_path_.string() + "'";
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_fd_ = fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // the shell execs ragperf: this is the server's pid

  /// The next stdout line, or "" after `timeout` or at end of output.
  std::string read_line(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char buf[512];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  /// Sends `signal` and waits for the exit; returns the wait status, or -1 after `timeout`.
  int terminate(int signal, std::chrono::seconds timeout) {
    ::kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  std::string err() const { return ragperf::testing::read_file(err_path_); }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::filesystem::path err_path_;
};

TEST(ServeCli, PrintsThePortAnswersAQueryAndExitsZeroOnSigterm) {
  RetrieveCliHome home;
  const CommandResult ingest = home.run("ingest '" + home.corpus().string() +
                                        "' --table docs --model '" + home.model().string() + "'");
  ASSERT_EQ(ingest.status, 0) << ingest.err;

  ServeProcess serve(home, "--port 0 --model '" + home.model().string() + "'");
  ASSERT_TRUE(serve.started());
  const std::string line = serve.read_line(60s);
  // "listening on http://127.0.0.1:PORT", PORT all digits (no std::regex: GCC 12 warns inside
  // <regex> under the sanitizer build).
  const std::string prefix = "listening on http://127.0.0.1:";
  ASSERT_EQ(line.rfind(prefix, 0), 0u) << "stdout: '" << line << "' stderr: " << serve.err();
  const std::string digits = line.substr(prefix.size());
  ASSERT_TRUE(!digits.empty() && digits.size() <= 5 &&
              digits.find_first_not_of("0123456789") == std::string::npos)
      << "stdout: '" << line << "'";
  const int port = std::stoi(digits);
  ASSERT_GT(port, 0);

  HttpClient client(static_cast<uint16_t>(port));
  const Reply r = client.post_json(
      "/query", {{"text", "building indexes concurrently"}, {"tables", {"docs"}}, {"top_k", 2}});
  ASSERT_EQ(r.status, 200) << r.error << r.body << serve.err();
  const nlohmann::json j = r.json();
  ASSERT_EQ(j["hits"].size(), 2u);
  EXPECT_NE(j["hits"][0]["text"].get<std::string>().find("index concurrently"), std::string::npos)
      << r.body;
  EXPECT_NE(j["hits"][0]["source"].get<std::string>().find("indexes.md"), std::string::npos);
  EXPECT_EQ(j["cache"], "miss");
  EXPECT_EQ(client
                .post_json(
                    "/query",
                    {{"text", "building indexes concurrently"}, {"tables", {"docs"}}, {"top_k", 2}})
                .json()["cache"],
            "hit");

  const int status = serve.terminate(SIGTERM, 30s);
  ASSERT_NE(status, -1) << "ragperf serve did not exit after SIGTERM; stderr: " << serve.err();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << serve.err();
  EXPECT_NE(serve.err().find("stopped"), std::string::npos) << serve.err();
}

// The threads of the whole server process (HTTP, the Runtime's I/O and compute threads, BLAS
// and OpenMP included) stay within cores + 10 while 50 clients query varied table lists at once
// (each distinct list is its own retriever, which once meant a thread pool each), and every
// request is answered.
TEST(ServeCli, FiftyClientsOverVariedTableListsStayWithinCoresPlusTenThreads) {
  RetrieveCliHome home;
  const std::vector<std::string> tables = {"docs", "faq", "notes"};
  for (const std::string& t : tables) {
    const CommandResult ingest = home.run("ingest '" + home.corpus().string() + "' --table " + t +
                                          " --model '" + home.model().string() + "'");
    ASSERT_EQ(ingest.status, 0) << ingest.err;
  }
  ServeProcess serve(home, "--port 0 --model '" + home.model().string() + "'");
  ASSERT_TRUE(serve.started());
  const std::string line = serve.read_line(60s);
  const size_t colon = line.rfind(':');
  ASSERT_NE(colon, std::string::npos) << line << serve.err();
  const auto port = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));

  // Every ordered selection of 1 to 3 of the tables: 15 lists.
  std::vector<std::vector<std::string>> lists;
  for (const auto& a : tables) {
    lists.push_back({a});
    for (const auto& b : tables) {
      if (b == a) continue;
      lists.push_back({a, b});
      for (const auto& c : tables) {
        if (c != a && c != b) lists.push_back({a, b, c});
      }
    }
  }
  ASSERT_EQ(lists.size(), 15u);

  const std::filesystem::path task_dir = "/proc/" + std::to_string(serve.pid()) + "/task";
  auto count_threads = [&] {
    std::error_code ec;
    size_t n = 0;
    for (auto it = std::filesystem::directory_iterator(task_dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++n;
    }
    return n;
  };
  std::atomic<bool> sampling{true};
  std::atomic<size_t> most{0};
  std::thread sampler([&] {
    while (sampling) {
      const size_t n = count_threads();
      size_t seen = most.load();
      while (n > seen && !most.compare_exchange_weak(seen, n)) {
      }
      std::this_thread::sleep_for(2ms);
    }
  });
  constexpr int kClients = 50;
  constexpr int kPerClient = 6;
  std::atomic<int> answered{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port);
      for (int q = 0; q < kPerClient; ++q) {
        const auto& list = lists[static_cast<size_t>(c * kPerClient + q) % lists.size()];
        // Distinct texts: the cache must not answer them.
        const Reply r = client.post_json(
            "/query", {{"text", "index build " + std::to_string(c) + " " + std::to_string(q)},
                       {"tables", list},
                       {"top_k", 2}});
        if (r.status == 200) {
          ++answered;
        } else if (failures[static_cast<size_t>(c)].empty()) {
          failures[static_cast<size_t>(c)] = std::to_string(r.status) + " " + r.error + r.body;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  sampling = false;
  sampler.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(answered.load(), kClients * kPerClient);
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_GT(most.load(), 0u) << "no sample of " << task_dir;
  EXPECT_LE(most.load(), cores + 10)
      << "the server ran " << most.load() << " threads on " << cores << " cores";
  RecordProperty("max_threads", static_cast<int>(most.load()));
  EXPECT_EQ(serve.terminate(SIGTERM, 30s), 0) << serve.err();
}

TEST(ServeCli, BadPortAndBusyPortFailWithAMessage) {
  RetrieveCliHome home;
  const CommandResult bad = home.run("serve --port 70000 --model '" + home.model().string() + "'");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("--port 70000"), std::string::npos) << bad.err;

  ServeProcess first(home, "--port 0 --model '" + home.model().string() + "'");
  const std::string line = first.read_line(60s);
  const size_t colon = line.rfind(':');
  ASSERT_NE(colon, std::string::npos) << line << first.err();
  const std::string port = line.substr(colon + 1);
  const CommandResult busy =
      home.run("serve --port " + port + " --model '" + home.model().string() + "'");
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << busy.err;
  EXPECT_EQ(first.terminate(SIGINT, 30s), 0) << first.err();
}

}  // namespace
