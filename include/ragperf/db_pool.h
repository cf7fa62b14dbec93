// ragperf/db_pool.h defines DatabaseConnectionPool: an asynchronous libpq connection pool for
// PostgreSQL + pgvector, driven by Boost.Asio C++20 coroutines, with the guide's API.
//
//   ragperf::PoolConfig cfg = ragperf::PoolConfig::from_url(std::getenv("DATABASE_URL"));
//   ragperf::DatabaseConnectionPool pool(cfg);
//   pool.initialize();                                    // opens min_size connections
//   // In a coroutine running on pool.get_executor():
//   ragperf::db::Result r = co_await pool.fetch("SELECT id, text FROM docs ORDER BY embedding "
//                                               "<=> $1 LIMIT $2", embedding, 4);
//   {
//     ragperf::PooledConnection conn = co_await pool.acquire();   // returned at scope exit
//     co_await conn.execute("BEGIN");
//     co_await conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "one");
//     co_await conn.execute("COMMIT");
//   }
//   // Without a coroutine: block on any awaitable (never from a Runtime I/O thread).
//   auto rows = pool.run(pool.fetch("SELECT 1"));
//   pool.close(std::chrono::seconds(5));
//
// GCC 12 pitfall: a braced list inside a co_await expression (`co_await f({1, 2})`) does not
// compile ("array used as initializer", a compiler bug); pass the values as arguments as above,
// or build a db::Params in a statement of its own first.
//
// Parameters are `$1..$n`, sent in binary; results come back in binary and are decoded by
// db::Field (ints, floats, bool, text, bytea, json/jsonb, pgvector). Statements are prepared once
// per connection and cached. A connection handed back mid-transaction or after an error is
// rolled back (or closed when that fails or it was mid-query); a connection the server killed is
// detected and replaced, and pool-level calls (pool.fetch/execute/fetchrow) retry once on a fresh
// connection when the connection was lost. Failures throw, by kind: ConnectionError (cannot reach
// or authenticate), PoolExhaustedError (no connection free within acquire_timeout), QueryError
// (SQLSTATE + server message + statement), OverloadedError (too many waiting callers),
// UnavailableError (pool closed).
//
// Monitor stages (when PoolConfig::monitor is given):
//   "acquire"  one record per connection handed out (acquire() and each attempt of a pool-level
//              call): seconds from the call to the hand-out, waiting and the health probe of a
//              connection idle too long included; an acquire that throws records nothing.
//   "query"    one record per pool-level execute/fetch/fetchrow that succeeds: seconds the
//              statement ran on its connection(s), both attempts when it was retried once after a
//              lost connection (the acquires are in "acquire"); a call that throws records nothing.
// Statements on an acquired PooledConnection are not recorded (time them where they are issued).
//
// Threads: the pool starts none. Its connections and timers are driven on a strand of the
// Runtime's I/O executor (PoolConfig::runtime, default Runtime::shared()); the awaitable API must
// run on pool.get_executor(), that strand (co_spawn there, or use run()/spawn()/async_run()).
// get_stats() and spawn() may be called from any thread; run() and close() block, so not from a
// Runtime I/O thread. A PooledConnection is used by one coroutine at a time.
#pragma once

// GCC reports -Wnull-dereference inside Asio's scheduler when it is inlined at -O3 (a false
// positive in a system header): silence it for Asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#pragma GCC diagnostic pop
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ragperf/error.h"

