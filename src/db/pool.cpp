// DatabaseConnectionPool, PooledConnection and their shared state (include/ragperf/db_pool.h).
#include "db/pool_core.h"  // first: Asio under the pragma in ragperf/db_pool.h

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cstdio>

#include "ragperf/monitor.h"

namespace ragperf::db {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

Clock::duration ticks(std::chrono::duration<double> d) {
  return std::chrono::duration_cast<Clock::duration>(d);
}

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fmt_s(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

PoolCore::Pending::Pending(PoolCore* core) : core_(core) {
  std::lock_guard lock(core_->pending_mu_);
  ++core_->pending_;
}

PoolCore::Pending::~Pending() {
  if (!core_) return;
  std::lock_guard lock(core_->pending_mu_);
  if (--core_->pending_ == 0) core_->pending_cv_.notify_all();
}

PoolCore::PoolCore(PoolConfig config)
    : config_(std::move(config)),
      runtime_(config_.runtime ? config_.runtime : Runtime::shared()),
      strand_(asio::make_strand(runtime_->io_executor())),
      maintenance_timer_(strand_) {
  asio::co_spawn(strand_, maintenance(pending()), asio::detached);
}

PoolCore::~PoolCore() {
  close(std::chrono::seconds(0));
}

// ---- acquiring -------------------------------------------------------------------------------

bool PoolCore::expired_locked(const Connection& c, Clock::time_point now) const {
  if (now - c.created_at > ticks(config_.max_lifetime)) return true;
  return config_.max_uses > 0 && c.uses >= config_.max_uses;
}

PoolCore::ConnPtr PoolCore::take_idle_locked() {
  while (!idle_.empty()) {
    ConnPtr c = std::move(idle_.back());
    idle_.pop_back();
    if (!c->alive_when_idle()) {
      ++lost_;
      ++lost_pending_;
      discard_locked(c);
      continue;
    }
    ++in_use_;
    ++acquires_;
    ++c->uses;
    c->was_idle = true;
    return c;
  }
  return nullptr;
}

template <typename Token>
auto PoolCore::async_wait_connection(Token&& token) {
  return asio::async_initiate<Token, void(std::exception_ptr, ConnPtr)>(
      [this](auto handler) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        start_wait(std::make_unique<HandlerImpl<decltype(handler)>>(std::move(handler)), slot);
      },
      token);
}

void PoolCore::start_wait(std::unique_ptr<HandlerBase> handler, asio::cancellation_slot slot) {
  std::lock_guard lock(mu_);
  auto w = std::make_shared<Waiter>(strand_);
  w->slot = slot;
  w->handler = std::move(handler);
  if (closing_) {
    complete_locked(w,
                    std::make_exception_ptr(
                        UnavailableError("connection pool " + config_.describe() + " is closed")),
                    nullptr);
    return;
  }
  // A connection may have come back since the caller looked.
  if (ConnPtr c = take_idle_locked()) {
    complete_locked(w, nullptr, std::move(c));
    return;
  }
  if (static_cast<int>(waiters_.size()) >= config_.max_waiting &&
      static_cast<int>(all_.size()) + connecting_ >= config_.max_size) {
    ++rejected_;
    complete_locked(
        w,
        std::make_exception_ptr(OverloadedError(
            "connection pool " + config_.describe() + ": " + std::to_string(waiters_.size()) +
            " callers are already waiting for a connection (max_waiting=" +
            std::to_string(config_.max_waiting) + "); retry later, raise max_waiting or " +
            "MAX_POOL_SIZE (now " + std::to_string(config_.max_size) + ")")),
        nullptr);
    return;
  }
  if (w->slot.is_connected()) {
    std::weak_ptr<Waiter> weak = w;
    w->slot.assign([this, weak](asio::cancellation_type) {
      asio::post(strand_, [this, weak, token = pending()] {
        auto wp = weak.lock();
        if (!wp) return;
        std::lock_guard l(mu_);
        if (wp->done) return;
        ++acquire_cancelled_;
        complete_locked(
            wp,
            std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted)),
            nullptr);
      });
    });
  }
  w->timer.expires_after(ticks(config_.acquire_timeout));
  w->timer.async_wait(
      [this, weak = std::weak_ptr<Waiter>(w), token = pending()](boost::system::error_code ec) {
        if (ec) return;
        auto wp = weak.lock();
        if (!wp) return;
        std::lock_guard l(mu_);
        if (wp->done) return;
        ++acquire_timeouts_;
        complete_locked(wp, std::make_exception_ptr(PoolExhaustedError(exhausted_message_locked())),
                        nullptr);
      });
  waiters_.push_back(w);
  grow_locked();
}

