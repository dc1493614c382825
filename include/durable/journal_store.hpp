// The storage seam: everything durable about an execution goes through a JournalStore.
//
// Contract (every implementation must pass tests/contract/):
//  * Thread safety: every method may be called concurrently from any thread, and from several
//    processes at once when the store is shared (SQLite file, PostgreSQL database).
//  * Durability: when a mutating method returns, its effect is durable to the store's standard
//    (MemoryStore: for the life of the object; SqliteStore: fsync'd with synchronous=FULL).
//    When it throws, it had no effect at all.
//  * Journal: each execution has events numbered 0, 1, 2, ... with no gap and no duplicate.
//    Event 0 (kStarted) is written by creation; every later event by commit().
//  * Event stream: each execution also has a stream (stream_entry.hpp), separate from the journal.
//  * Errors: StoreError for I/O and corruption (retryable() says whether trying again may help),
//    StaleWriteError when a writer's view of an execution is out of date.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "durable/clock.hpp"
#include "durable/execution_status.hpp"
#include "durable/queue_item.hpp"
#include "durable/stream_entry.hpp"

namespace durable {

// What an event records. Values are stored; never renumber.
enum class EventType : std::uint8_t {
  kStarted = 1,                // execution-level: {"workflow", "input"}
  kActivityStarted = 2,        // op: an attempt begins {"attempt", "input"?}
  kActivityAttemptFailed = 3,  // op: {"attempt", "error", "retry_at"}
  kActivityCompleted = 4,      // op: {"value"}
  kActivityFailed = 5,         // op: final failure {"error", "attempts"}
  kTimerScheduled = 6,         // op: {"due"}
  kTimerFired = 7,             // op
  kDeferredAwaited = 8,        // op: {"deadline"?}
  kDeferredResolved = 9,       // op: {"value"}
  kDeferredTimedOut = 10,      // op
  kSideEffect = 11,            // op: {"value"}
  kOpCancelled = 12,           // op: cancellation was delivered to the workflow at this op
  kCompleted = 13,             // execution-level: {"value"}
  kFailed = 14,                // execution-level: {"error"}
  kCancelled = 15,             // execution-level: {"error"?}
  kCompensationStarted = 16,   // execution-level: {"reason", "count"}
  kPatchMarker = 17,           // op: ctx.patched(name) took the new branch
  kChildStarted = 18,          // op: {"child", "workflow", "input"}; the child is created with it
  kChildCompleted = 19,        // op: {"value"}
  kChildFailed = 20,           // op: {"error"} (the child failed or was cancelled)
  // 26..30: DurableQueue and DurableRateLimiter.
  kQueueItemEnqueued = 26,   // op: {"queue", "key"}; the item is enqueued in the same commit
  kQueueItemCompleted = 27,  // op: {"value"} (the worker's result)
  kQueueItemFailed = 28,     // op: {"error"} (the worker failed for good)
};

// A stable lower-case name ("activity_started") for logs, the CLI and docs.
const char* to_string(EventType type);
std::optional<EventType> event_type_from_int(int value);

// One journal entry. `op` is the workflow operation index the event belongs to, or -1 for an
// execution-level event. `data` is JSON text, or empty for an event that carries none.
struct Event {
  std::int64_t index = 0;
  EventType type = EventType::kStarted;
  std::int32_t op = -1;
  std::string name;
  std::string data;
  TimePoint time{};
};

struct ExecutionRecord {
  std::string id;
  std::string workflow;
  std::string input;  // JSON text
  ExecutionStatus status = ExecutionStatus::kRunning;
  std::string waiting_on;  // human-readable ("deferred approval"), empty unless kWaiting
  std::string result;      // JSON text, set when kCompleted
  std::string error;       // JSON text {"type","message",...}, set when failed/cancelled/attention
  std::int64_t next_index = 0;
  bool cancel_requested = false;
  TimePoint created_at{};
  // The time of the latest event, or of the latest status change if later. (With event times out
  // of order, as a clock stepped back may make them, a store may take the last event's time.)
  TimePoint updated_at{};
  // Continue-as-new generation: 1 for the first run, +1 each time the workflow continued as new.
  std::int64_t run = 1;
  // The execution this one was restarted from (Engine::restart), or empty.
  std::string forked_from{};
};

struct NewExecution {
  std::string id;
  std::string workflow;
  std::string input;  // JSON text; also stored in event 0
  TimePoint created_at{};
  // Set by a writer whose `input` is a JSON serialiser's output (the engine's is Json::dump()):
  // the store takes it as it is. Without it, the store parses it (and refuses input that is not
  // JSON with a StoreError, not retryable).
  bool input_is_serialized_json = false;
};

struct TimerEntry {
  std::string execution_id;
  std::int32_t op = 0;
  TimePoint due{};
};

// One execution's part of a commit. `events` must be numbered expected_next_index, +1, ...
struct ExecutionWrite {
  std::string execution_id;
  std::int64_t expected_next_index = 0;
  std::vector<Event> events;
  std::optional<ExecutionStatus> status;  // when set, also replaces waiting_on/result/error
  std::string waiting_on;
  std::string result;
  std::string error;
  std::vector<TimerEntry> set_timers;  // upsert by (execution_id, op); execution_id may be empty
  std::vector<std::int32_t> clear_timers;
  // Appended to the execution's event stream in the same transaction, after the events, with
  // append_stream's deduplication (but also to a finished execution: the write that finishes it
  // carries its last entries).
  std::vector<NewStreamEntry> stream{};
  // Continue-as-new (JSON text: the next run's input). Applied after this write's events, status
  // and timers: the execution's whole journal, its timers and its deferreds are replaced by a new
  // event 0 (kStarted, data {"workflow", "input", "run"}); input becomes this value, run + 1,
  // status kRunning with waiting_on/result/error cleared, next_index 1. Its id, created_at,
  // forked_from and runnable mark are kept. `clear_cancel` also clears cancel_requested (the old
  // run had the cancellation delivered); otherwise a pending cancel carries over to the new run.
  std::optional<std::string> continue_as_new{};
  bool clear_cancel = false;
  TimePoint continued_at{};  // the time of the new event 0 (and updated_at)
  // Set by a writer that produced every event's and stream entry's data with a JSON serialiser
  // (the engine does): the store still checks the numbering and the kinds but does not parse the
  // data again. Without it, data that is not JSON is refused (StoreError, not retryable).
  bool data_is_serialized_json = false;
  // Set by a writer that ran a new execution's first code before its create was durable (the
  // engine runs an execution in the round that creates it): the write belongs to a create of the
  // same batch, and if that create finds the execution already there (another writer created it
  // first), the write was made for an execution this batch did not create and is refused with
  // StaleWriteError, like any stale write.
  bool requires_create = false;
};

struct CommitBatch {
  std::vector<NewExecution> creates;  // idempotent: an existing id is left untouched
  std::vector<ExecutionWrite> writes;
  // Queue items enqueued atomically with the journal writes (a workflow's DurableQueue::process):
  // idempotent per (queue, key), like enqueue(); a refused batch enqueues nothing.
  std::vector<NewQueueItem> enqueues{};
  bool empty() const { return creates.empty() && writes.empty() && enqueues.empty(); }
};

struct CommitResult {
  std::vector<bool> created;  // one per CommitBatch::creates: true if this commit created it
  std::vector<EnqueueOutcome> enqueued{};  // one per CommitBatch::enqueues
};

// A named rate limit (DurableRateLimiter), as the store applies it. Callers sharing a name should
// pass the same limit: the stored state is read with the caller's limit.
enum class RateLimitKind : std::uint8_t {
  kFixedWindow = 1,  // `permits` per window of `period`, windows aligned to the epoch
  kTokenBucket = 2,  // a bucket of `permits` (the burst), refilled by one permit every `period`
};

struct RateLimit {
  std::string name{};  // not empty
  RateLimitKind kind = RateLimitKind::kFixedWindow;
  std::int64_t permits = 1;  // >= 1
  Duration period{1000};     // > 0
};

struct PermitDecision {
  bool granted = false;
  // When refused: the earliest time a permit may be available (a retry then may still lose to
  // another caller). The epoch when granted.
  TimePoint retry_at{};
};

enum class DeferredState : std::uint8_t { kResolved = 1, kTimedOut = 2 };

struct DeferredRecord {
  std::string execution_id;
  std::string name;
  DeferredState state = DeferredState::kResolved;
  std::string value;  // JSON text when kResolved
  TimePoint at{};
};

enum class ResolveOutcome : std::uint8_t {
  kResolved,         // stored; the execution is marked runnable
  kAlreadyResolved,  // an earlier resolution wins; nothing changed
  kTimedOut,         // the workflow stopped waiting; nothing changed
  kNoSuchExecution,
  kExecutionFinished,  // completed, failed or cancelled; nothing changed
};

enum class CancelOutcome : std::uint8_t {
  kRequested,
  kAlreadyRequested,
  kNoSuchExecution,
  kExecutionFinished,
};

struct ListQuery {
  std::optional<std::string> workflow{};
  std::vector<ExecutionStatus> statuses{};    // empty: any
  std::optional<TimePoint> created_after{};   // inclusive
  std::optional<TimePoint> created_before{};  // exclusive
  std::size_t limit = 100;
  std::string page_token{};  // from a previous ListPage; empty for the first page
};

// Engine::restart's store half: a new execution whose journal copies the source's history up to
// (not including) operation `from_step`.
struct ForkRequest {
  std::string source_id;
  std::string new_id;
  std::int32_t from_step = 0;
  TimePoint created_at{};
};

enum class ForkOutcome : std::uint8_t {
  kForked,
  kNoSuchSource,
  kSourceUnfinished,  // the source is running or waiting: fork only what has stopped
  kStepOutOfRange,    // from_step < 0 or > the number of operations the source journaled
  kIdTaken,           // an execution with new_id exists; nothing changed
};

struct ForkResult {
  ForkOutcome outcome = ForkOutcome::kForked;
  // The number of operations the source journaled (its highest op + 1): valid steps are
  // 0..step_count. Set whenever the source exists.
  std::int32_t step_count = 0;
};

struct ListPage {
  std::vector<ExecutionRecord> executions;  // ordered by (created_at, id)
  std::string next_page_token;              // empty when there is no further page
};

class JournalStore {
 public:
  virtual ~JournalStore() = default;

