// db/connection.h: one non-blocking libpq connection driven by Boost.Asio (private to src/db).
//
// The socket is wrapped in a posix::stream_descriptor and awaited with async_wait; the connection
// stays in libpq pipeline mode so a statement that is not prepared yet is prepared and run in one
// round trip (Parse, Bind, Execute, Sync). Not thread-safe: used on the pool's single io thread.
#pragma once

#include <libpq-fe.h>

#include "ragperf/db_pool.h"  // first: brings Asio in (see the pragma there)

#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "ragperf/db_pool.h"

namespace ragperf::db {

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(boost::asio::any_io_executor executor, const PoolConfig& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Opens the connection within config.connect_timeout; throws ConnectionError naming
  /// host:port/database and the cause.
  awaitable<void> connect();

  /// One statement (prepared and cached on first use).
  awaitable<Result> query(std::string_view sql, const Params& params);
  /// Many statements, one round trip.
  awaitable<std::vector<Result>> pipeline(const std::vector<Statement>& statements);

  awaitable<void> copy_begin(std::string_view sql);
  awaitable<void> copy_write(std::string_view data);
  awaitable<uint64_t> copy_end();
  awaitable<void> copy_abort(const std::string& reason);

  /// Cancels pending waits and marks the connection broken (pool shutdown); does not free it.
  void abort();
  /// Closes the socket and frees libpq's connection. Idempotent.
  void close();

  /// False when the connection cannot be reused: lost, mid-statement, mid-COPY, closed.
  bool reusable() const { return conn_ && !broken_ && !busy_ && !in_copy_; }
  bool broken() const { return broken_; }
  /// Lost because of the server or network (not a local cancellation).
  bool lost() const { return lost_; }
  /// True when a statement of the last round trip got its result or a (non-connection) error:
  /// it ran. False when the connection was lost before any of that.
  bool answered() const { return answered_; }
  /// Idle but in a transaction (or a failed one): needs ROLLBACK before reuse.
  bool in_transaction() const;
  /// Checks an idle connection without a round trip: reads anything the server sent meanwhile
  /// (e.g. the FATAL of pg_terminate_backend, or EOF); false when it is gone.
  bool alive_when_idle();
  int backend_pid() const { return conn_ ? PQbackendPID(conn_) : 0; }
  const std::string& describe() const { return describe_; }

  // Bookkeeping for the pool.
  Clock::time_point created_at;
  Clock::time_point idle_since;
  uint64_t uses = 0;
  uint64_t queries = 0;  // statements sent on this connection
  // Was idle in the pool (or between two callers) before the current caller took it, so the
  // server may have dropped it unseen; false for a connection opened for this caller.
  bool was_idle = false;

 private:
  struct StatementRef {
    std::string_view sql;
    const Params* params;
  };
  awaitable<std::vector<Result>> run(std::span<const StatementRef> statements);
  /// Reads results up to the pipeline's Sync.
  awaitable<void> read_to_sync();
  /// read_to_sync(); false instead of an exception (lost, or cancelled by a deadline).
  awaitable<bool> drain_to_sync();
  /// The caller of a running statement stopped waiting: sends PostgreSQL a cancel request,
  /// reads the round trip's results up to its Sync (within config.cancel_timeout, else the
  /// connection is marked broken) and throws CancelledError. The connection stays reusable.
  /// Called with the coroutine's cancellation disabled.
  awaitable<void> cancel_running(std::string_view first_sql);
  awaitable<void> wait(bool write);
  awaitable<void> wait_either();
  awaitable<void> flush();
  awaitable<PGresult*> next_result();
  void wrap_socket();
  void release_socket();
  [[noreturn]] void fail_lost(const std::string& what);
  void check_usable(const char* operation) const;

  boost::asio::any_io_executor executor_;
  PoolConfig config_;
  std::string describe_;
  PGconn* conn_ = nullptr;
  std::unique_ptr<boost::asio::posix::stream_descriptor> socket_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
  uint64_t next_statement_ = 0;
  bool broken_ = false;
  bool lost_ = false;
  bool busy_ = false;
  bool in_copy_ = false;
  bool answered_ = false;
};

/// True when `sqlstate` says the session is gone (class 08, 57P01..57P03).
bool is_connection_sqlstate(std::string_view sqlstate);

}  // namespace ragperf::db
