// Pieces every JournalStore implementation shares, so that the stores agree byte for byte on what
// they write (event 0, page tokens) and on what they refuse (malformed batches).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "durable/journal_store.hpp"

namespace durable::store {

inline std::int64_t to_millis(TimePoint t) {
  return t.time_since_epoch().count();
}
inline TimePoint from_millis(std::int64_t ms) {
  return TimePoint{Duration{ms}};
}

// The data of event 0: {"workflow": ..., "input": <input>}. An empty input is stored as null.
// Throws StoreError (not retryable) naming the execution when the input is not JSON (unless
// NewExecution::input_is_serialized_json vouches that it is).
std::string started_event_data(const NewExecution& execution);

// The data of event 0 of a run started by continue-as-new: {"workflow", "input", "run"}.
// Throws StoreError (not retryable) naming the execution when the input is not JSON (unless
// NewExecution::input_is_serialized_json vouches that it is).
std::string continued_event_data(const std::string& id, const std::string& workflow,
                                 const std::string& input, std::int64_t run);

// Checks a write's continue_as_new input (JSON text); throws StoreError (not retryable).
void check_continue_as_new(const ExecutionWrite& write);

// The number of operations a journal holds: its highest op + 1 (0 for none).
std::int32_t step_count(const std::vector<Event>& events);

// The journal of a fork of `source` (see JournalStore::fork_execution): event 0 and the copied
// events, renumbered. The caller has checked the request against step_count(events).
std::vector<Event> fork_events(const ExecutionRecord& source, const std::vector<Event>& events,
                               const ForkRequest& request);

// Event data is JSON text, or empty for an event that carries none.
bool is_valid_event_data(const std::string& data);

// Checks that `write.events` are numbered expected_next_index, +1, ... and carry valid data (not
// parsed when the write says its data is serialised JSON).
// Throws StoreError (not retryable) naming the execution and the offending index.
void check_write_events(const ExecutionWrite& write);

// Checks stream entries (an append or a write's `stream`): a kind, data empty or JSON. Throws
// StoreError (not retryable) naming the execution and the entry's position.
void check_stream_entries(const std::string& execution_id,
                          const std::vector<NewStreamEntry>& entries, bool check_data = true);

// Stream entry 0, written by creation: {"status":"started","workflow":...}, key "status:started".
NewStreamEntry started_stream_entry(const NewExecution& execution);
// The same for an execution fork_execution creates, whose stream starts afresh: data also names
// the source and the step ({"forked_from", "from_step"}).
NewStreamEntry forked_stream_entry(const ForkRequest& request, const std::string& workflow);

// Checks what enqueue() refuses without looking at the store: an empty queue or key, a payload
// neither empty nor JSON, only one of the two waiter fields. Throws StoreError (not retryable)
// naming the queue and key. (Whether the waiter exists is the store's to check.)
void check_new_queue_item(const NewQueueItem& item);

// complete_item's result or error must be empty or JSON; throws StoreError (not retryable).
void check_item_outcome(const std::string& queue, const std::string& key,
                        const std::string& result_or_error);

// The value a finished queue item resolves its waiter's deferred with:
// {"ok":true,"value":<result>} or {"ok":false,"error":<error>}, an empty result or error as null.
std::string queue_resolution_value(bool ok, const std::string& result_or_error);

// A rate limit's stored state. Fixed window: `mark` is the current window's start, `used` the
// permits taken in it. Token bucket: `mark` is the last refill time, `used` the permits left.
struct PermitState {
  RateLimitKind kind = RateLimitKind::kFixedWindow;
  std::int64_t mark = 0;  // ms since the epoch
  std::int64_t used = 0;
};

// Throws StoreError (not retryable) naming the limit for what acquire_permit refuses.
void check_rate_limit(const RateLimit& limit);

// acquire_permit's arithmetic, shared by the stores so they decide alike: updates `state` (absent:
// the limit has no state yet; a state of another kind starts afresh) and returns the decision.
PermitDecision decide_permit(const RateLimit& limit, std::optional<PermitState>& state,
                             TimePoint now);

// Opaque list cursors: the (created_at, id) of the last execution of a page. decode throws
// DurableError for a token no store produced.
std::string encode_page_token(TimePoint created_at, const std::string& id);
std::pair<TimePoint, std::string> decode_page_token(const std::string& token);

// 32 bytes from the OpenSSL CSPRNG. Throws StoreError if the generator fails.
std::string random_secret();

inline constexpr std::size_t kTokenSecretSize = 32;

}  // namespace durable::store
