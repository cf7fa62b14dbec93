// db/cancel_request.h: PostgreSQL cancel requests, sent off the I/O threads (private to src/db).
//
// libpq 15's PQcancel() is blocking (it opens a new connection to the server, sends the backend's
// key and waits for the server to close it), so it must never run on an I/O thread. One
// process-wide sender thread, started on first use, sends them in order from a bounded queue.
// A request that finds the queue full is refused at once (CancelRequest::kFailed): the caller then
// treats the statement as still running on the server and discards its connection.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <memory>

namespace ragperf::db {

/// One cancel request's state; the sender thread moves it from kPending to kSent or kFailed.
struct CancelRequest {
  enum State : int { kPending, kSent, kFailed };
  std::atomic<int> state{kPending};
};

/// Requests at most this many cancels waiting for the sender thread; more are refused.
inline constexpr size_t kMaxQueuedCancels = 64;

/// Hands `cancel` (from PQgetCancel, owned from here on; null: refused) to the sender thread.
/// Returns at once; the request's state says when the server has taken it.
std::shared_ptr<const CancelRequest> send_cancel_request(PGcancel* cancel);

}  // namespace ragperf::db