namespace ragperf {

struct Settings;
class PerformanceMonitor;
class Runtime;

namespace db {

template <typename T>
using awaitable = boost::asio::awaitable<T>;

/// One `$n` parameter, sent in binary. Implicit from the usual C++ values:
///   nullptr -> NULL, bool, int/long -> int8, double/float -> float8, strings -> text,
///   std::vector<float> / std::span<const float> -> pgvector `vector` (type inferred by the server,
///   e.g. from `embedding <=> $1`; write `$1::vector` where the context gives none).
class Param {
 public:
  Param(std::nullptr_t) : null_(true) {}  // NOLINT(google-explicit-constructor)
  Param(bool v);                          // NOLINT
  Param(int v) : Param(static_cast<long long>(v)) {}
  Param(long v) : Param(static_cast<long long>(v)) {}
  Param(long long v);
  Param(unsigned v) : Param(static_cast<long long>(v)) {}
  Param(double v);
  Param(float v) : Param(static_cast<double>(v)) {}
  Param(const char* v) : Param(std::string(v)) {}
  Param(std::string_view v) : Param(std::string(v)) {}
  Param(std::string v) : oid_(25), data_(std::move(v)) {}
  Param(std::span<const float> v);
  Param(const std::vector<float>& v) : Param(std::span<const float>(v)) {}
  /// bytea.
  static Param bytes(std::string data);
  /// jsonb from its JSON text.
  static Param jsonb(std::string json);
  /// Any type given as its text form and OID (0: let the server infer it).
  static Param text_as(std::string text, uint32_t oid);

  bool is_null() const { return null_; }
  uint32_t oid() const { return oid_; }  // 0: inferred by the server
  bool binary() const { return binary_; }
  const std::string& data() const { return data_; }

 private:
  Param() = default;
  bool null_ = false;
  bool binary_ = true;
  uint32_t oid_ = 0;
  std::string data_;
};

using Params = std::vector<Param>;

/// Params from any number of values: make_params(1, "x", embedding).
template <typename... Args>
Params make_params(Args&&... args) {
  Params p;
  p.reserve(sizeof...(Args));
  (p.emplace_back(std::forward<Args>(args)), ...);
  return p;
}

/// True for argument lists the variadic execute/fetch/fetchrow overloads take.
template <typename... Args>
concept ParamValues = sizeof...(Args) > 0 && (std::is_constructible_v<Param, Args> && ...);

/// A statement and its parameters, for pipeline().
struct Statement {
  std::string sql;
  Params params;
};

class ResultData;

/// One value of a result row. Decoding is checked: asking for the wrong type throws InputError
/// naming the column and its type.
class Field {
 public:
  bool is_null() const;
  int64_t as_int() const;                // int2/int4/int8/oid (and bool)
  double as_double() const;              // float4/float8 and the integers
  bool as_bool() const;                  // bool
  std::string as_text() const;           // text-like, json/jsonb, and numbers/bool/vector rendered
  std::string_view bytes() const;        // the raw binary value (bytea contents, etc.)
  std::vector<float> as_vector() const;  // pgvector `vector`
  uint32_t type_oid() const;
  std::string_view name() const;

 private:
  friend class Row;
  Field(const ResultData* r, int row, int col) : r_(r), row_(row), col_(col) {}
  const ResultData* r_;
  int row_;
  int col_;
};

/// One row of a Result; valid while its Result lives.
class Row {
 public:
  int size() const;
  Field operator[](int column) const;               // throws InputError when out of range
  Field operator[](std::string_view column) const;  // throws InputError naming the column

 private:
  friend class Result;
  Row(std::shared_ptr<const ResultData> r, int row) : r_(std::move(r)), row_(row) {}
  std::shared_ptr<const ResultData> r_;
  int row_;
};

/// The rows (possibly none) of one statement. Cheap to copy (shares the libpq result).
class Result {
 public:
  Result() = default;
  explicit Result(std::shared_ptr<const ResultData> data) : data_(std::move(data)) {}
  int rows() const;
  int columns() const;
  bool empty() const { return rows() == 0; }
  std::string_view column_name(int column) const;
  Row operator[](int row) const;  // throws InputError when out of range
  /// Rows affected by INSERT/UPDATE/DELETE/COPY (PQcmdTuples), 0 otherwise.
  uint64_t affected() const;
  /// The command tag, e.g. "INSERT 0 1".
  std::string_view command() const;

 private:
  std::shared_ptr<const ResultData> data_;
};

class Connection;
class PoolCore;

}  // namespace db

/// Pool settings. Build with from_url()/from_settings() or fill in; validate() runs in the pool's
/// constructor and throws ConfigError naming the field, the value and the allowed range.
struct PoolConfig {
  std::string host = "127.0.0.1";  // host name, IP, or a Unix-socket directory
  int port = 5432;
  std::string database = "postgres";
  std::string user = "postgres";
  std::string password;
  std::string application_name = "ragperf";  // shown in pg_stat_activity
  std::string sslmode;                       // libpq sslmode, empty: libpq's default

