// PostgreSQL cancel requests on one sender thread (db/cancel_request.h).
#include "db/cancel_request.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace ragperf::db {

namespace {

class Sender {
 public:
  std::shared_ptr<const CancelRequest> submit(PGcancel* cancel) {
    auto request = std::make_shared<CancelRequest>();
    if (!cancel) {
      request->state = CancelRequest::kFailed;
      return request;
    }
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= kMaxQueuedCancels) {
        PQfreeCancel(cancel);
        request->state = CancelRequest::kFailed;
        return request;
      }
      queue_.emplace_back(cancel, request);
      if (!started_) {
        started_ = true;
        // Detached: the sender lives as long as the process (see sender()).
        std::thread([this] { loop(); }).detach();
      }
    }
    cv_.notify_one();
    return request;
  }

 private:
  void loop() {
    for (;;) {
      std::pair<PGcancel*, std::shared_ptr<CancelRequest>> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      char error[256];
      const int ok = PQcancel(job.first, error, sizeof error);
      PQfreeCancel(job.first);
      job.second->state = ok ? CancelRequest::kSent : CancelRequest::kFailed;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<PGcancel*, std::shared_ptr<CancelRequest>>> queue_;
  bool started_ = false;
};

Sender& sender() {
  // Never destroyed: a connection may be cancelled while other static objects are torn down.
  static Sender* const s = new Sender;
  return *s;
}

}  // namespace

std::shared_ptr<const CancelRequest> send_cancel_request(PGcancel* cancel) {
  return sender().submit(cancel);
}

}  // namespace ragperf::db
