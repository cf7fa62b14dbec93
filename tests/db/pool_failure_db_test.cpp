// DatabaseConnectionPool's failure behaviour against a real PostgreSQL: pool exhausted, cancelled
// waiters, unreachable / silent servers, bad credentials, missing database, killed backends and a
// server restart under load. Each must end in the right error within its timeout, never a hang.
#include "ragperf/db_pool.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "db_test_support.h"

namespace ragperf {
namespace {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using db::awaitable;
using testing::DbTest;
using Clock = std::chrono::steady_clock;

class PoolFailure : public DbTest {};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

awaitable<void> sleep_for(double s) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)));
  co_await t.async_wait(asio::use_awaitable);
}

/// A loopback TCP listener that accepts nothing: connects complete, the server never answers.
struct SilentServer {
  SilentServer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      ADD_FAILURE() << "cannot open a loopback listener";
    port = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd); }
  int fd = -1;
  int port = 0;
};

int free_port() {
  SilentServer s;  // bound, then closed: nothing listens there afterwards
  return s.port;
}

TEST_F(PoolFailure, ExhaustedPoolThrowsPoolExhaustedWithStatsAndTheKnob) {
  PoolConfig cfg = config(1, 1);
  cfg.acquire_timeout = std::chrono::duration<double>(0.2);
  DatabaseConnectionPool pool(cfg);
  pool.initialize();
  pool.run([&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    const auto start = Clock::now();
    try {
      auto second = co_await pool.acquire();
      ADD_FAILURE() << "expected PoolExhaustedError";
    } catch (const PoolExhaustedError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("MAX_POOL_SIZE"), std::string::npos) << m;
      EXPECT_NE(m.find("in_use=1"), std::string::npos) << m;
      EXPECT_NE(m.find("acquire_timeout=0.2"), std::string::npos) << m;
      EXPECT_EQ(e.code(), ErrorCode::kPoolExhausted);
    } catch (const ConnectionError& e) {
      ADD_FAILURE() << "pool exhaustion must not look like a database outage: " << e.what();
    }
    EXPECT_GE(seconds_since(start), 0.19);
    EXPECT_LT(seconds_since(start), 2.0);
  }());
  const auto s = pool.get_stats();
  EXPECT_EQ(s.acquire_timeouts, 1u);
  EXPECT_EQ(s.requests_waiting, 0);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.connection_errors, 0u);
}

TEST_F(PoolFailure, TooManyWaitersAreRejectedAsOverloaded) {
  PoolConfig cfg = config(1, 1);
  cfg.max_waiting = 0;
  DatabaseConnectionPool pool(cfg);
  pool.initialize();
  pool.run([&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    EXPECT_THROW(co_await pool.acquire(), OverloadedError);
  }());
  EXPECT_EQ(pool.get_stats().requests_rejected, 1u);
}

TEST_F(PoolFailure, CancellingAWaitingCallerLeaksNothing) {
  PoolConfig cfg = config(1, 1);
  cfg.acquire_timeout = std::chrono::duration<double>(10);
  DatabaseConnectionPool pool(cfg);
  pool.run([&]() -> awaitable<void> {
    auto held = co_await pool.acquire();
    for (int i = 0; i < 3; ++i) {
      auto r = co_await (pool.acquire() || sleep_for(0.05));
      EXPECT_EQ(r.index(), 1u);  // the timer won; the acquire was cancelled
    }
    EXPECT_EQ(pool.get_stats().requests_waiting, 0);
    held.release();
    auto again = co_await pool.acquire();  // the freed connection is not promised to a ghost
    auto r = co_await again.fetch("SELECT 1 AS one");
    EXPECT_EQ(r[0]["one"].as_int(), 1);
  }());
  const auto s = pool.get_stats();
  EXPECT_EQ(s.acquire_cancelled, 3u);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.pool_size, 1);
  EXPECT_EQ(s.pool_free, 1);
  EXPECT_EQ(s.requests_waiting, 0);
}

