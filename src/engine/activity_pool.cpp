#include "engine/activity_pool.hpp"

namespace durable::detail {

ActivityPool::ActivityPool(std::size_t threads) : size_(threads == 0 ? 1 : threads) {}

ActivityPool::~ActivityPool() {
  stop();
}

void ActivityPool::start() {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) return;
  stopping_ = false;
  for (std::size_t i = 0; i < size_; ++i) threads_.emplace_back([this] { work(); });
}

void ActivityPool::submit_all(std::vector<std::function<void()>>& jobs) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    for (auto& job : jobs) jobs_.push_back(std::move(job));
  }
  if (jobs.size() >= size_) {
    cv_.notify_all();
  } else {
    for (std::size_t i = 0; i < jobs.size(); ++i) cv_.notify_one();
  }
}

void ActivityPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void ActivityPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace durable::detail
