// ExecutionCore: one loaded execution: its coroutine, its operations and what it has yet to
// commit. Owned by the scheduler; touched only on the scheduler thread.
//
// Life of an operation (op): workflow code creates it (begin_*), which checks it against the
// journal; awaiting it either finds its outcome (replay: no suspension) or starts it live. Live
// work appends events to `pending_` and queues post-commit actions; an outcome reaches workflow
// code only through a post-commit action, i.e. once the event that records it is durable.
#pragma once

#include <atomic>
#include <coroutine>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "durable/engine.hpp"
#include "engine/op_table.hpp"

namespace durable::detail {

class Scheduler;

// The store deferred a workflow's queue item resolves: "queue:<queue>/<key>".
std::string queue_deferred_name(const std::string& queue, const std::string& key);

// Kinds of scheduler timers; an entry is checked against the op's state when it fires.
enum class TimerKind : std::uint8_t {
  kSleep,
  kDeferredDeadline,
  kRetry,
  kAttemptTimeout,
  kQueuePoll
};

class ExecutionCore {
 public:
  ExecutionCore(Scheduler& scheduler, std::string id, std::shared_ptr<const WorkflowSpec> spec,
                Json input, std::int64_t next_index);
  ~ExecutionCore();

  // Rebuilds op state from a journal loaded from the store (events 1..). Throws DecodeError or
  // StoreError naming the execution and index for an event it cannot read.
  void load(const std::vector<Event>& events, bool cancel_requested);
  // The status the store holds for a loaded execution, so that only its next status change is
  // written to the row and appears on the event stream. (A new execution's row is created
  // `running`, which is where both start.)
  void set_stored_status(ExecutionStatus status, std::string waiting_on) {
    streamed_status_ = committed_streamed_status_ = status;
    written_status_ = status;
    written_waiting_on_ = waiting_on;
    streamed_waiting_on_ = committed_streamed_waiting_on_ = std::move(waiting_on);
  }
  // Creates the root coroutine and queues it to run.
  void start();

  // Scheduler side.
  void run_ready();
  bool has_ready() const { return !ready_.empty(); }
  // Whether the scheduler has this execution on its list of executions to run and commit.
  bool queued() const { return queued_; }
  void set_queued(bool queued) { queued_ = queued; }
  bool dirty() const { return dirty_; }
  bool finished() const { return finished_; }
  bool parked() const { return parked_; }
  // The run ended by continue-as-new: once committed, the scheduler loads the next run.
  bool continued_as_new() const { return continue_input_.has_value(); }
  // The continue-as-new generation (ExecutionRecord::run) this core runs.
  std::int64_t run() const { return run_; }
  // Moves the uncommitted output into `w`, a slot of the round's batch, fresh or left from an
  // earlier round (every field is overwritten): an ExecutionWrite is large, and a round makes
  // one per execution. The slot's vectors are swapped in emptied, so their buffers are reused.
  void take_write(ExecutionWrite& w);
  // Takes back the output of a write whose commit failed, to be committed again.
  void restore(ExecutionWrite write);
  void on_committed();
  void on_activity_result(int op, int attempt, bool ok, Json value, bool non_retryable);
  void on_timer(int op, TimerKind kind, int generation);
  void on_poke(bool cancel_requested);
  // Stops all live work. With cancel_children (the execution ended), running children are asked
  // to cancel too; without (the engine is stopping), they are left to run.
  void abandon_all(bool cancel_children = false) noexcept;
  const std::string& id() const { return id_; }
  // The id as a string that activity attempts share (made at the first call).
  const std::shared_ptr<const std::string>& shared_id();
  const std::string& workflow() const { return spec_->name; }
  // Whether the execution only waits on durable sleeps and deferreds, with nothing uncommitted,
  // nothing running and nothing to deliver: dropping it then loses nothing, and loading it again
  // (replay) brings it back to the same wait, its timers re-armed and its deferreds re-read. Not
  // once a wait's due time has come: the timer about to fire would only load it again.
  bool unloadable(TimePoint now) const;
  // A new execution run in the round that creates it: its writes need that create (see
  // ExecutionWrite::requires_create) until the first commit succeeds.
  bool awaiting_create() const { return awaiting_create_; }
  void set_awaiting_create() { awaiting_create_ = true; }
  // Frees the spare capacity of the (empty) output buffers that take_write and on_committed keep
  // for the next round: for an execution that only waits, of which there may be many.
  void release_spare_buffers();
  // The scheduler's mark for an execution on its list of cached waiting executions (0: not on it).
  std::uint64_t waiting_mark() const { return waiting_mark_; }
  void set_waiting_mark(std::uint64_t mark) { waiting_mark_ = mark; }

