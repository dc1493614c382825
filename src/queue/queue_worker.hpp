// QueueWorker: the engine's side of Engine::add_worker: `concurrency` threads that lease items of
// one queue, run the handler, and complete or release them, plus one heartbeat thread that renews
// the leases of the items in hand.
//
// Threading: start() and stop() from any thread (not from a handler). The handler runs on the
// worker's own threads, never on the scheduler thread. Store faults are reported through
// on_fault and retried on the next poll; an item whose completion could not be stored is
// delivered again once its lease expires.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "durable/clock.hpp"
#include "durable/durable_queue.hpp"
#include "durable/journal_store.hpp"

namespace durable::detail {

class QueueWorker {
 public:
  struct Hooks {
    // Called (on a worker thread) after an item with a waiter ended: wake that execution.
    std::function<void(const std::string& execution_id)> on_ended;
    std::function<void(const std::string& message)> on_fault;
  };

  QueueWorker(JournalStore& store, Clock& clock, std::string queue, QueueHandler handler,
              WorkerOptions options, Hooks hooks);
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  // Idempotent. start() after stop() runs the worker again under the same owner name.
  void start();
  // Asks running handlers to stop (WorkerContext::cancelled), waits for them, discards what they
  // return and gives their items back for immediate redelivery.
  void stop();

  const std::string& owner() const { return owner_; }

 private:
  struct InHand {
    std::string key;
    std::string owner;
    std::shared_ptr<std::atomic<bool>> cancelled;
  };

  void run(std::size_t slot);
  void handle(std::size_t slot, const std::string& owner, QueueItem item);
  void finish(const std::string& owner, const QueueItem& item, bool ok, Json value,
              bool non_retryable);
  void heartbeat();
  void fault(const std::string& message);

  JournalStore& store_;
  Clock& clock_;
  const std::string queue_;
  QueueHandler handler_;
  const WorkerOptions options_;
  Hooks hooks_;
  std::string owner_;

  std::mutex mutex_;  // never held while calling the clock or the store
  std::condition_variable cv_;
  bool running_ = false;
  bool stopping_ = false;
  std::uint64_t clock_jumps_ = 0;
  std::map<std::size_t, InHand> in_hand_;  // by slot
  std::vector<std::thread> threads_;
  int clock_listener_ = 0;
};

// "<host>:<pid>:<8 random hex digits>", unique per call.
std::string default_worker_owner();

}  // namespace durable::detail