void PoolCore::complete_locked(WaiterPtr w, std::exception_ptr error, ConnPtr conn) {
  w->done = true;
  if (auto it = std::find(waiters_.begin(), waiters_.end(), w); it != waiters_.end())
    waiters_.erase(it);
  w->timer.cancel();
  asio::post(strand_,
             [w, error = std::move(error), conn = std::move(conn), token = pending()]() mutable {
               if (w->slot.is_connected()) w->slot.clear();
               auto handler = std::move(w->handler);
               handler->complete(std::move(error), std::move(conn));
             });
}

std::string PoolCore::exhausted_message_locked() const {
  return "connection pool exhausted: no connection to " + config_.describe() +
         " became free within acquire_timeout=" + fmt_s(config_.acquire_timeout.count()) + " s (" +
         stats_locked().to_string() + "); raise MAX_POOL_SIZE (max_size, now " +
         std::to_string(config_.max_size) + ") or acquire_timeout, or hold connections for shorter";
}

awaitable<PooledConnection> PoolCore::acquire(std::shared_ptr<PoolCore> self, bool verify) {
  PerformanceMonitor* const monitor = config_.monitor;
  const auto call_start = monitor ? Clock::now() : Clock::time_point{};
  for (;;) {
    const auto start = Clock::now();
    ConnPtr conn;
    {
      std::lock_guard lock(mu_);
      if (closing_)
        throw UnavailableError("connection pool " + config_.describe() +
                               " is closed; create a new pool");
      conn = take_idle_locked();
    }
    if (!conn) conn = co_await async_wait_connection(asio::use_awaitable);
    const bool stale = (verify && conn->was_idle) ||
                       Clock::now() - conn->idle_since > ticks(config_.health_check_idle);
    PooledConnection handle(self, conn);  // from here on the connection always goes back
    {
      std::lock_guard lock(mu_);
      waits_[n_waits_++ % waits_.size()] = since(start);
    }
    if (stale) {
      bool ok = true;
      try {
        co_await conn->query("SELECT 1", {});
      } catch (const ConnectionError&) {
        ok = false;  // lost while idle: replaced on release, try the next one
      } catch (const QueryError&) {
        ok = false;
      }
      if (!ok) continue;
    }
    if (monitor) monitor->record("acquire", since(call_start));
    co_return handle;
  }
}

// ---- opening connections ---------------------------------------------------------------------

void PoolCore::grow_locked() {
  if (closing_) return;
  int uncovered = static_cast<int>(waiters_.size()) - connecting_;
  while (uncovered-- > 0 && static_cast<int>(all_.size()) + connecting_ < config_.max_size)
    spawn_connect_locked();
}

void PoolCore::refill_locked() {
  if (closing_ || !initialized_) return;
  while (static_cast<int>(all_.size()) + connecting_ < config_.min_size) spawn_connect_locked();
}

void PoolCore::spawn_connect_locked() {
  ++connecting_;
  // Posted: co_spawn on the strand would start it inline, under mu_.
  asio::post(strand_, [this, token = pending()]() mutable {
    asio::co_spawn(strand_, connect_one(std::move(token)), asio::detached);
  });
}

void PoolCore::notify_watchers_locked() {
  for (auto* t : watchers_) t->cancel();
}