  // Atomically: creates the executions in `creates` that do not exist yet (row + event 0,
  // status kRunning) and applies every write. A write whose expected_next_index differs from the
  // execution's next_index, or that names an unknown execution, aborts the whole batch with
  // StaleWriteError (naming the execution) and changes nothing. Writes may name executions created
  // in the same batch (they then expect index 1), and several writes may name one execution
  // (each expects the index the previous one left); a write with requires_create is stale unless
  // this batch created its execution. Also refused with StoreError (not retryable),
  // changing nothing: a create whose input is not JSON, events not numbered consecutively from
  // expected_next_index, event data neither empty nor JSON, a timer on an unknown execution, an
  // enqueue that enqueue() would refuse. Creation does not mark an execution runnable: its creator
  // runs it. Enqueues apply after creates and writes (so a waiter may be created in the batch);
  // a second enqueue of one (queue, key) in a batch reports kAlreadyEnqueued.
  virtual CommitResult commit(const CommitBatch& batch) = 0;

  // commit(), for a caller with no further use for the batch's event and stream texts: a store
  // that keeps them in memory may move them out of `batch` instead of copying. On return the
  // batch keeps its shape (the same creates, writes, events and entries, with their numbers,
  // types and times), but their names, data and keys are valid and unspecified. If it throws,
  // nothing was taken. The default commits a copy (commit()).
  virtual CommitResult commit_consuming(CommitBatch& batch) { return commit(batch); }

