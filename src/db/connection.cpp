// One non-blocking libpq connection driven by Boost.Asio (db/connection.h).
#include "db/connection.h"

#include <poll.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "db/cancel_request.h"
#include "db/result_data.h"

namespace ragperf::db {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using Descriptor = asio::posix::stream_descriptor;

bool is_connection_sqlstate(std::string_view s) {
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03";
}

namespace {

std::string trim_message(const char* m) {
  std::string s = m ? m : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s.empty() ? "unknown error" : s;
}

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v ? v : "";
}

}  // namespace

Connection::Connection(asio::any_io_executor executor, const PoolConfig& config)
    : executor_(std::move(executor)), config_(config), describe_(config.describe()) {}

Connection::~Connection() {
  close();
}

void Connection::wrap_socket() {
  release_socket();
  const int fd = PQsocket(conn_);
  if (fd < 0) return;
  socket_ = std::make_unique<Descriptor>(executor_, fd);
}

void Connection::release_socket() {
  if (!socket_) return;
  boost::system::error_code ec;
  socket_->cancel(ec);
  (void)socket_->release();  // libpq owns the fd: never close it here
  socket_.reset();
}

void Connection::abort() {
  broken_ = true;
  if (socket_) {
    boost::system::error_code ec;
    socket_->cancel(ec);
  }
}

void Connection::close() {
  release_socket();
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  broken_ = true;
}

