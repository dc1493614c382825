// StreamSubscription: reads an execution's event stream (stream_entry.hpp) from an offset and
// follows it live. Made by Engine::subscribe.
//
//   auto sub = engine.subscribe(id);            // from offset 0
//   while (auto entry = sub.next()) print(*entry);
//   // here sub.ended(): the execution finished and every entry was read (or cancel() was called)
//
// Wake-ups: appends made through this process's engine (workflow emits and status changes once
// committed, activity emits at once) wake next() immediately; appends by other processes sharing
// the store are seen by polling the store every EngineOptions::store_poll_interval.
//
// End: the stream ends when the execution is completed, failed or cancelled and every entry has
// been returned (the final status entry is the last). An execution that needs attention is not
// finished: its stream goes on (it may be resumed). cancel() ends it early.
//
// Threading and lifetime: next() may be called from any thread (calls are serialised); cancel()
// from any thread at any time, and it wakes a blocked next(). A subscription holds the store and
// not the engine: it stays valid, and keeps following by polling, after the engine stops or is
// destroyed. Destroying it while another thread is inside next() is not allowed (cancel first).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "durable/clock.hpp"
#include "durable/stream_entry.hpp"

namespace durable {

namespace detail {
struct SubscriptionState;
}

class StreamSubscription {
 public:
  explicit StreamSubscription(std::shared_ptr<detail::SubscriptionState> state);
  ~StreamSubscription();
  // Destroying (or assigning over) a subscription cancels it. A moved-from one may only be
  // destroyed or assigned to.
  StreamSubscription(StreamSubscription&&) noexcept;
  StreamSubscription& operator=(StreamSubscription&&) noexcept;

  // The next entry, blocking until one is appended. nullopt when the stream has ended (see
  // ended()) or, with a timeout, when none came within it (real time, not the engine clock).
  // Throws StoreError for a store fault that is not retryable (retryable ones are retried at the
  // next poll).
  std::optional<StreamEntry> next(std::optional<Duration> timeout = std::nullopt);
  // Everything available now without blocking (at most `limit` entries); empty at the end.
  std::vector<StreamEntry> drain(std::size_t limit = 1000);

  // True once the execution finished and every entry was returned, or after cancel().
  bool ended() const;
  // Ends the subscription; a blocked next() returns nullopt promptly. Idempotent.
  void cancel();
  // The offset of the next entry next() returns.
  std::int64_t next_offset() const;
  const std::string& execution_id() const;

 private:
  std::shared_ptr<detail::SubscriptionState> state_;
};

}  // namespace durable
