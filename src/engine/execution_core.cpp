#include "engine/execution_core.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "durable/codec.hpp"
#include "engine/errors_json.hpp"
#include "engine/json_text.hpp"
#include "engine/scheduler.hpp"
#include "engine/token.hpp"

namespace durable::detail {
namespace {

// An integer field of an event's data. One that is missing, or not an integer T holds, is a
// Json::exception like every other malformed field (load() turns it into a DecodeError).
template <std::integral T>
T integer_field(const Json& data, const char* key) {
  if (auto v = exact_integer<T>(data.at(key))) return *v;
  throw Json::type_error::create(
      302, fmt::format("'{}' is not an integer in range: {}", key, data[key].dump()), nullptr);
}

std::int64_t to_ms(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_ms(std::int64_t ms) {
  return TimePoint{Duration{ms}};
}

const char* kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kActivity:
      return "activity";
    case OpKind::kTimer:
      return "timer";
    case OpKind::kDeferred:
      return "deferred";
    case OpKind::kSideEffect:
      return "side effect";
    case OpKind::kPatch:
      return "patch marker";
    case OpKind::kChild:
      return "child workflow";
    case OpKind::kQueue:
      return "queue item";
  }
  return "operation";
}

OpKind kind_of(EventType type) {
  switch (type) {
    case EventType::kTimerScheduled:
    case EventType::kTimerFired:
      return OpKind::kTimer;
    case EventType::kDeferredAwaited:
    case EventType::kDeferredResolved:
    case EventType::kDeferredTimedOut:
      return OpKind::kDeferred;
    case EventType::kSideEffect:
      return OpKind::kSideEffect;
    case EventType::kPatchMarker:
      return OpKind::kPatch;
    case EventType::kChildStarted:
    case EventType::kChildCompleted:
    case EventType::kChildFailed:
      return OpKind::kChild;
    case EventType::kQueueItemEnqueued:
    case EventType::kQueueItemCompleted:
    case EventType::kQueueItemFailed:
      return OpKind::kQueue;
    default:
      return OpKind::kActivity;
  }
}

// Replay needs only the "attempt" of an activity_started event, not its input: a SAX pass that
// checks the whole text is JSON but builds no DOM. `attempt` is set only when the data is an
// object with a number "attempt" member (the last one, as in the DOM); anything else is left to
// the DOM path, so that errors read as they always have.
class AttemptReader {
 public:
  std::optional<Json> attempt;