  int min_size = 5;   // MIN_POOL_SIZE: opened by initialize() and kept open
  int max_size = 20;  // MAX_POOL_SIZE: never more connections than this
  /// CONNECTION_POOL_SIZE: the pool's target size. Under load the pool opens a connection per
  /// waiting caller up to max_size; once idle, it closes connections idle for max_idle only
  /// while it holds more than this many, so it keeps target_size connections warm for the next
  /// burst. 0: min_size (the pool shrinks back to min_size). Else within [min_size, max_size].
  int target_size = 0;
  /// Waiting for a free connection longer -> PoolExhaustedError.
  std::chrono::duration<double> acquire_timeout{10};
  /// One connection attempt, authentication included.
  std::chrono::duration<double> connect_timeout{5};
  /// A caller that stops waiting for a running statement (a cancelled task or coroutine) makes
  /// the pool send PostgreSQL a cancel request and read the statement's end; if the server has
  /// not stopped it within this time, the connection is closed instead of reused.
  std::chrono::duration<double> cancel_timeout{5};
  int max_waiting = 10000;  // callers queued for a connection beyond -> OverloadedError
  /// A connection older than this is closed when it is returned.
  std::chrono::duration<double> max_lifetime{3600};
  /// Idle connections above target_size are closed after this.
  std::chrono::duration<double> max_idle{600};
  uint64_t max_uses = 0;  // a connection is closed after this many acquires (0: never)
  /// Idle longer than this: `SELECT 1` before it is handed out (0: before every reuse).
  std::chrono::duration<double> health_check_idle{5};
  /// Background work: prune idle connections, refill to min_size, probe.
  std::chrono::duration<double> maintenance_interval{1};
  int statement_cache_size = 256;  // prepared statements kept per connection
  /// Optional, not owned, must outlive the pool: receives "acquire" and "query" (see the file
  /// comment). Copies of the config share it; from_url()/from_settings() leave it null.
  PerformanceMonitor* monitor = nullptr;
  /// Whose I/O threads drive the connections; null: Runtime::shared(). The pool keeps it.
  std::shared_ptr<Runtime> runtime = nullptr;

  /// "postgresql://user:pass@host:port/db?sslmode=..." or "host=... dbname=..." (libpq syntax).
  /// Keys the URL omits keep this struct's defaults, then libpq's PG* environment variables.
  static PoolConfig from_url(std::string_view url);
  /// DATABASE_URL (else PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD), MIN_POOL_SIZE, MAX_POOL_SIZE,
  /// CONNECTION_POOL_SIZE (target_size).
  static PoolConfig from_settings(const Settings& settings);
  /// from_settings(load_settings()): for programs, never called by ragperf's components.
  static PoolConfig from_env();

  void validate() const;
  /// target_size, or min_size when it is 0.
  int effective_target_size() const { return target_size > 0 ? target_size : min_size; }
  /// "host:port/database" for messages.
  std::string describe() const;
};

/// Pool statistics (psycopg_pool's and more). Counters are totals since initialize().
struct PoolStats {
  int pool_min = 0;
  int pool_max = 0;
  int pool_target = 0;  // CONNECTION_POOL_SIZE: kept open when idle (PoolConfig::target_size)
  int pool_size = 0;    // open + opening connections
  int pool_free = 0;    // idle, ready to hand out
  int in_use = 0;       // held by callers (and being reset)
  int connecting = 0;
  int requests_waiting = 0;
  uint64_t total_queries = 0;      // statements sent
  uint64_t acquires = 0;           // connections handed out
  uint64_t acquire_timeouts = 0;   // PoolExhaustedError thrown
  uint64_t acquire_cancelled = 0;  // waiters cancelled by their caller
  uint64_t requests_rejected = 0;  // OverloadedError thrown (max_waiting)
  double acquire_wait_p50_s = 0;   // over the last 4096 acquires
  double acquire_wait_p99_s = 0;
  uint64_t connections_opened = 0;
  uint64_t connections_closed = 0;
  uint64_t connection_errors = 0;     // failed connection attempts
  uint64_t connections_lost = 0;      // killed by the server / network, found broken
  uint64_t connections_replaced = 0;  // opened to replace a lost one
  uint64_t queries_retried = 0;       // pool-level calls retried after a lost connection
  /// Statements whose caller stopped waiting: PostgreSQL was sent a cancel request for each.
  uint64_t statements_cancelled = 0;
  std::string to_string() const;  // one line, for messages and logs
};

class DatabaseConnectionPool;

/// A connection borrowed from the pool; returns it when destroyed (or on release()).
/// Move-only. Queries must run on the pool's executor; one at a time.
class PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(PooledConnection&&) noexcept;
  PooledConnection& operator=(PooledConnection&&) noexcept;
  ~PooledConnection();