bool Connection::in_transaction() const {
  if (!conn_) return false;
  const auto s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool Connection::alive_when_idle() {
  if (!conn_ || broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
  pollfd p{PQsocket(conn_), POLLIN, 0};
  const int n = ::poll(&p, 1, 0);
  if (n == 0) return true;  // nothing arrived: fine
  // Something arrived while idle: an error (pg_terminate_backend), EOF, or a notice.
  if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = lost_ = true;
    return false;
  }
  while (!PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    const bool fatal = PQresultStatus(r) == PGRES_FATAL_ERROR;
    PQclear(r);
    if (fatal) {
      broken_ = lost_ = true;
      return false;
    }
  }
  return PQstatus(conn_) == CONNECTION_OK;
}

void Connection::fail_lost(const std::string& what) {
  broken_ = lost_ = true;
  busy_ = false;
  throw ConnectionError(describe_ + ": connection lost " + what + ": " +
                        trim_message(conn_ ? PQerrorMessage(conn_) : "closed") +
                        " (the pool replaces it; retry the call)");
}

void Connection::check_usable(const char* operation) const {
  if (!conn_ || broken_)
    throw ConnectionError(describe_ + ": cannot " + std::string(operation) +
                          ": the connection is closed or was lost; acquire another one");
  if (busy_)
    throw InputError(std::string("cannot ") + operation +
                     ": another statement is running on this connection; await it first "
                     "(a PooledConnection runs one statement at a time)");
}

// ---- connecting ------------------------------------------------------------------------------

awaitable<void> Connection::connect() {
  const std::string port = std::to_string(config_.port);
  std::vector<const char*> keys = {"host",           "port", "dbname", "user", "application_name",
                                   "client_encoding"};
  std::vector<const char*> values = {config_.host.c_str(),
                                     port.c_str(),
                                     config_.database.c_str(),
                                     config_.user.c_str(),
                                     config_.application_name.c_str(),
                                     "UTF8"};
  if (!config_.password.empty()) {
    keys.push_back("password");
    values.push_back(config_.password.c_str());
  }
  if (!config_.sslmode.empty()) {
    keys.push_back("sslmode");
    values.push_back(config_.sslmode.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  created_at = Clock::now();
  conn_ = PQconnectStartParams(keys.data(), values.data(), 0);
  if (!conn_) throw ConnectionError(describe_ + ": cannot connect: libpq is out of memory");
  auto failed = [&](const std::string& cause) {
    std::string msg = describe_ + " (user " + config_.user + "): cannot connect: " + cause;
    close();
    return ConnectionError(msg);
  };
  if (PQstatus(conn_) == CONNECTION_BAD) throw failed(trim_message(PQerrorMessage(conn_)));
  // Server notices (and the FATAL of a terminated session) are reported through errors and
  // stats, not printed on stderr.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);

  asio::steady_timer deadline(executor_);
  deadline.expires_after(std::chrono::duration_cast<Clock::duration>(config_.connect_timeout));
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  for (;;) {
    // libpq may switch sockets while connecting (next address, SSL retry): wrap the current one.
    wrap_socket();
    if (!socket_) throw failed("libpq has no socket: " + trim_message(PQerrorMessage(conn_)));
    const auto which =
        state == PGRES_POLLING_READING ? Descriptor::wait_read : Descriptor::wait_write;
    auto ready = co_await (socket_->async_wait(which, asio::as_tuple(asio::use_awaitable)) ||
                           deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (ready.index() == 1) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3g", config_.connect_timeout.count());
      throw failed(std::string("timed out after ") + buf +
                   " s (connect_timeout); is the server up and reachable at that address?");
    }
    if (auto [ec] = std::get<0>(ready); ec) throw failed("waiting on the socket: " + ec.message());
    state = PQconnectPoll(conn_);
    if (state == PGRES_POLLING_FAILED) throw failed(trim_message(PQerrorMessage(conn_)));
    if (state == PGRES_POLLING_OK) break;
  }
  wrap_socket();
  if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1)
    throw failed("cannot enter non-blocking pipeline mode: " + trim_message(PQerrorMessage(conn_)));
  idle_since = Clock::now();
}

// ---- socket waits ----------------------------------------------------------------------------

awaitable<void> Connection::wait(bool write) {
  auto [ec] = co_await socket_->async_wait(write ? Descriptor::wait_write : Descriptor::wait_read,
                                           asio::as_tuple(asio::use_awaitable));
  if (ec) {
    broken_ = true;
    busy_ = false;
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    fail_lost("waiting on the socket (" + ec.message() + ")");
  }
}

awaitable<void> Connection::wait_either() {
  auto r =
      co_await (socket_->async_wait(Descriptor::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                socket_->async_wait(Descriptor::wait_write, asio::as_tuple(asio::use_awaitable)));
  auto ec = r.index() == 0 ? std::get<0>(std::get<0>(r)) : std::get<0>(std::get<1>(r));
  if (ec) {
    broken_ = true;
    busy_ = false;
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    fail_lost("waiting on the socket (" + ec.message() + ")");
  }
}

awaitable<void> Connection::flush() {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) co_return;
    if (r < 0) fail_lost("sending");
    // The send buffer is full: the server may be blocked sending us results, so read too.
    co_await wait_either();
    if (!PQconsumeInput(conn_)) fail_lost("reading");
  }
}

awaitable<PGresult*> Connection::next_result() {
  // Read before waiting: the reactor is edge-triggered and data may already be here.
  for (;;) {
    if (!PQconsumeInput(conn_)) fail_lost("reading");
    if (!PQisBusy(conn_)) break;
    co_await wait(false);
  }
  co_return PQgetResult(conn_);
}

// ---- statements ------------------------------------------------------------------------------

awaitable<Result> Connection::query(std::string_view sql, const Params& params) {
  const StatementRef one{sql, &params};
  auto results = co_await run(std::span<const StatementRef>(&one, 1));
  co_return std::move(results.front());
}

awaitable<std::vector<Result>> Connection::pipeline(const std::vector<Statement>& statements) {
  std::vector<StatementRef> refs;
  refs.reserve(statements.size());
  for (const auto& s : statements) refs.push_back({s.sql, &s.params});
  co_return co_await run(refs);
}

awaitable<std::vector<Result>> Connection::run(std::span<const StatementRef> statements) {
  check_usable("run a statement");
  if (in_copy_)
    throw InputError("cannot run a statement during COPY; finish it with copy_end() first");
  busy_ = true;
  answered_ = false;
  const size_t n = statements.size();
  std::vector<std::string> new_names(n);  // statements prepared in this round trip
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  std::vector<Oid> types;
  for (size_t i = 0; i < n; ++i) {
    const auto& st = statements[i];
    const Params& ps = *st.params;
    const int np = static_cast<int>(ps.size());
    values.resize(ps.size());
    lengths.resize(ps.size());
    formats.resize(ps.size());
    types.resize(ps.size());
    for (size_t k = 0; k < ps.size(); ++k) {
      values[k] = ps[k].is_null() ? nullptr : ps[k].data().data();
      lengths[k] = static_cast<int>(ps[k].data().size());
      formats[k] = ps[k].binary() ? 1 : 0;
      types[k] = ps[k].oid();
    }
    const std::string key(st.sql);
    auto it = prepared_.find(key);
    const char* name = nullptr;
    if (it != prepared_.end()) {
      name = it->second.c_str();
    } else if (prepared_.size() < static_cast<size_t>(config_.statement_cache_size)) {
      // Don't prepare the same text twice in one pipeline.
      for (size_t j = 0; j < i && !name; ++j)
        if (!new_names[j].empty() && statements[j].sql == st.sql) name = new_names[j].c_str();
      if (!name) {
        new_names[i] = "ragperf_" + std::to_string(next_statement_++);
        if (!PQsendPrepare(conn_, new_names[i].c_str(), key.c_str(), np, types.data()))
          fail_lost("preparing");
        name = new_names[i].c_str();
      }
    }
    const int ok = name ? PQsendQueryPrepared(conn_, name, np, values.data(), lengths.data(),
                                              formats.data(), 1)
                        : PQsendQueryParams(conn_, key.c_str(), np, types.data(), values.data(),
                                            lengths.data(), formats.data(), 1);
    if (!ok) {
      if (PQstatus(conn_) == CONNECTION_BAD) fail_lost("sending");
      busy_ = false;
      broken_ = true;  // the pipeline holds a partial batch: do not reuse
      throw QueryError("", trim_message(PQerrorMessage(conn_)), key);
    }
    ++queries;
  }
  if (!PQpipelineSync(conn_)) fail_lost("sending");
  co_await flush();

  std::vector<Result> out(n);
  std::string err_state, err_message, err_statement;
  bool lost = false;
  std::vector<char> prepared_ok(n, 0);
  auto take = [&](PGresult* r, size_t i, bool is_prepare) {
    const auto status = PQresultStatus(r);
    // The statement's own result, or an error other than a lost session's, means it ran. (A
    // prepare's completion does not: the backend may die before Bind, and an implicit
    // transaction commits only at the Sync.)
    if (!is_prepare && status != PGRES_PIPELINE_ABORTED) {  // aborted: an earlier one failed
      if (status != PGRES_FATAL_ERROR) {
        answered_ = true;
      } else if (const std::string s = field(r, PG_DIAG_SQLSTATE);
                 !s.empty() && !is_connection_sqlstate(s)) {
        answered_ = true;
      }
    }
    if (status == PGRES_FATAL_ERROR) {
      const std::string state = field(r, PG_DIAG_SQLSTATE);
      if (err_state.empty() && err_message.empty()) {
        err_state = state;
        err_message = trim_message(PQresultErrorMessage(r));
        if (auto primary = field(r, PG_DIAG_MESSAGE_PRIMARY); !primary.empty()) {
          err_message = primary;
          if (auto detail = field(r, PG_DIAG_MESSAGE_DETAIL); !detail.empty())
            err_message += " (" + detail + ")";
          if (auto hint = field(r, PG_DIAG_MESSAGE_HINT); !hint.empty())
            err_message += "; hint: " + hint;
        }
        err_statement = std::string(statements[i].sql);
      }
      if (state.empty() || is_connection_sqlstate(state)) lost = true;
      PQclear(r);
    } else if (!is_prepare && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK ||
                               status == PGRES_EMPTY_QUERY)) {
      out[i] = Result(std::make_shared<ResultData>(r, std::string(statements[i].sql)));
    } else {
      if (is_prepare && status == PGRES_COMMAND_OK) prepared_ok[i] = 1;
      PQclear(r);  // prepare's COMMAND_OK, PIPELINE_ABORTED
    }
  };
  bool caller_cancelled = false;
  try {
    for (size_t i = 0; i < n; ++i) {
      if (!new_names[i].empty()) {
        while (PGresult* r = co_await next_result()) take(r, i, true);
      }
      while (PGresult* r = co_await next_result()) take(r, i, false);
    }
    co_await read_to_sync();
  } catch (const boost::system::system_error& e) {
    // The caller stopped waiting (its cancellation slot fired) while the server runs the
    // statements: ask the server to stop them (below; no co_await inside a handler).
    if (e.code() != asio::error::operation_aborted || lost_ || !conn_) throw;
    caller_cancelled = true;
  }
  if (caller_cancelled) {
    // Cancelled, the coroutine would throw at its next co_await; the drain ends by itself
    // within cancel_timeout, so a second cancellation must not cut it short either.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    co_await cancel_running(statements.front().sql);
  }
  busy_ = false;
  if (lost || PQstatus(conn_) == CONNECTION_BAD) {
    broken_ = lost_ = true;
    throw ConnectionError(describe_ + ": connection lost: " + err_message +
                          " (the pool replaces it; retry the call)");
  }
  // Cache what the server prepared (a failed or skipped Parse leaves nothing behind).
  for (size_t i = 0; i < n; ++i)
    if (prepared_ok[i]) prepared_.emplace(std::string(statements[i].sql), new_names[i]);
  // A statement invalidated by DDL or by DEALLOCATE/DISCARD: prepare it afresh next time.
  if (err_state == "0A000" || err_state == "26000") prepared_.erase(err_statement);
  if (!err_state.empty() || !err_message.empty())
    throw QueryError(err_state, err_message, err_statement);
  co_return out;
}