  virtual std::optional<ExecutionRecord> get_execution(const std::string& id) = 0;

  // Events [from_index, next_index) in order.
  virtual std::vector<Event> load_events(const std::string& id, std::int64_t from_index = 0) = 0;

  virtual ListPage list_executions(const ListQuery& query) = 0;

  // Timers due at or before `now`, earliest first, at most `limit`.
  virtual std::vector<TimerEntry> due_timers(TimePoint now, std::size_t limit) = 0;

  // First resolution wins. kResolved also marks the execution runnable, in the same transaction,
  // so a running engine cannot miss it.
  virtual ResolveOutcome resolve_deferred(const std::string& execution_id, const std::string& name,
                                          const std::string& value, TimePoint now) = 0;

  virtual std::optional<DeferredRecord> get_deferred(const std::string& execution_id,
                                                     const std::string& name) = 0;

  // Called by the engine when a wait times out: returns the resolution if one was stored before,
  // otherwise records kTimedOut (so later resolutions report kTimedOut) and returns that.
  // Throws NoSuchExecution for an unknown execution.
  virtual DeferredRecord close_deferred(const std::string& execution_id, const std::string& name,
                                        TimePoint now) = 0;

  // Durably sets cancel_requested and marks the execution runnable.
  virtual CancelOutcome request_cancel(const std::string& id) = 0;