  /// Runs one statement, returns its rows (empty for commands). Throws QueryError (the connection
  /// stays usable) or ConnectionError (the connection is lost; it is replaced on return).
  db::awaitable<db::Result> execute(std::string sql, db::Params params = {});
  db::awaitable<db::Result> fetch(std::string sql, db::Params params = {});
  /// The first row, or nullopt when there is none.
  db::awaitable<std::optional<db::Row>> fetchrow(std::string sql, db::Params params = {});
  /// The same with the parameters as arguments: co_await conn.fetch(sql, 1, "x", embedding).
  template <typename... Args>
  requires db::ParamValues<Args...> db::awaitable<db::Result> execute(std::string sql,
                                                                      Args&&... args) {
    return execute(std::move(sql), db::make_params(std::forward<Args>(args)...));
  }
  template <typename... Args>
  requires db::ParamValues<Args...> db::awaitable<db::Result> fetch(std::string sql,
                                                                    Args&&... args) {
    return fetch(std::move(sql), db::make_params(std::forward<Args>(args)...));
  }
  template <typename... Args>
  requires db::ParamValues<Args...> db::awaitable<std::optional<db::Row>> fetchrow(std::string sql,
                                                                                   Args&&... args) {
    return fetchrow(std::move(sql), db::make_params(std::forward<Args>(args)...));
  }
  /// Sends every statement in one round trip (libpq pipeline mode), returns one Result each.
  /// Throws the first statement's QueryError; the statements after it are not run.
  db::awaitable<std::vector<db::Result>> pipeline(std::vector<db::Statement> statements);

  /// COPY ... FROM STDIN: copy_begin(sql), copy_write(bytes) any number of times (flushed
  /// asynchronously), copy_end() -> rows copied. The bytes are in the COPY's format (see
  /// ragperf/pg_copy.h for FORMAT BINARY). copy_abort(reason) cancels it.
  db::awaitable<void> copy_begin(std::string copy_sql);
  db::awaitable<void> copy_write(std::string_view data);
  db::awaitable<uint64_t> copy_end();
  db::awaitable<void> copy_abort(std::string reason);
  /// copy_begin + one copy_write + copy_end.
  db::awaitable<uint64_t> copy_from(std::string copy_sql, std::string_view data);

  /// The server process id serving this connection (pg_backend_pid()).
  int backend_pid() const;
  explicit operator bool() const { return conn_ != nullptr; }
  /// Returns the connection now.
  void release();

 private:
  friend class db::PoolCore;
  friend class DatabaseConnectionPool;
  PooledConnection(std::shared_ptr<db::PoolCore> core, std::shared_ptr<db::Connection> conn);
  std::shared_ptr<db::PoolCore> core_;
  std::shared_ptr<db::Connection> conn_;
};