awaitable<void> Connection::read_to_sync() {
  for (;;) {
    PGresult* r = co_await next_result();
    if (!r) {
      if (PQstatus(conn_) == CONNECTION_BAD) fail_lost("reading");
      continue;
    }
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) co_return;
  }
}

awaitable<bool> Connection::drain_to_sync() {
  try {
    co_await read_to_sync();
  } catch (const std::exception&) {
    co_return false;
  }
  co_return true;
}

awaitable<void> Connection::cancel_running(std::string_view first_sql) {
  // wait() marked the connection broken; it is only mid-statement until the drain below.
  broken_ = false;
  busy_ = true;
  const auto request = send_cancel_request(PQgetCancel(conn_));
  const auto limit =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(config_.cancel_timeout);
  asio::steady_timer timer(executor_);
  timer.expires_at(limit);
  auto drained =
      co_await (drain_to_sync() || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  bool clean = drained.index() == 0 && std::get<0>(drained) && PQstatus(conn_) == CONNECTION_OK;
  // A cancel request still on its way could stop this connection's next statement: the
  // connection is reused only once the server has taken the request (or it was never sent).
  while (clean && request->state.load() == CancelRequest::kPending && Clock::now() < limit) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (request->state.load() == CancelRequest::kPending) clean = false;
  co_await asio::this_coro::reset_cancellation_state();  // the caller's default again
  busy_ = false;
  if (!clean) broken_ = true;
  std::string preview(first_sql.substr(0, 80));
  if (first_sql.size() > 80) preview += "...";
  throw CancelledError("statement '" + preview +
                       "' was cancelled by its caller; PostgreSQL was asked to stop it");
}

// ---- COPY FROM STDIN -------------------------------------------------------------------------

awaitable<void> Connection::copy_begin(std::string_view sql) {
  check_usable("start COPY");
  if (in_copy_) throw InputError("COPY already in progress; finish it with copy_end() first");
  busy_ = true;
  if (PQexitPipelineMode(conn_) != 1) fail_lost("leaving pipeline mode");
  const std::string stmt(sql);
  if (!PQsendQueryParams(conn_, stmt.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0))
    fail_lost("sending COPY");
  ++queries;
  co_await flush();
  PGresult* r = co_await next_result();
  if (r && PQresultStatus(r) == PGRES_COPY_IN) {
    PQclear(r);
    in_copy_ = true;
    busy_ = false;
    co_return;
  }
  std::string state = r ? field(r, PG_DIAG_SQLSTATE) : "";
  std::string message = r ? trim_message(PQresultErrorMessage(r)) : "no result";
  if (r && PQresultStatus(r) != PGRES_FATAL_ERROR)
    message = "statement is not COPY ... FROM STDIN (status " +
              std::string(PQresStatus(PQresultStatus(r))) + ")";
  if (r) PQclear(r);
  while (PGresult* more = co_await next_result()) PQclear(more);
  if (PQstatus(conn_) == CONNECTION_BAD || is_connection_sqlstate(state)) fail_lost("in COPY");
  if (PQenterPipelineMode(conn_) != 1) fail_lost("entering pipeline mode");
  busy_ = false;
  throw QueryError(state, message, stmt);
}

awaitable<void> Connection::copy_write(std::string_view data) {
  if (!in_copy_) throw InputError("copy_write() without copy_begin(): start the COPY first");
  busy_ = true;
  while (!data.empty()) {
    const size_t chunk = std::min<size_t>(data.size(), 1 << 20);
    const int r = PQputCopyData(conn_, data.data(), static_cast<int>(chunk));
    if (r < 0) fail_lost("sending COPY data");
    if (r == 0) {
      co_await wait(true);
      continue;
    }
    data.remove_prefix(chunk);
    co_await flush();
  }
  busy_ = false;
}

awaitable<uint64_t> Connection::copy_end() {
  if (!in_copy_) throw InputError("copy_end() without copy_begin(): start the COPY first");
  busy_ = true;
  int r;
  while ((r = PQputCopyEnd(conn_, nullptr)) == 0) co_await wait(true);
  if (r < 0) fail_lost("ending COPY");
  co_await flush();
  in_copy_ = false;
  uint64_t rows = 0;
  std::string state, message;
  bool failed = false;
  while (PGresult* res = co_await next_result()) {
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
      const char* t = PQcmdTuples(res);
      rows = t && *t ? std::strtoull(t, nullptr, 10) : 0;
    } else if (!failed) {
      failed = true;
      state = field(res, PG_DIAG_SQLSTATE);
      message = trim_message(PQresultErrorMessage(res));
    }
    PQclear(res);
  }
  // Bad COPY data is reported as 08P01 (protocol violation) but leaves the session usable.
  if (PQstatus(conn_) == CONNECTION_BAD || (state != "08P01" && is_connection_sqlstate(state)))
    fail_lost("in COPY");
  if (PQenterPipelineMode(conn_) != 1) fail_lost("entering pipeline mode");
  busy_ = false;
  if (failed) throw QueryError(state, message, "COPY ... FROM STDIN");
  co_return rows;
}

awaitable<void> Connection::copy_abort(const std::string& reason) {
  if (!in_copy_) co_return;
  busy_ = true;
  int r;
  while ((r = PQputCopyEnd(conn_, reason.c_str())) == 0) co_await wait(true);
  if (r < 0) fail_lost("aborting COPY");
  co_await flush();
  in_copy_ = false;
  while (PGresult* res = co_await next_result()) PQclear(res);  // the expected error
  if (PQstatus(conn_) == CONNECTION_BAD) fail_lost("aborting COPY");
  if (PQenterPipelineMode(conn_) != 1) fail_lost("entering pipeline mode");
  busy_ = false;
}

}  // namespace ragperf::db