  bool null() { return scalar(); }
  bool boolean(bool) { return scalar(); }
  bool number_integer(Json::number_integer_t value) { return number(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return number(Json(value)); }
  bool number_float(Json::number_float_t value, const std::string&) { return number(Json(value)); }
  bool string(std::string&) { return scalar(); }
  bool binary(Json::binary_t&) { return scalar(); }
  bool start_object(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(false); }
  bool end_array() { return close(); }
  bool key(std::string& key) {
    at_attempt_ = depth_ == 1 && key == "attempt";
    return true;
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception&) {
    return false;
  }

 private:
  bool number(Json value) {
    if (at_attempt_) attempt = std::move(value);
    at_attempt_ = false;
    return true;
  }
  bool scalar() {
    if (at_attempt_) attempt.reset();  // not a number: the DOM path reports it
    at_attempt_ = false;
    return depth_ > 0;  // a top level that is not an object: the DOM path reports it
  }
  bool open(bool object) {
    if (at_attempt_ || (depth_ == 0 && !object)) {
      attempt.reset();
      return false;
    }
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  int depth_ = 0;
  bool at_attempt_ = false;
};

}  // namespace

ExecutionCore::ExecutionCore(Scheduler& scheduler, std::string id,
                             std::shared_ptr<const WorkflowSpec> spec, Json input,
                             std::int64_t next_index)
    : scheduler_(scheduler),
      id_(std::move(id)),
      spec_(std::move(spec)),
      input_(std::move(input)),
      committed_next_(next_index),
      next_index_(next_index) {}

ExecutionCore::~ExecutionCore() {
  abandon_all(false);
  destroying_ = true;
  root_ = Task<Json>{};  // frames (and the Ops in them) go before the op table
}

const std::shared_ptr<const std::string>& ExecutionCore::shared_id() {
  if (!shared_id_) shared_id_ = std::make_shared<const std::string>(id_);
  return shared_id_;
}

OpState& ExecutionCore::journaled_op(const Event& e) {
  OpState& st = ops_[e.op];
  if (!st.from_journal) {
    st.kind = kind_of(e.type);
    st.name = e.name;
    st.from_journal = true;
  }
  last_journaled_op_ = std::max(last_journaled_op_, e.op);
  return st;
}

void ExecutionCore::load(const std::vector<Event>& events, bool cancel_requested) {
  cancel_requested_ = cancel_requested;
  for (const Event& e : events) {
    if (e.index == 0) {
      Json started = Json::parse(e.data, nullptr, /*allow_exceptions=*/false);
      if (started.is_object() && started.contains("run") && started["run"].is_number_integer()) {
        run_ = started["run"].get<std::int64_t>();
      }
      continue;
    }
    if (e.type == EventType::kActivityStarted && e.op >= 0 && !e.data.empty()) {
      AttemptReader reader;
      if (Json::sax_parse(e.data, &reader) && reader.attempt) {
        if (auto attempt = exact_integer<int>(*reader.attempt)) {
          OpState& st = journaled_op(e);
          st.attempts_started = *attempt;
          st.retry_at.reset();
          continue;
        }  // else the full parse below reports the field
      }
    }
    Json data;
    try {
      data = e.data.empty() ? Json::object() : Json::parse(e.data);
    } catch (const Json::exception& ex) {
      throw DecodeError(fmt::format("execution {}: event {} ({}) has data that is not JSON: {}",
                                    id_, e.index, to_string(e.type), ex.what()));
    }
    if (e.type == EventType::kCompensationStarted) {
      compensation_journaled_ = true;
      continue;
    }
    if (e.op < 0) continue;  // execution-level events of a finished execution
    OpState& st = journaled_op(e);
    auto set_outcome = [&](Outcome::Kind kind, Json&& value) {
      st.outcome = Outcome{kind, std::move(value), e.index};
    };
    try {
      switch (e.type) {
        case EventType::kActivityStarted:
          st.attempts_started = integer_field<int>(data, "attempt");
          st.retry_at.reset();
          break;
        case EventType::kActivityAttemptFailed:
          st.last_error = data.at("error");
          st.retry_at = from_ms(integer_field<std::int64_t>(data, "retry_at"));
          break;
        case EventType::kActivityCompleted:
        case EventType::kDeferredResolved:
        case EventType::kSideEffect:
          set_outcome(Outcome::Kind::kValue, std::move(data.at("value")));
          break;
        case EventType::kActivityFailed:
          set_outcome(Outcome::Kind::kError, std::move(data.at("error")));
          break;
        case EventType::kTimerScheduled:
          st.due = from_ms(integer_field<std::int64_t>(data, "due"));
          st.scheduled = true;
          break;
        case EventType::kTimerFired:
          set_outcome(Outcome::Kind::kValue, nullptr);
          break;
        case EventType::kDeferredAwaited:
          st.scheduled = true;
          if (data.contains("deadline"))
            st.due = from_ms(integer_field<std::int64_t>(data, "deadline"));
          break;
        case EventType::kDeferredTimedOut:
          set_outcome(Outcome::Kind::kTimedOut, nullptr);
          break;
        case EventType::kChildStarted:
          st.child_id = data.at("child").get<std::string>();
          st.scheduled = true;
          break;
        case EventType::kChildCompleted:
        case EventType::kQueueItemCompleted:
          set_outcome(Outcome::Kind::kValue, std::move(data.at("value")));
          break;
        case EventType::kChildFailed:
        case EventType::kQueueItemFailed:
          set_outcome(Outcome::Kind::kError, std::move(data.at("error")));
          break;
        case EventType::kQueueItemEnqueued:
          st.queue_key = data.at("key").get<std::string>();
          st.scheduled = true;
          break;
        case EventType::kOpCancelled:
          set_outcome(Outcome::Kind::kCancelled, nullptr);
          cancel_delivered_ = true;
          break;
        default:
          break;
      }
    } catch (const Json::exception& ex) {
      throw DecodeError(fmt::format("execution {}: event {} ({}) is malformed: {}", id_, e.index,
                                    to_string(e.type), ex.what()));
    }
  }
}

void ExecutionCore::start() {
  ctx_ = std::make_unique<WorkflowContext>(*this);
  root_ = root();
  ready_.push_back(root_.handle());
  scheduler_.make_ready(this);
}

Task<Json> ExecutionCore::root() {
  std::exception_ptr failure;
  try {
    co_return co_await spec_->run(*ctx_, input_);
  } catch (...) {
    failure = std::current_exception();
  }
  if (parked_ || compensations_.empty()) std::rethrow_exception(failure);

  bool cancelled = false;
  try {
    std::rethrow_exception(failure);
  } catch (const Cancelled&) {
    cancelled = true;
  } catch (...) {
  }
  in_compensation_ = true;
  if (!compensation_journaled_) {
    append(EventType::kCompensationStarted, -1, "",
           {{"reason", cancelled ? "cancelled" : "failed"}, {"count", compensations_.size()}});
  }
  // Each compensation is an activity op of its own; one that fails for good does not stop the
  // others.
  for (auto it = compensations_.rbegin(); it != compensations_.rend(); ++it) {
    int op = begin_activity(it->spec, it->call, it->arguments);
    try {
      co_await Op<Json>(this, op);
    } catch (const ActivityError&) {
    }
  }
  std::rethrow_exception(failure);
}

void ExecutionCore::run_ready() {
  while (!ready_.empty() && !parked_ && !continue_input_) {
    auto handles = std::move(ready_);
    ready_.clear();
    for (auto h : handles) {
      if (parked_ || continue_input_) break;
      h.resume();
    }
    // Keep the buffer: most rounds make one handle ready again.
    if (ready_.empty()) {
      handles.clear();
      ready_.swap(handles);
    }
  }
  dirty_ = true;
  if (!finished_ && (parked_ || continue_input_ || root_.done())) finish();
}

void ExecutionCore::finish() {
  finished_ = true;
  if (continue_input_ && !parked_) {
    // Nothing of this run is committed beyond what already is: the store replaces the whole
    // journal with the next run's event 0 in the commit that carries the continue-as-new.
    abandon_all(true);
    pending_.clear();
    post_commit_.clear();
    set_timers_.clear();
    clear_timers_.clear();
    next_index_ = committed_next_;
    return;
  }
  abandon_all(!parked_);
  if (parked_) {
    pending_.clear();
    post_commit_.clear();
    set_timers_.clear();
    next_index_ = committed_next_;
    final_status_ = ExecutionStatus::kNeedsAttention;
    final_error_ = Json{{"type", park_type_}, {"message", park_message_}}.dump();
    scheduler_.fault(park_message_);
    return;
  }
  try {
    Json value = root_.result();
    final_result_ = value.dump();
    append_text(EventType::kCompleted, -1, "", "{\"value\":" + final_result_ + "}");
    final_status_ = ExecutionStatus::kCompleted;
  } catch (const Cancelled&) {
    Json error = current_error_json(compensations_.size());
    final_error_ = error.dump();
    append(EventType::kCancelled, -1, "", {{"error", error}});
    final_status_ = ExecutionStatus::kCancelled;
  } catch (const ParkedSignal&) {
    // Parked in a way run_ready() did not see (cannot happen); stay parked.
    final_status_ = ExecutionStatus::kNeedsAttention;
  } catch (...) {
    Json error = current_error_json(compensations_.size());
    final_error_ = error.dump();
    append(EventType::kFailed, -1, "", {{"error", error}});
    final_status_ = ExecutionStatus::kFailed;
  }
}

std::int64_t ExecutionCore::append(EventType type, int op, std::string_view name,
                                   const Json& data) {
  return append_text(type, op, name, data.dump());
}

std::int64_t ExecutionCore::append_text(EventType type, int op, std::string_view name,
                                        std::string data) {
  // Built in place: a temporary Event moved in costs a copy of each short string's buffer.
  Event& e = pending_.emplace_back();
  e.index = next_index_++;
  e.type = type;
  e.op = op;
  e.name.assign(name);
  e.data = std::move(data);
  e.time = scheduler_.event_time();
  dirty_ = true;
  scheduler_.make_ready(this);  // so the scheduler sees the write; harmless if nothing to run
  return e.index;
}

void ExecutionCore::take_write(ExecutionWrite& w) {
  // `w` may be a slot of an earlier batch: every field is set or reset here.
  w.execution_id = id_;
  w.status.reset();
  w.waiting_on.clear();
  w.result.clear();
  w.error.clear();
  w.continue_as_new.reset();
  w.clear_cancel = false;
  w.continued_at = {};
  w.expected_next_index = committed_next_;
  w.data_is_serialized_json = true;  // all data comes from Json::dump() or append_json()
  w.requires_create = awaiting_create_;
  // Swapped, not moved: the slot's buffers (committed output of an earlier round) come back
  // here emptied, so the next round appends without allocating.
  w.events.swap(pending_);
  pending_.clear();
  w.set_timers.swap(set_timers_);
  set_timers_.clear();
  w.clear_timers.swap(clear_timers_);
  clear_timers_.clear();
  if (continue_input_ && finished_) {
    w.continue_as_new = continue_input_->dump();
    w.clear_cancel = cancel_delivered_;
    w.continued_at = scheduler_.event_time();
  } else if (final_status_) {
    w.status = final_status_;
    w.result = final_result_;
    w.error = final_error_;
  } else {
    std::string waiting_on;
    ExecutionStatus status = current_status(waiting_on);
    if (status != written_status_ || waiting_on != written_waiting_on_) {
      w.status = status;
      w.waiting_on = waiting_on;
      written_status_ = status;
      written_waiting_on_ = waiting_on;
    }
  }
  w.stream.swap(pending_stream_);
  pending_stream_.clear();
  if (w.status && (*w.status != streamed_status_ || w.waiting_on != streamed_waiting_on_)) {
    auto journal_index = w.expected_next_index + static_cast<std::int64_t>(w.events.size());
    w.stream.push_back(status_stream_entry(*w.status, w.waiting_on, w.error, journal_index, run_,
                                           scheduler_.clock().now()));
    streamed_status_ = *w.status;
    streamed_waiting_on_ = w.waiting_on;
  }
  dirty_ = false;
}

void ExecutionCore::restore(ExecutionWrite write) {
  write.events.insert(write.events.end(), std::make_move_iterator(pending_.begin()),
                      std::make_move_iterator(pending_.end()));
  pending_ = std::move(write.events);
  write.set_timers.insert(write.set_timers.end(), set_timers_.begin(), set_timers_.end());
  set_timers_ = std::move(write.set_timers);
  write.clear_timers.insert(write.clear_timers.end(), clear_timers_.begin(), clear_timers_.end());
  clear_timers_ = std::move(write.clear_timers);
  // The status entry is made again from the status of the next write.
  std::erase_if(write.stream, [](const NewStreamEntry& e) { return is_status_key(e.key); });
  write.stream.insert(write.stream.end(), std::make_move_iterator(pending_stream_.begin()),
                      std::make_move_iterator(pending_stream_.end()));
  pending_stream_ = std::move(write.stream);
  streamed_status_ = committed_streamed_status_;
  streamed_waiting_on_ = committed_streamed_waiting_on_;
  written_status_.reset();
  dirty_ = true;
}

ExecutionStatus ExecutionCore::current_status(std::string& waiting_on) const {
  if (!ready_.empty()) return ExecutionStatus::kRunning;
  std::vector<std::string> waits;
  for (const auto& [op, st] : ops_) {
    if (!st.waiter || st.outcome || st.outcome_pending) continue;
    if (st.kind == OpKind::kActivity) {
      if (st.running_attempt != 0 || !st.retry_at) return ExecutionStatus::kRunning;
      waits.push_back(fmt::format("retry of activity '{}'", st.name));
    } else {
      waits.push_back(fmt::format("{} '{}'", kind_name(st.kind), st.name));
    }
  }
  if (waits.empty()) return ExecutionStatus::kRunning;
  waiting_on = fmt::format("{}", fmt::join(waits, ", "));
  return ExecutionStatus::kWaiting;
}

void ExecutionCore::emit(std::string_view kind, const Json& data) {
  if (parked_) throw ParkedSignal{};
  if (emit_op_ != next_op_) {
    emit_op_ = next_op_;
    emit_count_ = 0;
  }
  if (kind.empty()) {
    throw DurableError(
        fmt::format("execution {}: ctx.emit needs a kind (\"progress\", \"log\", ...)", id_));
  }
  std::string key = fmt::format("{}wf:{}:{}", stream_key_prefix(run_), next_op_, emit_count_++);
  // Replayed code re-emits what an earlier run committed: skip what the journal proves was
  // committed; the key catches the rest (emits after the last journaled op).
  if (is_replaying()) return;
  pending_stream_.push_back(NewStreamEntry{.kind = std::string(kind),
                                           .data = data.dump(),
                                           .time = scheduler_.event_time(),
                                           .key = std::move(key)});
  dirty_ = true;
  scheduler_.make_ready(this);
}

void ExecutionCore::on_committed() {
  awaiting_create_ = false;
  committed_next_ = next_index_;
  committed_streamed_status_ = streamed_status_;
  committed_streamed_waiting_on_ = streamed_waiting_on_;
  // Actions may queue more post-commit work (into the emptied post_commit_); those wait for the
  // next commit.
  std::vector<PostCommit> actions;
  actions.swap(post_commit_);
  for (auto& a : actions) {
    OpState* st = find(a.op);
    if (a.deliver) {
      if (st) {
        st->outcome_pending = false;
        deliver(a.op, std::move(*a.deliver));
      }
    } else if (st && !st->abandoned && st->running_attempt == a.attempt && !finished_) {
      scheduler_.dispatch(*this, a.op, a.attempt, *st);
    }
  }
  // Keep the buffer: most executions queue one action again in their next round.
  if (post_commit_.empty()) {
    actions.clear();
    post_commit_.swap(actions);
  }
}

bool ExecutionCore::unloadable(TimePoint now) const {
  if (finished_ || parked_ || queued_ || in_compensation_ || cancel_requested_ || continue_input_ ||
      final_status_ || !ready_.empty() || !pending_.empty() || !post_commit_.empty() ||
      !set_timers_.empty() || !clear_timers_.empty() || !pending_stream_.empty()) {
    return false;
  }
  bool waiting = false;
  for (const auto& [op, st] : ops_) {
    if (!st.live || st.outcome) continue;
    // Activities run on this engine's threads, children and queue items are watched from here:
    // only sleeps and deferreds are woken through the store and the timer heap alone.
    if (st.kind != OpKind::kTimer && st.kind != OpKind::kDeferred) return false;
    if (st.outcome_pending || (st.due && *st.due <= now)) return false;
    waiting = waiting || st.waiter != nullptr;
  }
  return waiting;
}

std::shared_ptr<std::atomic<bool>> ExecutionCore::fresh_cancel_flag(
    std::shared_ptr<std::atomic<bool>> old) {
  // A flag only this core holds is seen by no attempt: no context of one holds it any more, and
  // none can get it (contexts are made from the OpState's copy). Such a flag is reused. The
  // engine drops its contexts on this thread (finished jobs come back to it); a context a user
  // copied and dropped elsewhere belonged to an attempt that has ended.
  if (old.use_count() != 1) old = std::move(spare_cancel_flag_);
  if (old.use_count() != 1) return std::make_shared<std::atomic<bool>>(false);
  old->store(false, std::memory_order_relaxed);
  return old;
}

void ExecutionCore::release_spare_buffers() {
  // Only what is empty: the buffers of pending output would be needed again at once.
  if (pending_.empty()) std::vector<Event>().swap(pending_);
  if (post_commit_.empty()) std::vector<PostCommit>().swap(post_commit_);
  if (set_timers_.empty()) std::vector<TimerEntry>().swap(set_timers_);
  if (clear_timers_.empty()) std::vector<std::int32_t>().swap(clear_timers_);
  if (pending_stream_.empty()) std::vector<NewStreamEntry>().swap(pending_stream_);
  ops_.shrink();
  spare_cancel_flag_.reset();
}

OpState* ExecutionCore::find(int op) {
  return ops_.find(op);
}

int ExecutionCore::begin(OpKind kind, std::string_view name) {
  if (parked_) throw ParkedSignal{};
  int op = next_op_++;
  OpState* journaled = ops_.find(op);
  if (journaled && journaled->from_journal) {
    OpState& st = *journaled;
    if (st.kind == OpKind::kPatch) {
      park("durable::NonDeterminism",
           fmt::format("execution {} (workflow '{}'): the code no longer matches the journal at "
                       "operation {}: the journal holds patch marker '{}' but the code asked for "
                       "{} '{}'; keep ctx.deprecate_patch(\"{}\") at that point until no "
                       "execution recorded with the marker remains",
                       id_, spec_->name, op, st.name, kind_name(kind), name, st.name));
    }
    if (st.kind != kind || st.name != name) {
      park("durable::NonDeterminism",
           fmt::format("execution {} (workflow '{}'): the code no longer matches the journal at "
                       "operation {}: the journal holds {} '{}' but the code asked for {} '{}'",
                       id_, spec_->name, op, kind_name(st.kind), st.name, kind_name(kind), name));
    }
    if (st.outcome) ++scheduler_.counters().ops_replayed;
    return op;
  }
  OpState& st = ops_[op];
  st.kind = kind;
  st.name = std::string(name);
  return op;
}

int ExecutionCore::begin_activity(std::shared_ptr<const ActivitySpec> spec, ActivityCall call,
                                  std::string arguments) {
  int op = begin(OpKind::kActivity, spec->name);
  OpState& st = ops_[op];
  st.spec = std::move(spec);
  st.call = std::move(call);
  st.arguments = std::move(arguments);
  return op;
}

int ExecutionCore::begin_timer(std::string_view name, std::optional<Duration> after,
                               std::optional<TimePoint> at) {
  int op = begin(OpKind::kTimer, name);
  OpState& st = ops_[op];
  if (!st.due) st.due = at ? *at : scheduler_.clock().now() + after.value_or(Duration{0});
  return op;
}

int ExecutionCore::begin_deferred(std::string_view name, std::optional<Duration> timeout) {
  int op = begin(OpKind::kDeferred, name);
  OpState& st = ops_[op];
  if (!st.scheduled && timeout) st.due = scheduler_.clock().now() + *timeout;
  return op;
}

int ExecutionCore::begin_child(std::shared_ptr<const WorkflowSpec> spec, Json input,
                               std::optional<std::string> id) {
  int op = begin(OpKind::kChild, spec->name);
  OpState& st = ops_[op];
  if (st.child_id.empty()) {
    st.child_id = id          ? *id
                  : run_ == 1 ? fmt::format("{}/{}", id_, op)
                              : fmt::format("{}/run{}/{}", id_, run_, op);
  }
  st.child_spec = std::move(spec);
  st.input = std::move(input);
  return op;
}

const Outcome* ExecutionCore::outcome(int op) {
  OpState* st = find(op);
  return st && st->outcome ? &*st->outcome : nullptr;
}

void ExecutionCore::wait(int op, Waiter* waiter) {
  OpState* st = find(op);
  if (!st || parked_) return;  // parked: never resumed; the frame is destroyed
  st->waiter = waiter;
  if (st->outcome) {
    deliver(op, *st->outcome);
    return;
  }
  if (cancel_requested_ && !cancel_delivered_ && !in_compensation_) {
    deliver_cancel(op, *st);
    return;
  }
  if (!st->live) start_live(op, *st);
}

void ExecutionCore::start_live(int op, OpState& st) {
  st.live = true;
  switch (st.kind) {
    case OpKind::kActivity:
      if (st.retry_at) {
        scheduler_.arm(*this, op, *st.retry_at, TimerKind::kRetry, st.attempts_started);
      } else {
        start_attempt(op, st);
      }
      break;
    case OpKind::kTimer:
      if (!st.scheduled) {
        st.scheduled = true;
        append(EventType::kTimerScheduled, op, st.name, {{"due", to_ms(*st.due)}});
        set_store_timer(op, st, *st.due);
      }
      scheduler_.arm(*this, op, *st.due, TimerKind::kSleep);
      break;
    case OpKind::kDeferred:
      if (!st.scheduled) {
        st.scheduled = true;
        Json data = Json::object();
        if (st.due) data["deadline"] = to_ms(*st.due);
        append(EventType::kDeferredAwaited, op, st.name, std::move(data));
        if (st.due) set_store_timer(op, st, *st.due);
      }
      if (st.due) scheduler_.arm(*this, op, *st.due, TimerKind::kDeferredDeadline);
      check_deferred(op, st, false);
      break;
    case OpKind::kChild:
      scheduler_.add_workflow(st.child_spec);
      if (!st.scheduled) {
        st.scheduled = true;
        append(EventType::kChildStarted, op, st.name,
               {{"child", st.child_id}, {"workflow", st.child_spec->name}, {"input", st.input}});
        NewExecution child;
        child.id = st.child_id;
        child.workflow = st.child_spec->name;
        child.input = st.input.dump();
        child.input_is_serialized_json = true;
        child.created_at = scheduler_.clock().now();
        scheduler_.create_child(std::move(child));
      } else {
        check_child(op, st);
      }
      scheduler_.watch_child(st.child_id, id_);
      break;
    case OpKind::kQueue:
      if (!st.scheduled) {
        st.scheduled = true;
        append(EventType::kQueueItemEnqueued, op, st.name,
               {{"queue", st.name}, {"key", st.queue_key}});
        NewQueueItem item;
        item.queue = st.name;
        item.key = st.queue_key;
        item.payload = st.input.dump();
        item.waiter_execution_id = id_;
        item.waiter_deferred = deferred_key(queue_deferred_name(st.name, st.queue_key));
        item.enqueued_at = scheduler_.clock().now();
        scheduler_.enqueue_item(std::move(item));
      } else {
        check_queue_item(op, st);
      }
      break;
    case OpKind::kSideEffect:
    case OpKind::kPatch:
      break;
  }
}

void ExecutionCore::check_child(int op, OpState& st) {
  if (st.outcome || st.outcome_pending) return;
  std::optional<ExecutionRecord> child;
  try {
    child = scheduler_.store().get_execution(st.child_id);
  } catch (const StoreError& e) {
    scheduler_.fault(fmt::format("execution {}: reading child {}: {}", id_, st.child_id, e.what()));
    return;  // looked at again on the next poke or store poll
  }
  if (!child) {
    // Journaled as started but not in the store: the create and the event share one commit, so
    // this is a child deleted by an operator.
    complete_op(op, Outcome::Kind::kError, EventType::kChildFailed,
                {{"error",
                  {{"type", "durable::NoSuchExecution"},
                   {"message", fmt::format("child execution {} no longer exists", st.child_id)},
                   {"child", st.child_id}}}});
    return;
  }
  if (!is_final(child->status)) return;
  scheduler_.unwatch_child(st.child_id);
  if (child->status == ExecutionStatus::kCompleted) {
    Json value = child->result.empty() ? Json(nullptr) : Json::parse(child->result, nullptr, false);
    complete_value(op, EventType::kChildCompleted, std::move(value));
    return;
  }
  Json error = Json::parse(child->error.empty() ? "{}" : child->error, nullptr, false);
  if (!error.is_object()) error = Json::object();
  if (!error.contains("type")) {
    error["type"] = child->status == ExecutionStatus::kCancelled ? "durable::Cancelled" : "unknown";
  }
  if (!error.contains("message")) error["message"] = std::string(to_string(child->status));
  error["child"] = st.child_id;
  complete_op(op, Outcome::Kind::kError, EventType::kChildFailed, {{"error", error}});
}

void ExecutionCore::start_attempt(int op, OpState& st) {
  const RetryPolicy& retry = st.spec->options.retry;
  int attempt = st.attempts_started + 1;
  if (attempt > std::max(1, retry.max_attempts)) {
    // The last attempt was interrupted (the process stopped while it ran).
    Json error = st.last_error.is_null()
                     ? Json{{"type", "durable::AttemptInterrupted"},
                            {"message", fmt::format("attempt {} was interrupted before it "
                                                    "finished and no attempts remain",
                                                    st.attempts_started)}}
                     : st.last_error;
    error["activity"] = st.name;
    error["attempts"] = st.attempts_started;
    complete_op(op, Outcome::Kind::kError, EventType::kActivityFailed,
                {{"error", error}, {"attempts", st.attempts_started}});
    return;
  }
  st.attempts_started = attempt;
  st.running_attempt = attempt;
  st.cancel_flag = fresh_cancel_flag(std::move(st.cancel_flag));
  // Json{{"attempt", attempt}, {"input", arguments}}.dump(), without a DOM.
  std::string data;
  data.reserve(32 + (attempt == 1 ? st.arguments.size() : 0));  // one allocation
  data += "{\"attempt\":";
  append_json_integer(data, attempt);
  if (attempt == 1) {
    data += ",\"input\":";
    data += st.arguments;
  }
  data += '}';
  append_text(EventType::kActivityStarted, op, st.name, std::move(data));
  post_commit_.push_back(PostCommit{op, std::nullopt, attempt});
}

void ExecutionCore::on_activity_result(int op, int attempt, bool ok, Json value,
                                       bool non_retryable) {
  OpState* st = find(op);
  if (!st || finished_ || st->abandoned || st->outcome || st->outcome_pending ||
      st->running_attempt != attempt) {
    return;  // a late answer: timed out, lost a race, cancelled, or the execution ended
  }
  st->running_attempt = 0;
  if (ok) {
    complete_value(op, EventType::kActivityCompleted, std::move(value));
  } else {
    fail_attempt(op, *st, std::move(value), non_retryable);
  }
}

void ExecutionCore::fail_attempt(int op, OpState& st, Json error, bool non_retryable) {
  const RetryPolicy& retry = st.spec->options.retry;
  int attempt = st.attempts_started;
  std::string type = error.value("type", "");
  bool listed = std::find(retry.non_retryable_errors.begin(), retry.non_retryable_errors.end(),
                          type) != retry.non_retryable_errors.end();
  if (non_retryable || listed || attempt >= retry.max_attempts) {
    error["activity"] = st.name;
    error["attempts"] = attempt;
    complete_op(op, Outcome::Kind::kError, EventType::kActivityFailed,
                {{"error", error}, {"attempts", attempt}});
    return;
  }
  TimePoint retry_at = scheduler_.clock().now() + retry.backoff_after(attempt);
  st.last_error = error;
  st.retry_at = retry_at;
  append(EventType::kActivityAttemptFailed, op, st.name,
         {{"attempt", attempt}, {"error", std::move(error)}, {"retry_at", to_ms(retry_at)}});
  set_store_timer(op, st, retry_at);
  scheduler_.arm(*this, op, retry_at, TimerKind::kRetry, attempt);
}

void ExecutionCore::on_timer(int op, TimerKind kind, int generation) {
  OpState* st = find(op);
  if (!st || finished_ || st->abandoned || st->outcome || st->outcome_pending || !st->live) return;
  switch (kind) {
    case TimerKind::kSleep:
      clear_store_timer(op, *st);
      complete_op(op, Outcome::Kind::kValue, EventType::kTimerFired, Json::object());
      break;
    case TimerKind::kDeferredDeadline:
      check_deferred(op, *st, true);
      break;
    case TimerKind::kRetry:
      if (!st->retry_at || st->attempts_started != generation) return;
      st->retry_at.reset();
      clear_store_timer(op, *st);
      start_attempt(op, *st);
      break;
    case TimerKind::kAttemptTimeout:
      if (st->running_attempt != generation) return;
      st->running_attempt = 0;
      if (st->cancel_flag) st->cancel_flag->store(true);
      fail_attempt(op, *st,
                   {{"type", "durable::ActivityTimeout"},
                    {"message", fmt::format("attempt {} timed out after {} ms", generation,
                                            st->spec->options.timeout.count())}},
                   false);
      break;
    case TimerKind::kQueuePoll:
      check_queue_item(op, *st);
      break;
  }
}

void ExecutionCore::check_deferred(int op, OpState& st, bool deadline_passed) {
  if (st.outcome || st.outcome_pending) return;
  std::optional<DeferredRecord> record;
  try {
    record = deadline_passed ? scheduler_.store().close_deferred(id_, deferred_key(st.name),
                                                                 scheduler_.clock().now())
                             : scheduler_.store().get_deferred(id_, deferred_key(st.name));
  } catch (const StoreError& e) {
    // Looked at again on the next poke or store poll; a deadline is re-armed shortly.
    scheduler_.fault(
        fmt::format("execution {}: reading deferred '{}': {}", id_, st.name, e.what()));
    if (deadline_passed) {
      scheduler_.arm(*this, op, scheduler_.clock().now() + Duration{100},
                     TimerKind::kDeferredDeadline);
    }
    return;
  }
  if (!record) return;
  clear_store_timer(op, st);
  if (record->state == DeferredState::kResolved) {
    Json value;
    try {
      value = Json::parse(record->value);
    } catch (const Json::exception& e) {
      park("durable::DecodeError",
           fmt::format("execution {}: the resolution of deferred '{}' is not JSON: {}", id_,
                       st.name, e.what()));
    }
    complete_value(op, EventType::kDeferredResolved, std::move(value));
  } else {
    complete_op(op, Outcome::Kind::kTimedOut, EventType::kDeferredTimedOut, Json::object());
  }
}

void ExecutionCore::on_poke(bool cancel_requested) {
  if (finished_) return;
  if (cancel_requested && !cancel_requested_) {
    cancel_requested_ = true;
    if (!cancel_delivered_ && !in_compensation_) {
      for (auto& [op, st] : ops_) {
        if (st.waiter && !st.outcome && !st.outcome_pending) {
          deliver_cancel(op, st);
          break;
        }
      }
    }
  }
  for (auto& [op, st] : ops_) {
    if (!st.live || st.abandoned) continue;
    if (st.kind == OpKind::kDeferred) check_deferred(op, st, false);
    if (st.kind == OpKind::kChild && !st.outcome && !st.outcome_pending) check_child(op, st);
    if (st.kind == OpKind::kQueue && st.scheduled) check_queue_item(op, st);
  }
}

void ExecutionCore::deliver_cancel(int op, OpState& st) {
  cancel_delivered_ = true;
  stop_live_work(op, st);
  complete_op(op, Outcome::Kind::kCancelled, EventType::kOpCancelled, Json::object());
}

void ExecutionCore::complete_op(int op, Outcome::Kind kind, EventType type, Json data) {
  Json value = kind == Outcome::Kind::kError ? data["error"]
               : data.contains("value")      ? data["value"]
                                             : Json(nullptr);
  record_outcome(op, kind, type, data.dump(), std::move(value));
}

void ExecutionCore::complete_value(int op, EventType type, Json value) {
  std::string data = json_member("value", value);
  record_outcome(op, Outcome::Kind::kValue, type, std::move(data), std::move(value));
}

void ExecutionCore::record_outcome(int op, Outcome::Kind kind, EventType type, std::string data,
                                   Json value) {
  OpState& st = ops_[op];
  st.outcome_pending = true;
  std::int64_t index = append_text(type, op, st.name, std::move(data));
  post_commit_.push_back(PostCommit{op, Outcome{kind, std::move(value), index}, 0});
}

void ExecutionCore::deliver(int op, Outcome outcome) {
  OpState& st = ops_[op];
  st.outcome = std::move(outcome);
  Waiter* w = st.waiter;
  if (!w || w->fired || finished_) return;
  if (w->any || --w->remaining <= 0) {
    w->fired = true;
    ready_.push_back(w->handle);
    scheduler_.make_ready(this);
  }
}

void ExecutionCore::release(int op) noexcept {
  OpState* st = ops_.find(op);
  if (!st) return;
  if (!destroying_ && !st->outcome && !st->outcome_pending && st->live) stop_live_work(op, *st);
  if (!spare_cancel_flag_ && st->cancel_flag.use_count() == 1) {
    spare_cancel_flag_ = std::move(st->cancel_flag);
  }
  ops_.erase(op);
}

void ExecutionCore::stop_live_work(int op, OpState& st, bool cancel_child) noexcept {
  st.abandoned = true;
  if (st.kind == OpKind::kChild && !st.child_id.empty()) {
    scheduler_.unwatch_child(st.child_id);
    if (cancel_child && !st.outcome) scheduler_.cancel_child(st.child_id);
  }
  if (st.cancel_flag) st.cancel_flag->store(true);
  st.running_attempt = 0;
  clear_store_timer(op, st);
}

void ExecutionCore::abandon_all(bool cancel_children) noexcept {
  for (auto& [op, st] : ops_) {
    if (st.live && !st.outcome) stop_live_work(op, st, cancel_children);
  }
}

void ExecutionCore::set_store_timer(int op, OpState& st, TimePoint due) {
  st.store_timer = true;
  set_timers_.push_back(TimerEntry{id_, op, due});
}

void ExecutionCore::clear_store_timer(int op, OpState& st) noexcept {
  if (!st.store_timer) return;
  st.store_timer = false;
  try {
    clear_timers_.push_back(op);
    dirty_ = true;
  } catch (...) {
    // Out of memory: the store keeps a stale timer row, which the engine ignores when it fires.
  }
}

Json ExecutionCore::side_effect(std::string_view name, const std::function<Json()>& make) {
  int op = begin(OpKind::kSideEffect, name);
  OpState& st = ops_[op];
  if (st.outcome) {
    Json value = st.outcome->data;
    ops_.erase(op);
    return value;
  }
  Json value = make();
  append(EventType::kSideEffect, op, name, {{"value", value}});
  ops_.erase(op);
  return value;
}

bool ExecutionCore::patched(std::string_view change_id, bool record) {
  if (parked_) throw ParkedSignal{};
  int op = next_op_;
  OpState* journaled = ops_.find(op);
  if (journaled && journaled->from_journal) {
    if (journaled->kind != OpKind::kPatch || journaled->name != change_id) {
      return false;  // a history from before the change: the old branch, and no op is taken
    }
    ++next_op_;
    ops_.erase(op);
    return true;
  }
  if (is_replaying() || !record) return false;
  ++next_op_;
  append(EventType::kPatchMarker, op, change_id, Json::object());
  return true;
}

void ExecutionCore::add_compensation(std::shared_ptr<const ActivitySpec> spec, ActivityCall call,
                                     std::string arguments) {
  compensations_.push_back(Compensation{std::move(spec), std::move(call), std::move(arguments)});
}

std::string ExecutionCore::token(std::string_view deferred) {
  return encode_token(TokenClaims{id_, deferred_key(std::string(deferred))}, scheduler_.secret());
}

std::string ExecutionCore::deferred_key(const std::string& name) const {
  return run_ == 1 ? name : fmt::format("{}@run{}", name, run_);
}

void ExecutionCore::continue_as_new(Json input) {
  if (parked_) throw ParkedSignal{};
  spec_->check_input(input);
  continue_input_ = std::move(input);
  dirty_ = true;
  scheduler_.make_ready(this);
}

void ExecutionCore::park(std::string type, std::string message) {
  if (!parked_) {
    parked_ = true;
    park_type_ = std::move(type);
    park_message_ = std::move(message);
  }
  throw ParkedSignal{};
}

TimePoint ExecutionCore::clock_now() {
  return scheduler_.clock().now();
}

std::string ExecutionCore::describe_op(int op) const {
  const OpState* st = ops_.find(op);
  if (!st) return fmt::format("operation {} of execution {}", op, id_);
  return fmt::format("{} '{}' (operation {}) of execution {}", kind_name(st->kind), st->name, op,
                     id_);
}

}  // namespace durable::detail