awaitable<void> PoolCore::connect_one(Pending /*held until it ends*/) {
  auto c = std::make_shared<Connection>(strand_, config_);
  {
    std::lock_guard lock(mu_);
    connecting_conns_.push_back(c);
  }
  std::exception_ptr error;
  std::string message;
  try {
    co_await c->connect();
  } catch (const std::exception& e) {
    error = std::current_exception();
    message = e.what();
  }
  std::lock_guard lock(mu_);
  std::erase(connecting_conns_, c);
  --connecting_;
  cv_.notify_all();
  notify_watchers_locked();
  if (error) {
    ++connection_errors_;
    ++connect_error_seq_;
    last_connect_error_ = message;
    // The database is down or refusing: tell the waiters now rather than at acquire_timeout.
    if (all_.empty()) {
      while (!waiters_.empty()) complete_locked(waiters_.front(), error, nullptr);
    } else if (!waiters_.empty()) {
      complete_locked(waiters_.front(), error, nullptr);
    }
    co_return;
  }
  if (closing_) {
    c->close();
    co_return;
  }
  all_.push_back(c);
  ++opened_;
  if (lost_pending_ > 0) {
    --lost_pending_;
    ++replaced_;
  }
  hand_over_locked(c);
}

void PoolCore::hand_over_locked(ConnPtr conn) {
  if (!waiters_.empty()) {
    ++in_use_;
    ++acquires_;
    conn->was_idle = conn->uses > 0;  // back from a caller, or opened for this one
    ++conn->uses;
    complete_locked(waiters_.front(), nullptr, std::move(conn));
    return;
  }
  conn->idle_since = Clock::now();
  idle_.push_back(std::move(conn));
}

void PoolCore::discard_locked(const ConnPtr& conn) {
  if (auto it = std::find(all_.begin(), all_.end(), conn); it != all_.end()) {
    all_.erase(it);
    ++closed_count_;
  }
  conn->close();
}