class DatabaseConnectionPool {
 public:
  explicit DatabaseConnectionPool(PoolConfig config);
  /// The guide's forms.
  DatabaseConnectionPool(const std::string& url, int min_size, int max_size);
  DatabaseConnectionPool(std::string host, int port, std::string database, std::string user,
                         std::string password, int min_size = 5, int max_size = 20);
  ~DatabaseConnectionPool();  // close(5 s) when not closed
  DatabaseConnectionPool(const DatabaseConnectionPool&) = delete;
  DatabaseConnectionPool& operator=(const DatabaseConnectionPool&) = delete;

  /// Opens min_size connections (in parallel) and starts background maintenance. Blocking; throws
  /// ConnectionError naming host:port/database and the cause. Idempotent.
  void initialize();
  db::awaitable<void> async_initialize();

  /// A free connection, or waits up to acquire_timeout (opening a new one while size < max_size).
  /// Throws PoolExhaustedError (with the stats and the knobs to turn), ConnectionError (a new
  /// connection could not be opened), OverloadedError, UnavailableError. Cancellation (e.g. via
  /// awaitable_operators ||) removes the caller from the queue.
  db::awaitable<PooledConnection> acquire();

  /// Acquire + statement + release; retried once on a fresh connection when the connection was
  /// lost (server restart, pg_terminate_backend).
  db::awaitable<db::Result> execute(std::string sql, db::Params params = {});
  db::awaitable<db::Result> fetch(std::string sql, db::Params params = {});
  db::awaitable<std::optional<db::Row>> fetchrow(std::string sql, db::Params params = {});
  template <typename... Args>
  requires db::ParamValues<Args...> db::awaitable<db::Result> execute(std::string sql,
                                                                      Args&&... args) {
    return execute(std::move(sql), db::make_params(std::forward<Args>(args)...));
  }
  template <typename... Args>
  requires db::ParamValues<Args...> db::awaitable<db::Result> fetch(std::string sql,
                                                                    Args&&... args) {
    return fetch(std::move(sql), db::make_params(std::forward<Args>(args)...));
  }
  template <typename... Args>
  requires db::ParamValues<Args...> db::awaitable<std::optional<db::Row>> fetchrow(std::string sql,
                                                                                   Args&&... args) {
    return fetchrow(std::move(sql), db::make_params(std::forward<Args>(args)...));
  }

  /// `SELECT 1` on a pooled connection; false (never throws) when the database is not reachable.
  db::awaitable<bool> async_health_check();
  bool health_check();

  PoolStats get_stats() const;
  const PoolConfig& config() const;
  /// Server pids of the connections the pool holds open now (for checks against
  /// pg_stat_activity).
  std::vector<int> backend_pids() const;

  /// Graceful: no new acquires, waiters fail with UnavailableError, idle connections close; then
  /// waits up to `timeout` for connections in use, then closes those too (their queries fail).
  /// Blocking, idempotent; not from a Runtime I/O thread. Work the pool started itself
  /// (maintenance, connection attempts, resets) has ended when it returns.
  void close(std::chrono::duration<double> timeout = std::chrono::seconds(5));
  bool closed() const;

  boost::asio::any_io_executor get_executor() const;

  /// Runs `aw` on the pool's strand and blocks for its result (throws its exception).
  /// Throws UnavailableError once the pool is closed, InputError on a Runtime I/O thread.
  template <typename T>
  T run(db::awaitable<T> aw) {
    check_runnable(true);
    return spawn(std::move(aw)).get();
  }
  /// Runs `aw` on the pool's strand and resumes the awaiting coroutine on its own executor (any
  /// executor may await it). Throws UnavailableError once the pool is closed.
  template <typename T>
  db::awaitable<T> async_run(db::awaitable<T> aw) {
    check_runnable(false);
    co_return co_await boost::asio::co_spawn(get_executor(), std::move(aw),
                                             boost::asio::use_awaitable);
  }
  /// Runs `aw` on the pool's strand; the future holds its result or exception.
  template <typename T>
  std::future<T> spawn(db::awaitable<T> aw) {
    check_runnable(false);
    return boost::asio::co_spawn(get_executor(), std::move(aw), boost::asio::use_future);
  }

 private:
  void check_runnable(bool blocking) const;
  std::shared_ptr<db::PoolCore> core_;
};

}  // namespace ragperf
