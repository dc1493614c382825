// WorkflowContext: what workflow code uses to do anything durable.
//
// Workflow code must be deterministic: given the same journal it must create the same operations
// in the same order. Everything non-deterministic goes through the context: activities (run),
// time (sleep, sleep_until, now), outside input (await), randomness (random, uuid).
// The context belongs to one execution and is used only on the engine's scheduler thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "durable/activity.hpp"
#include "durable/continue_as_new.hpp"
#include "durable/durable_deferred.hpp"
#include "durable/op.hpp"

namespace durable {

template <class Signature>
class Workflow;

struct ChildOptions {
  // The child's execution id; by default "<parent id>/<operation index>", stable across replays.
  std::optional<std::string> id{};
};

class WorkflowContext {
 public:
  explicit WorkflowContext(detail::ExecutionCore& core) : core_(&core) {}
  WorkflowContext(const WorkflowContext&) = delete;
  WorkflowContext& operator=(const WorkflowContext&) = delete;

  const std::string& execution_id() const { return detail::execution_id(*core_); }
  // True while the code is re-running operations whose outcomes are already journaled.
  bool is_replaying() const { return detail::is_replaying(*core_); }

  // Runs an activity; the Op resolves to its result or throws ActivityError.
  template <class R, class... Args>
  Op<R> run(const Activity<R(Args...)>& activity, std::type_identity_t<Args>... args) {
    std::string input = detail::arguments_json(encode<Args>(args)...);
    int op = detail::begin_activity(*core_, activity.spec(), activity.bind(std::move(args)...),
                                    std::move(input));
    return Op<R>(core_, op);
  }

  // Starts a child workflow and waits for its result. The child is created in the same commit
  // that journals its start, so it exists exactly once; it runs as an execution of its own and
  // survives restarts of either side. Its failure (or cancellation) surfaces as WorkflowFailed.
  // Cancelling the parent, or the parent ending while the child runs, cancels the child.
  // (Defined in workflow.hpp.)
  template <class R, class P>
  Op<R> child(const Workflow<R(P)>& workflow, std::type_identity_t<P> payload,
              const ChildOptions& options = {});

  // Registers an activity to run if the workflow later fails or is cancelled. Compensations run
  // in reverse order of registration, after the workflow body has exited; register one right
  // after the step it undoes has succeeded.
  template <class R, class... Args>
  void compensate(const Activity<R(Args...)>& activity, std::type_identity_t<Args>... args) {
    std::string input = detail::arguments_json(encode<Args>(args)...);
    detail::add_compensation(*core_, activity.spec(), activity.bind(std::move(args)...),
                             std::move(input));
  }

  // Durable sleeps: the execution is suspended, holds no thread, and wakes on time after any
  // restart. The due time is journaled when the sleep first starts.
  Op<void> sleep(std::string_view name, Duration duration) {
    return Op<void>(core_, detail::begin_timer(*core_, name, duration, std::nullopt));
  }
  Op<void> sleep_until(std::string_view name, TimePoint time) {
    return Op<void>(core_, detail::begin_timer(*core_, name, std::nullopt, time));
  }

  // Waits for the deferred to be resolved.
  template <class T>
  Op<T> await(const DurableDeferred<T>& deferred) {
    return Op<T>(core_, detail::begin_deferred(*core_, deferred.name(), std::nullopt));
  }
  // Waits at most `timeout` (journaled as a deadline); an empty optional when time runs out.
  template <class T>
  Op<std::optional<T>> await(const DurableDeferred<T>& deferred, Duration timeout) {
    return Op<std::optional<T>>(core_, detail::begin_deferred(*core_, deferred.name(), timeout));
  }
  // The token with which another process resolves `deferred` for this execution.
  template <class T>
  std::string token(const DurableDeferred<T>& deferred) {
    return detail::token(*core_, deferred.name());
  }

  // Versioning (Temporal's semantics). Guards a change to workflow code:
  //   if (ctx.patched("send-receipt")) co_await ctx.run(send_receipt, order);
  // true for executions that reach this point under the new code (a marker is journaled), false
  // for executions whose history was recorded before the change, which keep replaying the old
  // branch. Once no execution recorded before the change remains, replace the call by
  // deprecate_patch("send-receipt") and keep only the new branch; once none recorded with the
  // marker remains, delete that call too.
  bool patched(std::string_view change_id) { return detail::patched(*core_, change_id, true); }
  // Consumes the marker of a retired patch where a history has one; records nothing.
  void deprecate_patch(std::string_view change_id) {
    (void)detail::patched(*core_, change_id, false);
  }

  // Event stream (stream_entry.hpp): appends an entry of `kind` ("progress", "log", any short
  // name) with `data` to the execution's stream. Not a step: it consumes no operation, is not in
  // the journal, and workflow code cannot read it back. It is committed with the execution's next
  // journal write (so it is durable once the next step is), exactly once: a replay of the same
  // code appends nothing again (the n-th emit after operation k has key "wf:<k>:<n>"). Live
  // subscribers (Engine::subscribe) see it right after that commit. An empty kind throws
  // DurableError.
  void emit(std::string_view kind, const Json& data = Json::object()) {
    detail::emit(*core_, kind, data);
  }
  // Cloudflare's reportProgress: emit("progress", data), e.g. {"done": 3, "of": 10}.
  void report_progress(const Json& data) { emit("progress", data); }

  // Continue-as-new: ends this run and starts the next run of the same execution (same id) with
  // `input` and an empty history; use it to keep a long-running loop's history bounded:
  //   co_return co_await ctx.continue_as_new(next_state);
  // The current coroutine never resumes. Atomically with the switch, the old run's journal,
  // timers and deferred resolutions are dropped and the run number (ExecutionRecord::run) goes
  // up; after a crash either the old run continues (and reaches this point again) or the new one
  // runs, never a mix. What does not carry over: uncommitted work of the old run (activities it
  // started without awaiting are abandoned), its unfinished children (cancelled, as when a
  // parent ends) and its deferred tokens: from run 2 on, tokens and deferred rows are keyed by
  // run, so a token issued in an earlier run resolves nothing (Engine::resolve reports
  // kExecutionFinished: the run it was for has ended). A cancellation already delivered to the
  // old run is cleared; one requested but not yet delivered carries over to the new run.
  // `P` must be the workflow's payload type (checked: DecodeError otherwise).
  template <class P>
  ContinueAsNew continue_as_new(const P& input) {
    return ContinueAsNew(core_, encode<P>(input));
  }

  // Side effects: journaled on first run, the same value on every replay.
  TimePoint now();
  std::uint64_t random();
  std::string uuid();
  template <class T, class F>
  T side_effect(std::string_view name, F make) {
    Json value = detail::side_effect(*core_, name, [&] { return encode<T>(make()); });
    try {
      return decode<T>(value, "side effect '" + std::string(name) + "'");
    } catch (const DecodeError& e) {
      detail::park_on_decode_error(*core_, -1, e);
    }
  }

  detail::ExecutionCore& core() { return *core_; }

 private:
  detail::ExecutionCore* core_;
};

}  // namespace durable