  // Workflow side (through core_api.hpp).
  int begin(OpKind kind, std::string_view name);
  int begin_activity(std::shared_ptr<const ActivitySpec> spec, ActivityCall call,
                     std::string arguments);
  int begin_timer(std::string_view name, std::optional<Duration> after,
                  std::optional<TimePoint> at);
  int begin_deferred(std::string_view name, std::optional<Duration> timeout);
  int begin_child(std::shared_ptr<const WorkflowSpec> spec, Json input,
                  std::optional<std::string> id);
  int begin_queue_item(std::string_view queue, std::string_view key, Json payload);
  Json acquire_permit(const RateLimit& limit);
  const Outcome* outcome(int op);
  void wait(int op, Waiter* waiter);
  void release(int op) noexcept;
  Json side_effect(std::string_view name, const std::function<Json()>& make);
  bool patched(std::string_view change_id, bool record);
  void continue_as_new(Json input);
  void add_compensation(std::shared_ptr<const ActivitySpec> spec, ActivityCall call,
                        std::string arguments);
  std::string token(std::string_view deferred);
  bool is_replaying() const { return next_op_ <= last_journaled_op_; }
  // Appends to the execution's event stream with the next commit (see WorkflowContext::emit).
  void emit(std::string_view kind, const Json& data);
  TimePoint clock_now();
  [[noreturn]] void park(std::string type, std::string message);
  std::string describe_op(int op) const;
  // The name under which the store keeps deferred `name` of this run: the name itself in run 1,
  // "<name>@run<N>" from run 2 on, so that a token of an earlier run cannot resolve it.
  std::string deferred_key(const std::string& name) const;

 private:
  struct Compensation {
    std::shared_ptr<const ActivitySpec> spec;
    ActivityCall call;
    std::string arguments;
  };
  struct PostCommit {
    int op;
    std::optional<Outcome> deliver;  // else: dispatch attempt `attempt` of activity `op`
    int attempt = 0;
  };

  Task<Json> root();
  void finish();
  std::int64_t append(EventType type, int op, std::string_view name, const Json& data);
  // `data` is the event's JSON text, as Json::dump() writes it (json_text.hpp).
  std::int64_t append_text(EventType type, int op, std::string_view name, std::string data);
  void complete_op(int op, Outcome::Kind kind, EventType type, Json data);
  // complete_op for a value outcome (data {"value": value}), without building the DOM.
  void complete_value(int op, EventType type, Json value);
  // Both of the above, once the event's text is made (it may throw, so before any state change):
  // appends the outcome event and delivers `value` once it is durable.
  void record_outcome(int op, Outcome::Kind kind, EventType type, std::string data, Json value);
  void start_live(int op, OpState& st);
  void start_attempt(int op, OpState& st);
  void fail_attempt(int op, OpState& st, Json error, bool non_retryable);
  void check_deferred(int op, OpState& st, bool deadline_passed);
  void check_child(int op, OpState& st);
  void check_queue_item(int op, OpState& st);
  void deliver(int op, Outcome outcome);
  void deliver_cancel(int op, OpState& st);
  void stop_live_work(int op, OpState& st, bool cancel_child = true) noexcept;
  void set_store_timer(int op, OpState& st, TimePoint due);
  void clear_store_timer(int op, OpState& st) noexcept;
  ExecutionStatus current_status(std::string& waiting_on) const;
  // A cancel flag, false, for a new attempt: `old` (the op's flag of its last attempt) or the
  // spare if no attempt holds them any more, else a new one.
  std::shared_ptr<std::atomic<bool>> fresh_cancel_flag(std::shared_ptr<std::atomic<bool>> old);
  OpState* find(int op);
  // The op a journal event belongs to, taking its kind and name from the first of its events.
  OpState& journaled_op(const Event& e);

  Scheduler& scheduler_;
  std::string id_;
  std::shared_ptr<const std::string> shared_id_;
  std::shared_ptr<const WorkflowSpec> spec_;
  Json input_;
  std::unique_ptr<WorkflowContext> ctx_;
  Task<Json> root_;
  std::vector<std::coroutine_handle<>> ready_;

  OpTable ops_;
  // The cancel flag of a released op that no attempt held any more, for the next attempt.
  std::shared_ptr<std::atomic<bool>> spare_cancel_flag_;
  int next_op_ = 0;
  int last_journaled_op_ = -1;
  std::vector<Compensation> compensations_;
  bool compensation_journaled_ = false;
  bool in_compensation_ = false;

  bool cancel_requested_ = false;
  bool cancel_delivered_ = false;
  bool parked_ = false;
  bool finished_ = false;
  std::int64_t run_ = 1;
  std::optional<Json> continue_input_;  // set by continue_as_new
  std::string park_type_;
  std::string park_message_;

  // Uncommitted output.
  std::int64_t committed_next_;
  std::int64_t next_index_;
  std::vector<Event> pending_;
  std::vector<PostCommit> post_commit_;
  std::vector<TimerEntry> set_timers_;
  std::vector<std::int32_t> clear_timers_;
  std::optional<ExecutionStatus> final_status_;
  std::string final_result_, final_error_;
  // The status and wait the store's row holds (unknown after a failed commit: written again).
  std::optional<ExecutionStatus> written_status_ = ExecutionStatus::kRunning;
  std::string written_waiting_on_;
  // Event stream output: pending entries, the emit counter of the current op, and the status the
  // stream last shows (pending view, and as of the last commit).
  std::vector<NewStreamEntry> pending_stream_;
  int emit_op_ = -1;
  int emit_count_ = 0;
  ExecutionStatus streamed_status_ = ExecutionStatus::kRunning;
  std::string streamed_waiting_on_;
  ExecutionStatus committed_streamed_status_ = ExecutionStatus::kRunning;
  std::string committed_streamed_waiting_on_;
  std::uint64_t waiting_mark_ = 0;
  bool awaiting_create_ = false;
  bool dirty_ = true;
  bool queued_ = false;
  bool destroying_ = false;  // frames are being torn down: releases touch nothing outside
};

}  // namespace durable::detail
