// StreamHub: the engine's wake-up for stream subscribers, and the entries the engine itself writes
// to event streams (status changes). Shared (shared_ptr) between the engine and every
// subscription and activity context, so any of them may outlive the others.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "durable/activity.hpp"
#include "durable/clock.hpp"
#include "durable/execution_status.hpp"
#include "durable/journal_store.hpp"

namespace durable::detail {

// A generation counter bumped after every in-process append that reached the store. Thread-safe.
class StreamHub {
 public:
  std::uint64_t generation() const;
  // Wakes every waiter. Called after the append is durable, never under a store lock.
  void notify();
  // Waits until the generation differs from `seen`, `stopped` says so, or `deadline` passes.
  void wait(std::uint64_t seen, std::chrono::steady_clock::time_point deadline,
            const std::function<bool()>& stopped);
  // Wakes waiters without an append (a subscription was cancelled).
  void poke() { notify(); }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

// The "status" entry for a status change the engine commits with the journal at `journal_index`
// (the execution's next_index after the write) of run `run`: data {"status", "waiting_on"?,
// "error"?}, key "[run<N>/]status:<journal_index>:<status>[:<waiting_on>]", so that a restart
// writing the same status at the same point of the journal appends nothing.
NewStreamEntry status_stream_entry(ExecutionStatus status, const std::string& waiting_on,
                                   const std::string& error, std::int64_t journal_index,
                                   std::int64_t run, TimePoint time);

// The prefix of the stream keys the engine writes for run `run` of an execution: none for the
// first run, "run<N>/" after continue-as-new (which keeps the stream but restarts the journal, so
// a key made of journal positions would otherwise name an entry of an earlier run).
std::string stream_key_prefix(std::int64_t run);

// True for the key of a status entry the engine wrote (status_stream_entry).
bool is_status_key(std::string_view key);

// ActivityContext::emit's way to the store: appends straight to the store (retrying a retryable
// StoreError with the same key, so a lost acknowledgement never duplicates) and wakes the hub.
class StoreActivityStream final : public ActivityStream {
 public:
  StoreActivityStream(std::shared_ptr<JournalStore> store, std::shared_ptr<StreamHub> hub,
                      Clock& clock)
      : store_(std::move(store)), hub_(std::move(hub)), clock_(&clock) {}
  void append(const std::string& execution_id, std::string_view kind, std::string data,
              std::string key) override;

 private:
  std::shared_ptr<JournalStore> store_;
  std::shared_ptr<StreamHub> hub_;
  Clock* clock_;
};

}  // namespace durable::detail