awaitable<void> PoolCore::initialize() {
  asio::steady_timer watcher(strand_);
  uint64_t errors_before;
  {
    std::lock_guard lock(mu_);
    if (closing_)
      throw UnavailableError("connection pool " + config_.describe() +
                             " is closed; create a new pool");
    initialized_ = true;
    errors_before = connect_error_seq_;
    refill_locked();
    watchers_.push_back(&watcher);
  }
  for (;;) {
    std::string error;
    {
      std::lock_guard lock(mu_);
      if (connect_error_seq_ != errors_before) {
        error = last_connect_error_;
      } else if (static_cast<int>(all_.size()) >= config_.min_size || connecting_ == 0) {
        std::erase(watchers_, &watcher);
        co_return;
      }
      if (!error.empty()) {
        std::erase(watchers_, &watcher);
        initialized_ = false;  // initialize() may be called again
      }
    }
    if (!error.empty()) throw ConnectionError(error);
    watcher.expires_after(std::chrono::hours(1));
    co_await watcher.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// ---- returning connections -------------------------------------------------------------------

void PoolCore::release(ConnPtr conn) {
  if (on_pool_thread()) {
    release_on_io(std::move(conn));
    return;
  }
  std::lock_guard lock(mu_);
  if (closed_) {  // nothing runs on the strand for the pool any more: close here
    --in_use_;
    discard_locked(conn);
    cv_.notify_all();
    return;
  }
  asio::post(strand_, [this, conn = std::move(conn), token = pending()]() mutable {
    release_on_io(std::move(conn));
  });
}

void PoolCore::release_on_io(ConnPtr conn) {
  std::lock_guard lock(mu_);
  --in_use_;
  cv_.notify_all();
  if (!closing_ && conn->reusable() && conn->in_transaction()) {
    ++in_use_;  // still out of the pool while it is reset
    asio::post(strand_, [this, conn = std::move(conn), token = pending()]() mutable {
      asio::co_spawn(strand_, reset_and_return(std::move(conn), std::move(token)), asio::detached);
    });
    return;
  }
  recycle_locked(std::move(conn));
}

awaitable<void> PoolCore::reset_and_return(ConnPtr conn, Pending /*held until it ends*/) {
  try {
    co_await conn->query("ROLLBACK", {});
  } catch (const std::exception&) {
    conn->abort();  // cannot clean it: never reuse it
  }
  std::lock_guard lock(mu_);
  --in_use_;
  cv_.notify_all();
  recycle_locked(std::move(conn));
}

void PoolCore::recycle_locked(ConnPtr conn) {
  if (closing_) {
    discard_locked(conn);
    return;
  }
  if (!conn->reusable() || conn->in_transaction()) {
    if (conn->lost()) {
      ++lost_;
      ++lost_pending_;
      // The server may have dropped the others too (restart, mass termination): sweep.
      for (size_t i = 0; i < idle_.size();) {
        if (idle_[i]->alive_when_idle()) {
          ++i;
          continue;
        }
        ++lost_;
        ++lost_pending_;
        discard_locked(idle_[i]);
        idle_.erase(idle_.begin() + static_cast<long>(i));
      }
    }
    discard_locked(conn);
    grow_locked();
    refill_locked();
    return;
  }
  if (expired_locked(*conn, Clock::now())) {
    discard_locked(conn);
    grow_locked();
    refill_locked();
    return;
  }
  hand_over_locked(std::move(conn));
}

void PoolCore::count_retry() {
  std::lock_guard lock(mu_);
  ++retried_;
}

// ---- background maintenance ------------------------------------------------------------------

awaitable<void> PoolCore::maintenance(Pending /*held until it ends*/) {
  for (;;) {
    maintenance_timer_.expires_after(ticks(config_.maintenance_interval));
    co_await maintenance_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mu_);
    if (closing_) co_return;
    const auto now = Clock::now();
    // idle_ is LIFO: the front has been idle longest.
    for (size_t i = 0; i < idle_.size();) {
      ConnPtr c = idle_[i];
      const bool dead = !c->alive_when_idle();
      // Idle connections are closed only down to the target size (CONNECTION_POOL_SIZE).
      const bool too_idle = now - c->idle_since > ticks(config_.max_idle) &&
                            static_cast<int>(all_.size()) > config_.effective_target_size();
      if (dead || too_idle || expired_locked(*c, now)) {
        if (dead) {
          ++lost_;
          ++lost_pending_;
        }
        idle_.erase(idle_.begin() + static_cast<long>(i));
        discard_locked(c);
      } else {
        ++i;
      }
    }
    refill_locked();
    grow_locked();
  }
}

// ---- stats and shutdown ----------------------------------------------------------------------

PoolStats PoolCore::stats_locked() const {
  PoolStats s;
  s.pool_min = config_.min_size;
  s.pool_max = config_.max_size;
  s.pool_target = config_.effective_target_size();
  s.pool_size = static_cast<int>(all_.size()) + connecting_;
  s.pool_free = static_cast<int>(idle_.size());
  s.in_use = in_use_;
  s.connecting = connecting_;
  s.requests_waiting = static_cast<int>(waiters_.size());
  s.total_queries = total_queries_.load(std::memory_order_relaxed);
  s.acquires = acquires_;
  s.acquire_timeouts = acquire_timeouts_;
  s.acquire_cancelled = acquire_cancelled_;
  s.statements_cancelled = cancelled_.load(std::memory_order_relaxed);
  s.requests_rejected = rejected_;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(n_waits_, waits_.size()));
  if (n > 0) {
    std::vector<double> w(waits_.begin(), waits_.begin() + static_cast<long>(n));
    auto pct = [&](double q) {
      const size_t k = std::min(n - 1, static_cast<size_t>(q * static_cast<double>(n - 1) + 0.5));
      std::nth_element(w.begin(), w.begin() + static_cast<long>(k), w.end());
      return w[k];
    };
    s.acquire_wait_p50_s = pct(0.50);
    s.acquire_wait_p99_s = pct(0.99);
  }
  s.connections_opened = opened_;
  s.connections_closed = closed_count_;
  s.connection_errors = connection_errors_;
  s.connections_lost = lost_;
  s.connections_replaced = replaced_;
  s.queries_retried = retried_;
  return s;
}

