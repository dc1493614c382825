#include "engine/activity_pool.hpp"

#include "engine/thread_name.hpp"

namespace durable::detail {

ActivityPool::ActivityPool(std::size_t threads, std::function<void(AttemptJob&)> run)
    : size_(threads == 0 ? 1 : threads), run_(std::move(run)) {}

ActivityPool::~ActivityPool() {
  stop();
}

void ActivityPool::start() {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) return;
  stopping_ = false;
  for (std::size_t i = 0; i < size_; ++i) {
    threads_.emplace_back([this] {
      name_this_thread("durable-act");
      work();
    });
  }
}

void ActivityPool::submit_all(std::vector<AttemptJob>& jobs) {
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
    next_ = 0;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void ActivityPool::work() {
  for (;;) {
    AttemptJob job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || next_ < jobs_.size(); });
      if (stopping_) return;
      job = std::move(jobs_[next_++]);
      if (next_ == jobs_.size()) {
        jobs_.clear();
        next_ = 0;
      }
    }
    run_(job);
  }
}

}  // namespace durable::detail
