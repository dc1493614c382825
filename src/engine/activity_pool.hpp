// A fixed pool of worker threads that run activity attempts.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace durable::detail {

class ActivityPool {
 public:
  explicit ActivityPool(std::size_t threads);
  ~ActivityPool();
  ActivityPool(const ActivityPool&) = delete;
  ActivityPool& operator=(const ActivityPool&) = delete;

  void start();
  // Queues every job of `jobs` under one lock and wakes as many workers as there are jobs (at
  // most all of them). Moves from `jobs`.
  void submit_all(std::vector<std::function<void()>>& jobs);
  // Runs the jobs already running to their end, drops queued ones, joins the threads.
  void stop();

 private:
  void work();

  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace durable::detail
