// db/pool_core.h: the state behind DatabaseConnectionPool and PooledConnection (private to
// src/db). Every connection and timer is driven on one strand of the Runtime's I/O executor (the
// pool starts no thread); `mu_` guards the state so that stats and releases may come from other
// threads. Work the pool starts itself (maintenance, connection attempts, resets, posted
// releases) holds a Pending token; close() waits for the last one, so nothing the pool started
// outlives it.
#pragma once

#include <array>
#include <atomic>
#include "ragperf/db_pool.h"  // first: brings Asio in (see the pragma there)

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "db/connection.h"
#include "ragperf/db_pool.h"
#include "ragperf/runtime.h"

namespace ragperf::db {

class PoolCore {
 public:
  using Clock = std::chrono::steady_clock;
  using ConnPtr = std::shared_ptr<Connection>;

  explicit PoolCore(PoolConfig config);
  ~PoolCore();

  awaitable<void> initialize();
  /// `verify`: ping a connection that sat idle before handing it out, whatever its idle time
  /// (used for a retry after the server dropped an idle connection: its siblings may be gone too).
  awaitable<PooledConnection> acquire(std::shared_ptr<PoolCore> self, bool verify = false);
  /// Returns a connection (any thread).
  void release(ConnPtr conn);
  void count_query() { total_queries_.fetch_add(1, std::memory_order_relaxed); }
  void count_retry();
  void count_cancel() { cancelled_.fetch_add(1, std::memory_order_relaxed); }
  PoolStats get_stats() const;
  std::vector<int> backend_pids() const;
  void close(std::chrono::duration<double> timeout);
  bool closed() const;
  bool on_pool_thread() const { return strand_.running_in_this_thread(); }
  /// True on any of the Runtime's I/O threads, where the pool's blocking calls would wait for
  /// themselves.
  bool on_io_thread() const { return runtime_->in_io_thread(); }
  boost::asio::any_io_executor executor() { return strand_; }
  const PoolConfig& config() const { return config_; }

 private:
  // The waiting caller's completion handler, type-erased (Boost 1.81's any_completion_handler
  // recurses when moved into another one).
  struct HandlerBase {
    virtual ~HandlerBase() = default;
    virtual void complete(std::exception_ptr error, ConnPtr conn) = 0;
  };
  template <typename H>
  struct HandlerImpl : HandlerBase {
    explicit HandlerImpl(H&& h) : handler(std::move(h)) {}
    void complete(std::exception_ptr error, ConnPtr conn) override {
      std::move(handler)(std::move(error), std::move(conn));
    }
    H handler;
  };
  using Strand = boost::asio::strand<Runtime::IoExecutor>;
  struct Waiter {
    explicit Waiter(const Strand& strand) : timer(strand) {}
    std::unique_ptr<HandlerBase> handler;
    boost::asio::cancellation_slot slot;
    boost::asio::steady_timer timer;
    bool done = false;
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  // Held by each piece of work the pool starts; close() waits until none is left.
  class Pending {
   public:
    explicit Pending(PoolCore* core);
    Pending(Pending&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    Pending& operator=(Pending&&) = delete;
    ~Pending();

   private:
    PoolCore* core_;
  };
  Pending pending() { return Pending(this); }
  void wait_pending();

  template <typename Token>
  auto async_wait_connection(Token&& token);
  void start_wait(std::unique_ptr<HandlerBase> handler, boost::asio::cancellation_slot slot);

  ConnPtr take_idle_locked();
  void complete_locked(WaiterPtr w, std::exception_ptr error,
                       ConnPtr conn);  // by value: w may live in waiters_
  void hand_over_locked(ConnPtr conn);
  void discard_locked(const ConnPtr& conn);
  void grow_locked();    // a connection attempt per uncovered waiter, up to max_size
  void refill_locked();  // up to min_size
  void spawn_connect_locked();
  awaitable<void> connect_one(Pending);
  awaitable<void> reset_and_return(ConnPtr conn, Pending);
  void release_on_io(ConnPtr conn);
  void recycle_locked(ConnPtr conn);
  bool expired_locked(const Connection& c, Clock::time_point now) const;
  awaitable<void> maintenance(Pending);
  std::string exhausted_message_locked() const;
  PoolStats stats_locked() const;
  void notify_watchers_locked();

  PoolConfig config_;
  std::shared_ptr<Runtime> runtime_;  // first: outlives the strand and everything on it
  Strand strand_;
  boost::asio::steady_timer maintenance_timer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // in_use_ / connecting_ changes, for close()
  std::vector<ConnPtr> all_;    // open connections (idle, in use, resetting)
  std::vector<ConnPtr> idle_;   // LIFO: back is the most recently used
  std::vector<ConnPtr> connecting_conns_;
  std::deque<WaiterPtr> waiters_;
  std::vector<boost::asio::steady_timer*> watchers_;  // initialize() waiting on connects
  int connecting_ = 0;
  int in_use_ = 0;
  int lost_pending_ = 0;  // lost connections not replaced yet
  bool initialized_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::string last_connect_error_;
  uint64_t connect_error_seq_ = 0;

  std::atomic<uint64_t> total_queries_{0};
  std::atomic<uint64_t> cancelled_{0};
  uint64_t acquires_ = 0, acquire_timeouts_ = 0, acquire_cancelled_ = 0, rejected_ = 0;
  uint64_t opened_ = 0, closed_count_ = 0, connection_errors_ = 0, lost_ = 0, replaced_ = 0;
  uint64_t retried_ = 0;
  std::array<double, 4096> waits_{};  // ring of recent acquire wait times, seconds
  uint64_t n_waits_ = 0;

  std::mutex pending_mu_;  // apart from mu_: a token may end while mu_ is held
  std::condition_variable pending_cv_;
  size_t pending_ = 0;
};

}  // namespace ragperf::db