// A caller that stops waiting for a running statement: the server is told to stop it (a cancel
// request), the statement's end is read, and the same connection serves the next statement.
TEST_F(PoolFailure, CancellingARunningStatementStopsItOnTheServerAndKeepsTheConnection) {
  DatabaseConnectionPool pool(config(2, 2));
  pool.initialize();
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    const int pid = conn.backend_pid();
    const auto start = Clock::now();
    auto r = co_await (conn.fetch("SELECT pg_sleep(30)") || sleep_for(0.2));
    EXPECT_EQ(r.index(), 1u);  // the timer won; the statement was cancelled
    EXPECT_LT(seconds_since(start), 5.0);
    auto other = co_await pool.acquire();
    auto activity = co_await other.fetch("SELECT state FROM pg_stat_activity WHERE pid = $1", pid);
    EXPECT_EQ(activity.rows(), 1);  // the session is still there ...
    if (activity.rows() == 1) {
      EXPECT_NE(activity[0]["state"].as_text(), "active");  // ... and idle
    }
    auto one = co_await conn.fetch("SELECT 1 AS one");
    EXPECT_EQ(one[0]["one"].as_int(), 1);
    EXPECT_EQ(conn.backend_pid(), pid);
  }());
  const auto s = pool.get_stats();
  EXPECT_EQ(s.statements_cancelled, 1u);
  EXPECT_EQ(s.connections_closed, 0u);
  EXPECT_EQ(s.in_use, 0);
}

// A handle released while its statement still waits on the socket (an abandoned caller): the
// pool closes that connection, the statement ends with an error on the object it started on (not
// freed memory: the sanitizer build checks), and the next call gets a fresh connection.
TEST_F(PoolFailure, AConnectionReleasedMidStatementIsReplaced) {
  DatabaseConnectionPool pool(config(1, 1));
  pool.initialize();
  auto handle = std::make_shared<PooledConnection>(pool.run(pool.acquire()));
  std::future<db::Result> statement =
      pool.spawn([](std::shared_ptr<PooledConnection> h) -> awaitable<db::Result> {
        co_return co_await h->execute("SELECT pg_sleep(0.3)");
      }(handle));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  handle->release();  // mid-statement: the connection cannot be reused
  EXPECT_ANY_THROW(statement.get());
  auto r = pool.run(pool.fetch("SELECT 7 AS seven"));
  EXPECT_EQ(r[0]["seven"].as_int(), 7);
  const auto s = pool.get_stats();
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.pool_size, 1);
  EXPECT_GE(s.connections_closed, 1u);
}

TEST_F(PoolFailure, UnreachableServerFailsFastWithConnectionError) {
  PoolConfig cfg = config(1, 2);
  cfg.host = "127.0.0.1";
  cfg.port = free_port();
  cfg.connect_timeout = std::chrono::duration<double>(3);
  DatabaseConnectionPool pool(cfg);
  const auto start = Clock::now();
  try {
    pool.initialize();
    ADD_FAILURE() << "expected ConnectionError";
  } catch (const ConnectionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("127.0.0.1:" + std::to_string(cfg.port) + "/" + cfg.database),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("refused"), std::string::npos) << m;
  }
  // acquire() with the server down: ConnectionError (the cause), not PoolExhaustedError.
  EXPECT_THROW(pool.run(pool.acquire()), ConnectionError);
  EXPECT_FALSE(pool.health_check());
  EXPECT_LT(seconds_since(start), 3.0);
  EXPECT_GE(pool.get_stats().connection_errors, 2u);
  EXPECT_EQ(pool.get_stats().in_use, 0);
}

TEST_F(PoolFailure, SilentServerTimesOutWithinConnectTimeout) {
  SilentServer silent;
  PoolConfig cfg = config(1, 1);
  cfg.host = "127.0.0.1";
  cfg.port = silent.port;
  cfg.connect_timeout = std::chrono::duration<double>(0.3);
  cfg.acquire_timeout = std::chrono::duration<double>(5);
  DatabaseConnectionPool pool(cfg);
  const auto start = Clock::now();
  try {
    pool.run(pool.fetch("SELECT 1"));
    ADD_FAILURE() << "expected ConnectionError";
  } catch (const ConnectionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("timed out after 0.3 s"), std::string::npos) << m;
    EXPECT_NE(m.find(":" + std::to_string(silent.port) + "/"), std::string::npos) << m;
  }
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST_F(PoolFailure, WrongPasswordNamesTheCause) {
  PoolConfig cfg = config(1, 1);
  cfg.password = "definitely-wrong";
  DatabaseConnectionPool pool(cfg);
  try {
    pool.initialize();
    ADD_FAILURE() << "expected ConnectionError";
  } catch (const ConnectionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("password authentication failed"), std::string::npos) << m;
    EXPECT_NE(m.find(cfg.describe()), std::string::npos) << m;
    EXPECT_EQ(m.find("definitely-wrong"), std::string::npos) << "password leaked: " << m;
  }
}

TEST_F(PoolFailure, MissingDatabaseNamesIt) {
  PoolConfig cfg = config(1, 1);
  cfg.database = "no_such_db_ragperf";
  DatabaseConnectionPool pool(cfg);
  try {
    pool.initialize();
    ADD_FAILURE() << "expected ConnectionError";
  } catch (const ConnectionError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no_such_db_ragperf"), std::string::npos) << m;
    EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
  }
}