PoolStats PoolCore::get_stats() const {
  std::lock_guard lock(mu_);
  return stats_locked();
}

std::vector<int> PoolCore::backend_pids() const {
  std::lock_guard lock(mu_);
  std::vector<int> pids;
  for (const auto& c : all_) pids.push_back(c->backend_pid());
  std::sort(pids.begin(), pids.end());
  return pids;
}

bool PoolCore::closed() const {
  std::lock_guard lock(mu_);
  return closing_;
}

void PoolCore::close(std::chrono::duration<double> timeout) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
  }
  if (on_io_thread())
    throw InputError(
        "DatabaseConnectionPool::close() called from a Runtime I/O thread, where it would wait "
        "for itself; call it from another thread (it blocks)");
  // 1. Stop admitting; fail waiters; close idle connections; abort attempts in flight.
  std::promise<void> step1;
  asio::post(strand_, [this, &step1] {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      while (!waiters_.empty())
        complete_locked(waiters_.front(),
                        std::make_exception_ptr(UnavailableError(
                            "connection pool " + config_.describe() + " was closed")),
                        nullptr);
      for (auto& c : idle_) discard_locked(c);
      idle_.clear();
      for (auto& c : connecting_conns_) c->abort();
      notify_watchers_locked();
      maintenance_timer_.cancel();
    }
    step1.set_value();
  });
  step1.get_future().wait();
  // 2. Wait for connections in use, then abort them (their statements fail).
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return in_use_ == 0 && connecting_ == 0; });
  if (in_use_ > 0) {
    lock.unlock();
    asio::post(strand_, [this, token = pending()] {
      std::lock_guard l(mu_);
      for (auto& c : all_) c->abort();
    });
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(2), [this] { return in_use_ == 0; });
  }
  cv_.wait_for(lock, std::chrono::seconds(2), [this] { return connecting_ == 0; });
  lock.unlock();
  // 3. Wait for the work the pool started (everything above cancelled it or made it end soon:
  // the maintenance loop, connection attempts, resets, posted releases and timers).
  wait_pending();
  // 4. Close what is left on the strand, where the connections' sockets live.
  std::promise<void> step4;
  asio::post(strand_, [this, &step4] {
    {
      std::lock_guard l(mu_);
      closed_ = true;
      for (auto& c : all_) {
        c->close();
        ++closed_count_;
      }
      all_.clear();
    }
    step4.set_value();
  });
  step4.get_future().wait();
  // 5. A release posted before closed_ was set may still be queued; later ones close inline.
  wait_pending();
}

void PoolCore::wait_pending() {
  std::unique_lock lock(pending_mu_);
  pending_cv_.wait(lock, [this] { return pending_ == 0; });
}

}  // namespace ragperf::db

// ---- public API ------------------------------------------------------------------------------

namespace ragperf {

using db::awaitable;
using db::Clock;
using db::Params;
using db::Result;
using db::since;

std::string PoolStats::to_string() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "pool_min=%d pool_target=%d pool_max=%d pool_size=%d pool_free=%d in_use=%d "
                "requests_waiting=%d acquires=%llu acquire_timeouts=%llu "
                "acquire_wait_p50=%.3gs p99=%.3gs connection_errors=%llu connections_lost=%llu",
                pool_min, pool_target, pool_max, pool_size, pool_free, in_use, requests_waiting,
                static_cast<unsigned long long>(acquires),
                static_cast<unsigned long long>(acquire_timeouts), acquire_wait_p50_s,
                acquire_wait_p99_s, static_cast<unsigned long long>(connection_errors),
                static_cast<unsigned long long>(connections_lost));
  return buf;
}

// PooledConnection

PooledConnection::PooledConnection(std::shared_ptr<db::PoolCore> core,
                                   std::shared_ptr<db::Connection> conn)
    : core_(std::move(core)), conn_(std::move(conn)) {}

