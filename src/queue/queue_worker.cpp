#include "queue/queue_worker.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "engine/errors_json.hpp"
#include "engine/ids.hpp"
#include "engine/thread_name.hpp"

namespace durable::detail {

std::string default_worker_owner() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{:08x}", host[0] ? host : "host", ::getpid(),
                     static_cast<std::uint32_t>(secure_random_u64()));
}

QueueWorker::QueueWorker(JournalStore& store, Clock& clock, std::string queue, QueueHandler handler,
                         WorkerOptions options, Hooks hooks)
    : store_(store),
      clock_(clock),
      queue_(std::move(queue)),
      handler_(std::move(handler)),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      owner_(options_.owner.empty() ? default_worker_owner() : options_.owner) {
  if (queue_.empty()) throw DurableError("add_worker: the queue name is empty");
  if (options_.concurrency < 1) {
    throw DurableError(
        fmt::format("add_worker (queue '{}'): concurrency must be at least 1", queue_));
  }
  if (options_.lease.count() <= 0) {
    throw DurableError(fmt::format("add_worker (queue '{}'): the lease must be positive", queue_));
  }
}

QueueWorker::~QueueWorker() {
  stop();
}

void QueueWorker::start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  clock_listener_ = clock_.add_listener([this] {
    std::lock_guard inner(mutex_);
    ++clock_jumps_;
    cv_.notify_all();
  });
  for (std::size_t slot = 0; slot < options_.concurrency; ++slot) {
    threads_.emplace_back([this, slot] {
      name_this_thread("durable-queue");
      run(slot);
    });
  }
  threads_.emplace_back([this] {
    name_this_thread("durable-lease");
    heartbeat();
  });
}

void QueueWorker::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
    for (auto& [slot, item] : in_hand_) item.cancelled->store(true);
    cv_.notify_all();
    threads = std::move(threads_);
    threads_.clear();
  }
  for (std::thread& t : threads) t.join();
  clock_.remove_listener(clock_listener_);
  std::lock_guard lock(mutex_);
  running_ = false;
}

void QueueWorker::fault(const std::string& message) {
  if (hooks_.on_fault) hooks_.on_fault(message);
}

void QueueWorker::run(std::size_t slot) {
  const std::string owner = fmt::format("{}#{}", owner_, slot);
  for (;;) {
    std::uint64_t jumps = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      jumps = clock_jumps_;
    }
    std::vector<QueueItem> items;
    try {
      items = store_.lease_items(queue_, owner, 1, options_.lease, clock_.now());
    } catch (const std::exception& e) {
      fault(fmt::format("queue '{}', worker {}: leasing items: {}", queue_, owner, e.what()));
    }
    if (!items.empty()) {
      handle(slot, owner, std::move(items.front()));
      continue;
    }
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, options_.poll_interval, [&] { return stopping_ || clock_jumps_ != jumps; });
  }
}

void QueueWorker::handle(std::size_t slot, const std::string& owner, QueueItem item) {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) cancelled->store(true);
    in_hand_[slot] = InHand{item.key, owner, cancelled};
  }
  const int attempt = static_cast<int>(item.attempts);
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  bool ok = false;
  bool non_retryable = false;
  Json value;
  if (attempt > max_attempts) {
    // The earlier deliveries were lost (their workers died or stalled) and none remain.
    value = {{"type", "durable::AttemptInterrupted"},
             {"message", fmt::format("delivery {} was lost before it finished and no attempts "
                                     "remain",
                                     attempt - 1)}};
    non_retryable = true;
  } else {
    try {
      Json payload = item.payload.empty() ? Json(nullptr) : Json::parse(item.payload);
      WorkerContext ctx(queue_, item.key, owner, attempt, cancelled);
      value = handler_(ctx, payload);
      ok = true;
    } catch (const DecodeError& e) {
      value = {{"type", "durable::DecodeError"}, {"message", e.what()}};
      non_retryable = true;
    } catch (...) {
      CaughtError caught = describe_current_exception();
      value = std::move(caught.error);
      non_retryable = caught.non_retryable;
    }
  }
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    in_hand_.erase(slot);
    stopping = stopping_;
  }
  if (cancelled->load()) {
    // Cut short: the lease was lost (its new owner's outcome counts) or the worker is stopping
    // (deliver again at once). Either way, what the handler returned is discarded.
    if (!stopping) return;
    try {
      store_.release_item(queue_, item.key, owner, Duration{0}, clock_.now());
    } catch (const std::exception& e) {
      fault(fmt::format("queue '{}', item '{}': giving it back on stop: {}", queue_, item.key,
                        e.what()));
    }
    return;
  }
  finish(owner, item, ok, std::move(value), non_retryable);
}

void QueueWorker::finish(const std::string& owner, const QueueItem& item, bool ok, Json value,
                         bool non_retryable) {
  const int attempt = static_cast<int>(item.attempts);
  const RetryPolicy& retry = options_.retry;
  try {
    const TimePoint now = clock_.now();
    if (!ok) {
      const std::string type = value.value("type", "");
      bool listed = std::find(retry.non_retryable_errors.begin(), retry.non_retryable_errors.end(),
                              type) != retry.non_retryable_errors.end();
      bool final = non_retryable || listed || attempt >= std::max(1, retry.max_attempts);
      if (!final) {
        store_.release_item(queue_, item.key, owner, retry.backoff_after(attempt), now);
        return;
      }
      value["attempts"] = attempt;
    }
    if (!store_.complete_item(queue_, item.key, owner, ok, value.dump(), now)) {
      return;  // the lease went to another worker meanwhile; its outcome counts
    }
    if (!item.waiter_execution_id.empty() && hooks_.on_ended) {
      hooks_.on_ended(item.waiter_execution_id);
    }
  } catch (const std::exception& e) {
    fault(
        fmt::format("queue '{}', item '{}': storing the outcome of delivery {} failed (it is "
                    "delivered again when the lease expires): {}",
                    queue_, item.key, attempt, e.what()));
  }
}

void QueueWorker::heartbeat() {
  const auto interval = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(1),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease / 3));
  std::unique_lock lock(mutex_);
  for (;;) {
    std::uint64_t jumps = clock_jumps_;
    cv_.wait_for(lock, interval, [&] { return stopping_ || clock_jumps_ != jumps; });
    if (stopping_) return;
    std::vector<InHand> items;
    for (const auto& [slot, item] : in_hand_) items.push_back(item);
    lock.unlock();
    for (const InHand& item : items) {
      try {
        if (!store_.renew_lease(queue_, item.key, item.owner, options_.lease, clock_.now())) {
          item.cancelled->store(true);  // lost to another worker, or ended
        }
      } catch (const std::exception& e) {
        fault(fmt::format("queue '{}', item '{}': renewing the lease: {}", queue_, item.key,
                          e.what()));
      }
    }
    lock.lock();
  }
}

}  // namespace durable::detail