  // Marks an execution runnable (e.g. `resume` from another process). Returns false if unknown.
  virtual bool mark_runnable(const std::string& id) = 0;

  // Returns up to `limit` executions marked runnable and clears their mark.
  virtual std::vector<std::string> take_runnable(std::size_t limit) = 0;

  // --- queue items with leases (queue_item.hpp shows the life of an item) ---------------------
  //
  // Ownership: an item belongs to the owner of its current lease until it is completed, released,
  // or handed to another owner by lease_items. An expired lease is not revoked by itself: it only
  // makes the item leasable again, so a slow owner may still renew, release or complete it as long
  // as nobody else has leased it meanwhile (nothing is lost by letting it finish). `owner` names a
  // worker and should be unique per worker instance (e.g. host, pid and a random part): two
  // workers sharing a name are one owner to the store. Times are the caller's `now`; the store has
  // no clock. A lease is live while now < lease_until.

  // Enqueues an item from outside any workflow. Idempotent per (queue, key): if the key exists in
  // any state (even kDone), nothing changes and the result is kAlreadyEnqueued. The new item is
  // kReady with ready_at = enqueued_at and attempts 0. Refused with StoreError (not retryable),
  // changing nothing: an empty queue or key, a payload neither empty nor JSON, only one of the two
  // waiter fields, a waiter execution that does not exist.
  virtual EnqueueOutcome enqueue(const NewQueueItem& item) = 0;

  // Hands out up to `limit` items of `queue` in one transaction: items kReady with ready_at <= now,
  // and items kLeased whose lease has expired (lease_until <= now: a dead or stalled worker). Each
  // becomes kLeased by `owner` until now + lease, attempts + 1. Items come in the order they became
  // leasable (ready_at for a ready item, lease_until for an expired lease), ties in enqueue order:
  // FIFO for a queue whose items are never released or lost. Concurrent callers, in this process
  // or others sharing the store, never receive the same item while its lease is live.
  virtual std::vector<QueueItem> lease_items(const std::string& queue, const std::string& owner,
                                             std::size_t limit, Duration lease, TimePoint now) = 0;

  // Extends (or shortens) the owner's lease to now + lease. False, changing nothing, if `owner`
  // does not own the item (never leased it, lost it to another owner, or it ended or was released)
  // or the item does not exist.
  virtual bool renew_lease(const std::string& queue, const std::string& key,
                           const std::string& owner, Duration lease, TimePoint now) = 0;