PooledConnection::PooledConnection(PooledConnection&& o) noexcept
    : core_(std::move(o.core_)), conn_(std::move(o.conn_)) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& o) noexcept {
  if (this != &o) {
    release();
    core_ = std::move(o.core_);
    conn_ = std::move(o.conn_);
  }
  return *this;
}

PooledConnection::~PooledConnection() {
  release();
}

void PooledConnection::release() {
  if (!conn_) return;
  auto core = std::move(core_);
  auto conn = std::move(conn_);
  core->release(std::move(conn));
}

namespace {
// The connection a statement runs on, kept alive by the statement's own frame: the handle may be
// released (and the pool close the connection) while the statement still waits on its socket,
// and the statement then resumes on this object, never on freed memory.
std::shared_ptr<db::Connection> checked(const std::shared_ptr<db::Connection>& c) {
  if (!c)
    throw InputError("PooledConnection is empty (released or moved from); acquire() a new one");
  return c;
}
}  // namespace

awaitable<Result> PooledConnection::execute(std::string sql, Params params) {
  const std::shared_ptr<db::Connection> c = checked(conn_);
  // Kept by the frame too: the handle may be released (core_ moved out) while the statement runs.
  const std::shared_ptr<db::PoolCore> core = core_;
  core->count_query();
  try {
    co_return co_await c->query(sql, params);
  } catch (const CancelledError&) {
    core->count_cancel();
    throw;
  }
}

awaitable<Result> PooledConnection::fetch(std::string sql, Params params) {
  co_return co_await execute(std::move(sql), std::move(params));
}

awaitable<std::optional<db::Row>> PooledConnection::fetchrow(std::string sql, Params params) {
  Result r = co_await execute(std::move(sql), std::move(params));
  if (r.rows() == 0) co_return std::nullopt;
  co_return r[0];
}

awaitable<std::vector<Result>> PooledConnection::pipeline(std::vector<db::Statement> statements) {
  const std::shared_ptr<db::Connection> c = checked(conn_);
  const std::shared_ptr<db::PoolCore> core = core_;  // as in execute()
  for (size_t i = 0; i < statements.size(); ++i) core->count_query();
  try {
    co_return co_await c->pipeline(statements);
  } catch (const CancelledError&) {
    core->count_cancel();
    throw;
  }
}

awaitable<void> PooledConnection::copy_begin(std::string copy_sql) {
  const std::shared_ptr<db::Connection> c = checked(conn_);
  core_->count_query();
  co_await c->copy_begin(copy_sql);
}

awaitable<void> PooledConnection::copy_write(std::string_view data) {
  const std::shared_ptr<db::Connection> c = checked(conn_);
  co_await c->copy_write(data);
}

awaitable<uint64_t> PooledConnection::copy_end() {
  const std::shared_ptr<db::Connection> c = checked(conn_);
  co_return co_await c->copy_end();
}

awaitable<void> PooledConnection::copy_abort(std::string reason) {
  const std::shared_ptr<db::Connection> c = checked(conn_);
  co_await c->copy_abort(reason);
}

awaitable<uint64_t> PooledConnection::copy_from(std::string copy_sql, std::string_view data) {
  co_await copy_begin(std::move(copy_sql));
  co_await copy_write(data);
  co_return co_await copy_end();
}

int PooledConnection::backend_pid() const {
  return conn_ ? conn_->backend_pid() : 0;
}

// DatabaseConnectionPool

DatabaseConnectionPool::DatabaseConnectionPool(PoolConfig config) {
  config.validate();
  core_ = std::make_shared<db::PoolCore>(std::move(config));
}

namespace {
PoolConfig sized(PoolConfig c, int min_size, int max_size) {
  c.min_size = min_size;
  c.max_size = max_size;
  return c;
}
}  // namespace

DatabaseConnectionPool::DatabaseConnectionPool(const std::string& url, int min_size, int max_size)
    : DatabaseConnectionPool(sized(PoolConfig::from_url(url), min_size, max_size)) {}