TEST_F(PoolFailure, TerminatedBackendsAreReplacedWithoutCallerErrors) {
  DatabaseConnectionPool pool(config(2, 2));
  pool.initialize();
  const auto before = pool.backend_pids();
  ASSERT_EQ(before.size(), 2u);
  DatabaseConnectionPool killer(observer_config());
  auto r = killer.run(
      killer.fetch("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE "
                   "application_name = $1",
                   pool.config().application_name));
  EXPECT_EQ(r[0]["n"].as_int(), 2);
  // Idle connections killed: the next calls see nothing but results (at worst one retry each).
  for (int i = 0; i < 20; ++i) {
    auto row = pool.run(pool.fetchrow("SELECT $1::int8 AS i", i));
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ((*row)["i"].as_int(), i);
  }
  // Killed while held by a caller: that caller gets ConnectionError, the pool replaces it.
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    auto k = co_await killer.fetch("SELECT pg_terminate_backend($1::int4)", conn.backend_pid());
    (void)k;
    EXPECT_THROW(co_await conn.fetch("SELECT 1"), ConnectionError);
  }());
  EXPECT_TRUE(pool.health_check());
  const auto s = pool.get_stats();
  EXPECT_GE(s.connections_lost, 3u);
  EXPECT_GE(s.connections_replaced, 1u);
  EXPECT_EQ(s.in_use, 0);
  for (int pid : pool.backend_pids())
    EXPECT_EQ(std::count(before.begin(), before.end(), pid), 0) << "pid " << pid << " reused";
}

/// Terminates every backend of `pool` (matched by its application_name); returns how many.
int64_t terminate_all(DatabaseConnectionPool& killer, const DatabaseConnectionPool& pool) {
  auto r = killer.run(
      killer.fetch("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE "
                   "application_name = $1",
                   pool.config().application_name));
  return r[0]["n"].as_int();
}

TEST_F(PoolFailure, WritesAfterIdleBackendsAreKilledRunExactlyOnce) {
  // pg_terminate_backend only signals: a backend may still look alive when the pool hands it
  // out, so the first statement can die on it. A pool-level write is then retried once, never
  // applied twice, and the caller sees nothing. Several rounds to meet both timings.
  DatabaseConnectionPool pool(config(4, 4));
  pool.initialize();
  DatabaseConnectionPool killer(observer_config());
  const std::string table = "rt_retry_once_" + std::to_string(::getpid());
  killer.run(killer.execute("DROP TABLE IF EXISTS " + table));
  killer.run(killer.execute("CREATE TABLE " + table + " (i int8)"));
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    // Four live connections, all idle in the pool. (Some may be the last round's killed ones
    // that still look alive: a statement on an acquired connection is never retried.)
    pool.run([&]() -> awaitable<void> {
      for (int live = 0; live < 4;) {
        std::vector<PooledConnection> held;
        for (int i = 0; i < 4; ++i) held.push_back(co_await pool.acquire());
        live = 0;
        for (auto& c : held) {
          try {
            co_await c.execute("SELECT 1");
            ++live;
          } catch (const ConnectionError&) {
          }
        }
      }
    }());
    EXPECT_EQ(terminate_all(killer, pool), 4) << "round " << round;
    pool.run(pool.execute("INSERT INTO " + table + " VALUES ($1::int8)", int64_t{round}));
  }
  auto r = killer.run(killer.fetch("SELECT count(*) AS n, count(DISTINCT i) AS d FROM " + table));
  EXPECT_EQ(r[0]["n"].as_int(), kRounds);
  EXPECT_EQ(r[0]["d"].as_int(), kRounds);
  const auto s = pool.get_stats();
  EXPECT_LE(s.queries_retried, static_cast<uint64_t>(kRounds)) << "at most one retry per call";
  EXPECT_EQ(s.in_use, 0);
  killer.run(killer.execute("DROP TABLE " + table));
}