  // Ends the item the owner holds: kDone with `result_or_error` as result when ok, kFailed with it
  // as error otherwise (JSON text, or empty for none). In the same transaction, resolves the
  // waiter's deferred (NewQueueItem says how) and so marks the waiter runnable. False, changing
  // nothing, if `owner` does not own the item (see above): the result is discarded, and the
  // worker should not assume its work counted. Refused with StoreError (not retryable), changing
  // nothing, when `result_or_error` is neither empty nor JSON.
  virtual bool complete_item(const std::string& queue, const std::string& key,
                             const std::string& owner, bool ok, const std::string& result_or_error,
                             TimePoint now) = 0;

  // Gives the item back: kReady again from now + delay (a worker's retry with backoff; zero for at
  // once). attempts is kept. False, changing nothing, if `owner` does not own the item.
  virtual bool release_item(const std::string& queue, const std::string& key,
                            const std::string& owner, Duration delay, TimePoint now) = 0;

  virtual std::optional<QueueItem> get_item(const std::string& queue, const std::string& key) = 0;

  // --- event streams (stream_entry.hpp states what a stream holds) -----------------------------

  // Appends `entries` to the execution's stream in one transaction, in order, at the next
  // offsets. An entry whose key is already in the stream (or earlier in `entries`) is not
  // appended: its result is the offset of the entry that has the key. Appends to a finished
  // execution (completed, failed, cancelled) are dropped: their result is -1. Returns one offset
  // per entry. Refused with StoreError (not retryable), changing nothing: an unknown execution,
  // an empty kind, data neither empty nor JSON.
  virtual std::vector<std::int64_t> append_stream(const std::string& execution_id,
                                                  const std::vector<NewStreamEntry>& entries) = 0;

  // Entries [from_offset, from_offset + limit) of the stream, in order (fewer at its end); empty
  // for an unknown execution.
  virtual std::vector<StreamEntry> read_stream(const std::string& execution_id,
                                               std::int64_t from_offset, std::size_t limit) = 0;
  // --- rate limits ------------------------------------------------------------------------------
  //
  // Takes one permit of `limit` at the caller's `now`, or answers when to try again, in one
  // transaction: concurrent callers (threads or processes sharing the store) never get more than
  // limit.permits permits in one fixed window, nor more than the bucket holds. A fixed window
  // starts at a multiple of period since the epoch; a token bucket starts full and earns one
  // permit per period since its last refill, up to permits. A `now` earlier than the stored state
  // (another process's clock behind) earns nothing and is never granted a permit of a window
  // that has passed. Refused with StoreError (not retryable), changing nothing: an empty name,
  // permits < 1, period <= 0.
  virtual PermitDecision acquire_permit(const RateLimit& limit, TimePoint now) = 0;

  // --- management ----------------------------------------------------------------------------

  // Atomically creates execution `new_id` (workflow and input of the source, created_at,
  // forked_from = source, run 1, status kRunning) whose journal is: event 0 (kStarted, data
  // {"workflow", "input", "forked_from", "from_step"}), then, renumbered from 1 in their original
  // order, every source event with 0 <= op < from_step. Execution-level events (op -1: the end,
  // compensation_started) are not copied. The new execution is marked runnable in the same
  // transaction; its event stream starts afresh with entry 0, a "started" status entry that
  // also names the source and the step. Refused, changing nothing, when the source is unknown,
  // not finished (completed, failed, cancelled) and not needing attention, from_step is out of
  // range, or new_id exists.
  virtual ForkResult fork_execution(const ForkRequest& request) = 0;

  // Deletes up to `limit` executions that finished (completed, failed, cancelled) with
  // updated_at < finished_before, oldest first, each with its events, timers, deferreds,
  // runnable mark, event stream and the ended (done or failed) queue items it awaited. Never
  // touches an unfinished execution (running, waiting, needing attention) or rate-limit state.
  // Returns how many it deleted. A finished child deleted while its parent still waits is seen
  // by the parent as "no longer exists" (a failure).
  virtual std::size_t delete_finished(TimePoint finished_before, std::size_t limit) = 0;

  // A random per-store secret used to authenticate tokens; created on first use and stable for
  // the life of the store. Never log it.
  virtual std::string token_secret() = 0;
};

}  // namespace durable
