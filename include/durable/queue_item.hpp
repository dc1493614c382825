// Durable queue items with leases: the store-level data of DurableQueue. The operations on them are
// part of JournalStore (journal_store.hpp), whose comments state the contract; this header holds
// the values those operations take and return.
//
// Life of an item (one row per (queue, key)):
//
//   enqueue ──> kReady ──lease──> kLeased ──complete(ok)───> kDone
//                 ^  ^               │  │ ──complete(!ok)──> kFailed
//                 │  └───release─────┘  │
//                 └─(lease expired: any lease_items call may hand it out again)
//
// Delivery is at least once: a worker that dies (or stalls past its lease) loses the item to the
// next lease_items call, so the work may run again. Completion is exactly once: the first
// complete_item by the item's current owner stores the result; every other one is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "durable/clock.hpp"

namespace durable {

struct NewQueueItem {
  std::string queue{};    // the queue's name; not empty
  std::string key{};      // idempotency key, unique per queue; not empty
  std::string payload{};  // JSON text, or empty for none
  // Optional, both or neither: when the item ends (kDone or kFailed), the store resolves deferred
  // `waiter_deferred` of execution `waiter_execution_id` in the same transaction, with
  //   {"ok":true,"value":<result>}  or  {"ok":false,"error":<error>}
  // (an empty result or error is null), following resolve_deferred's rules: first resolution wins,
  // and kResolved marks the execution runnable. A waiter that has finished, timed out on the
  // deferred or already had it resolved is left alone; the item still ends. The waiter execution
  // must exist when the item is enqueued (or be created in the same commit batch).
  std::string waiter_execution_id{};
  std::string waiter_deferred{};
  TimePoint enqueued_at{};  // also the item's first ready_at
};

// Stored as integers; never renumber.
enum class QueueItemState : std::uint8_t {
  kReady = 1,   // waiting for a worker; leasable once ready_at <= now
  kLeased = 2,  // a worker holds it until lease_until; leasable again after that
  kDone = 3,    // ended with a result (final)
  kFailed = 4,  // ended with an error (final)
};

// A stable lower-case name ("ready", "leased", "done", "failed") for logs, the CLI and docs.
const char* to_string(QueueItemState state);
std::optional<QueueItemState> queue_item_state_from_int(int value);
inline bool is_final(QueueItemState state) {
  return state == QueueItemState::kDone || state == QueueItemState::kFailed;
}

struct QueueItem {
  std::string queue{};
  std::string key{};
  std::string payload{};  // JSON text, or empty
  QueueItemState state = QueueItemState::kReady;
  // Deliveries so far: lease_items increments it each time it hands the item out (so a worker that
  // sees attempts > 1 knows an earlier delivery did not complete). release_item does not.
  std::int64_t attempts = 0;
  TimePoint ready_at{};  // while kReady: the item is not leased before this time
  // The current lease while kLeased; the most recent one afterwards (kept for inspection), empty /
  // epoch if the item was never leased.
  std::string lease_owner{};
  TimePoint lease_until{};
  std::string result{};  // JSON text, set when kDone (empty: none)
  std::string error{};   // JSON text, set when kFailed (empty: none)
  std::string waiter_execution_id{};
  std::string waiter_deferred{};
  TimePoint enqueued_at{};
  TimePoint updated_at{};  // the `now` of the latest change (enqueue, lease, renew, release, end)
};

enum class EnqueueOutcome : std::uint8_t {
  kEnqueued,         // a new item, kReady
  kAlreadyEnqueued,  // (queue, key) exists in any state; nothing changed (payload, waiter kept)
};

}  // namespace durable