TEST_F(PoolFailure, ExplicitTransactionsAreNeverRetried) {
  DatabaseConnectionPool pool(config(1, 2));
  pool.initialize();
  DatabaseConnectionPool killer(observer_config());
  const std::string table = "rt_no_retry_tx_" + std::to_string(::getpid());
  killer.run(killer.execute("DROP TABLE IF EXISTS " + table));
  killer.run(killer.execute("CREATE TABLE " + table + " (i int8)"));
  pool.run([&]() -> awaitable<void> {
    auto conn = co_await pool.acquire();
    co_await conn.execute("BEGIN");
    co_await conn.execute("INSERT INTO " + table + " VALUES (1)");
    co_await killer.fetch("SELECT pg_terminate_backend($1::int4)", conn.backend_pid());
    EXPECT_THROW(co_await conn.execute("INSERT INTO " + table + " VALUES (2)"), ConnectionError);
    EXPECT_THROW(co_await conn.execute("COMMIT"), ConnectionError);
  }());
  // A statement that kills its own backend reached a live server: one retry at most, then the
  // caller gets the error (never an endless loop over the pool's connections).
  EXPECT_THROW(pool.run(pool.execute("SELECT pg_terminate_backend(pg_backend_pid())")),
               ConnectionError);
  auto r = killer.run(killer.fetch("SELECT count(*) AS n FROM " + table));
  EXPECT_EQ(r[0]["n"].as_int(), 0) << "the killed transaction must not be replayed";
  const auto s = pool.get_stats();
  EXPECT_LE(s.queries_retried, 1u);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_TRUE(pool.health_check());
  killer.run(killer.execute("DROP TABLE " + table));
}

awaitable<void> load_worker(DatabaseConnectionPool& pool, Clock::time_point until,
                            const std::atomic<bool>& restarted, std::atomic<int>& ok,
                            std::atomic<int>& ok_after, std::atomic<int>& failed) {
  while (Clock::now() < until) {
    try {
      auto r = co_await pool.fetch("SELECT 1 AS one");
      if (r[0]["one"].as_int() == 1) {
        ++ok;
        if (restarted) ++ok_after;
      }
    } catch (const Error&) {
      ++failed;  // ConnectionError while the server is down: expected
    }
    co_await sleep_for(0.002);
  }
}

TEST_F(PoolFailure, ServerRestartUnderLoadRecoversAndNothingHangs) {
  // A private cluster: restarting the shared one would disturb other suites running in parallel.
  // Directly under /tmp: pg_start.sh hands the folder to the postgres user when run as root.
  const std::string pgdir = "/tmp/ragperf-restart-test-" + std::to_string(::getpid());
  struct StopCluster {
    std::string dir;
    ~StopCluster() {
      testing::run_command((testing::source_dir() / "scripts/pg_stop.sh").string() + " " + dir);
    }
  } stop{pgdir};
  auto started =
      testing::run_command((testing::source_dir() / "scripts/pg_start.sh").string() + " " + pgdir);
  ASSERT_EQ(started.status, 0) << started.err;
  std::string url = started.out.substr(0, started.out.find('\n'));
  PoolConfig cfg = PoolConfig::from_url(url);
  cfg.min_size = 2;
  cfg.max_size = 4;
  cfg.acquire_timeout = std::chrono::duration<double>(2);
  cfg.connect_timeout = std::chrono::duration<double>(2);
  cfg.maintenance_interval = std::chrono::duration<double>(0.1);
  {
    DatabaseConnectionPool pool(cfg);
    pool.initialize();
    std::atomic<bool> restarted{false};
    std::atomic<int> ok{0}, ok_after{0}, failed{0};
    const auto until = Clock::now() + std::chrono::milliseconds(3000);
    std::vector<std::future<void>> workers;
    for (int i = 0; i < 8; ++i)
      workers.push_back(pool.spawn(load_worker(pool, until, restarted, ok, ok_after, failed)));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    const auto t_restart = Clock::now();
    auto restart = testing::run_command((testing::source_dir() / "scripts/pg_restart.sh").string() +
                                        " " + pgdir);
    restarted = true;
    std::printf("server restarted in %.2f s\n", seconds_since(t_restart));
    EXPECT_EQ(restart.status, 0) << restart.err;
    for (auto& w : workers) {
      ASSERT_EQ(w.wait_for(std::chrono::seconds(15)), std::future_status::ready)
          << "a caller hung after the server restart";
      w.get();
    }
    EXPECT_GT(ok.load(), 0);
    EXPECT_GT(ok_after.load(), 0) << "the pool did not recover after the restart";
    EXPECT_TRUE(pool.health_check());
    const auto s = pool.get_stats();
    std::printf("restart: %d ok (%d after), %d failed; %s\n", ok.load(), ok_after.load(),
                failed.load(), s.to_string().c_str());
    EXPECT_GE(s.connections_lost, 1u) << s.to_string();
    EXPECT_EQ(s.in_use, 0);
    EXPECT_EQ(s.requests_waiting, 0);
  }
}

}  // namespace
}  // namespace ragperf