DatabaseConnectionPool::DatabaseConnectionPool(std::string host, int port, std::string database,
                                               std::string user, std::string password, int min_size,
                                               int max_size)
    : DatabaseConnectionPool([&] {
        PoolConfig c;
        c.host = std::move(host);
        c.port = port;
        c.database = std::move(database);
        c.user = std::move(user);
        c.password = std::move(password);
        return sized(std::move(c), min_size, max_size);
      }()) {}

DatabaseConnectionPool::~DatabaseConnectionPool() {
  if (core_) core_->close(std::chrono::seconds(5));
}

void DatabaseConnectionPool::initialize() {
  run(async_initialize());
}

awaitable<void> DatabaseConnectionPool::async_initialize() {
  return core_->initialize();
}

awaitable<PooledConnection> DatabaseConnectionPool::acquire() {
  return core_->acquire(core_);
}

awaitable<Result> DatabaseConnectionPool::execute(std::string sql, Params params) {
  // One statement in its own implicit transaction (a pool-level call never spans a BEGIN: the
  // connection goes back, and is rolled back, right after). It is retried once, on a connection
  // checked by a round trip (or a new one), only when it cannot have run: the connection had sat
  // in the pool, where the server may drop it unseen (pg_terminate_backend, restart: the FATAL
  // may not have arrived yet when it was handed out), and died before the server answered
  // anything. A connection opened for this call failing is the caller's answer; statements on an
  // acquired PooledConnection (explicit transactions) are never retried.
  // "query" (monitor only): the statement's time on its connection(s), both attempts summed.
  PerformanceMonitor* const monitor = core_->config().monitor;
  double query_s = 0;
  for (int attempt = 1;; ++attempt) {
    PooledConnection conn = co_await core_->acquire(core_, attempt > 1);
    const auto t0 = monitor ? Clock::now() : Clock::time_point{};
    try {
      Result r = co_await conn.execute(sql, params);
      if (monitor) monitor->record("query", query_s + since(t0));
      co_return r;
    } catch (const ConnectionError&) {
      const auto& c = *conn.conn_;
      if (attempt > 1 || !c.lost() || !c.was_idle || c.answered()) throw;
      if (monitor) query_s += since(t0);
    }
    core_->count_retry();
  }
}

awaitable<Result> DatabaseConnectionPool::fetch(std::string sql, Params params) {
  co_return co_await execute(std::move(sql), std::move(params));
}

awaitable<std::optional<db::Row>> DatabaseConnectionPool::fetchrow(std::string sql, Params params) {
  Result r = co_await execute(std::move(sql), std::move(params));
  if (r.rows() == 0) co_return std::nullopt;
  co_return r[0];
}

awaitable<bool> DatabaseConnectionPool::async_health_check() {
  try {
    Result r = co_await execute("SELECT 1");
    co_return r.rows() == 1 && r[0][0].as_int() == 1;
  } catch (const Error&) {
    co_return false;
  } catch (const boost::system::system_error&) {
    co_return false;
  }
}

bool DatabaseConnectionPool::health_check() {
  return run(async_health_check());
}

PoolStats DatabaseConnectionPool::get_stats() const {
  return core_->get_stats();
}
const PoolConfig& DatabaseConnectionPool::config() const {
  return core_->config();
}
std::vector<int> DatabaseConnectionPool::backend_pids() const {
  return core_->backend_pids();
}
void DatabaseConnectionPool::close(std::chrono::duration<double> timeout) {
  core_->close(timeout);
}
bool DatabaseConnectionPool::closed() const {
  return core_->closed();
}
boost::asio::any_io_executor DatabaseConnectionPool::get_executor() const {
  return core_->executor();
}

void DatabaseConnectionPool::check_runnable(bool blocking) const {
  if (core_->closed())
    throw UnavailableError("connection pool " + core_->config().describe() +
                           " is closed; create a new pool");
  if (blocking && core_->on_io_thread())
    throw InputError(
        "DatabaseConnectionPool::run() would block a Runtime I/O thread, which the pool needs; "
        "co_await instead");
}

}  // namespace ragperf
