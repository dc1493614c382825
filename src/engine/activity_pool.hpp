// A fixed pool of worker threads that run activity attempts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "durable/activity.hpp"

namespace durable::detail {

// One activity attempt: what a worker needs to run it, then (filled in by the worker) what it
// returned, on its way back to the scheduler. Moved, never shared: no closure or allocation of
// its own per hand-off.
struct AttemptJob {
  std::int64_t run = 1;
  int op = 0;
  int attempt = 0;
  // Made on the scheduler thread, used by the worker; its execution_id routes the outcome back.
  std::optional<ActivityContext> context;
  // The call and the spec it runs with (which holds the function, and outlives the op).
  std::shared_ptr<const ActivitySpec> spec;
  ActivityCall call;
  // The outcome: the encoded result (ok) or the error's JSON.
  bool ok = false;
  bool non_retryable = false;
  Json value;
};

class ActivityPool {
 public:
  // `run` is called on a worker thread for every job, which it may move from.
  ActivityPool(std::size_t threads, std::function<void(AttemptJob&)> run);
  ~ActivityPool();
  ActivityPool(const ActivityPool&) = delete;
  ActivityPool& operator=(const ActivityPool&) = delete;

  void start();
  // Queues every job of `jobs` under one lock and wakes as many workers as there are jobs (at
  // most all of them). Moves from `jobs`.
  void submit_all(std::vector<AttemptJob>& jobs);
  // Runs the jobs already running to their end, drops queued ones, joins the threads.
  void stop();

 private:
  void work();

  std::size_t size_;
  std::function<void(AttemptJob&)> run_;
  std::mutex mutex_;
  std::condition_variable cv_;
  // Queued jobs are jobs_[next_..]; the vector is emptied (keeping its capacity) when drained.
  std::vector<AttemptJob> jobs_;
  std::size_t next_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace durable::detail
