// Engine: owns the scheduler, the activity workers and a JournalStore, and runs workflows.
//
// Threading: every public method may be called from any thread. Workflow code runs on the
// engine's one scheduler thread; activities run on a pool of worker threads. Journal writes of
// all executions are batched into one store commit per scheduler round (group commit), and a
// step's result reaches workflow code only after that commit returned.
//
// Life cycle: construct, add() workflows, start() (which resumes every unfinished execution in
// the store), start executions, and stop() or destroy. Destroying an engine mid-run is safe and
// is exactly a crash as far as the journal is concerned: a new engine on the same store continues.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "durable/clock.hpp"
#include "durable/codec.hpp"
#include "durable/combinators.hpp"
#include "durable/durable_deferred.hpp"
#include "durable/durable_queue.hpp"
#include "durable/errors.hpp"
#include "durable/history.hpp"
#include "durable/journal_store.hpp"
#include "durable/stream_subscription.hpp"
#include "durable/workflow.hpp"

namespace durable {

struct EngineOptions {
  // Time source; nullptr means SystemClock::instance(). Must outlive the engine.
  Clock* clock = nullptr;
  // Activity threads, shared out among the scheduler threads (at least one each).
  std::size_t activity_threads = 4;
  // Scheduler threads. Each execution belongs to one, chosen by a hash of its id, and its
  // workflow code always runs there, one execution on one thread at a time as with a single
  // scheduler; but workflow code of different executions then runs at once on different
  // threads, so state that workflow code shares across executions needs a lock. More than one
  // uses more cores: the scheduler thread bounds an engine's steps per second.
  std::size_t scheduler_threads = 1;
  // How often the scheduler looks in the store for wake-ups written by other processes
  // (resolutions, cancellations): the worst-case latency of a cross-process wake-up.
  std::chrono::milliseconds store_poll_interval{100};
  // Called with a one-line description of each fault the engine recovered from or parked an
  // execution for: store errors, non-determinism, decode errors. On a scheduler thread (with
  // several, on any of them, at once), or on a queue worker's thread for that worker's store
  // faults.
  std::function<void(const std::string&)> on_fault{};
  // Retention: when set, the scheduler deletes executions that finished (completed, failed,
  // cancelled) longer ago than this, as Engine::prune does, at most 500 per check and checking
  // every retention / 24 of clock time (between 1 s and 1 h). Unfinished executions are never
  // deleted. Off by default: nothing is ever deleted unless asked.
  std::optional<Duration> retention{};
  // How many executions waiting on durable sleeps or deferreds stay loaded (coroutine frames and
  // op state in memory, about 2 KiB each). Beyond this, the longest-waiting are unloaded: only a
  // timer entry (and their id) stays, and the sleep's timer or a resolution loads them again by
  // replaying their journal, as after a restart. Temporal's workflow cache, by another name.
  // Executions running activities or waiting on children or queue items are never unloaded.
  // 0 unloads every execution as soon as it waits. With several scheduler threads, each keeps
  // its share (the limit divided among them, rounded up).
  std::size_t max_cached_waiting = 10'000;
};

struct StartOptions {
  // Overrides the workflow's own idempotency key.
  std::optional<std::string> idempotency_key{};
};

struct RestartOptions {
  // The new execution's id; by default "<workflow>-<random hex>", like an unkeyed start.
  std::optional<std::string> id{};
};

// Counters for tests, tools and benchmarks. Monotonic for the engine's lifetime.
struct EngineStats {
  std::uint64_t executions_loaded = 0;    // executions brought back from the store by replay
  std::uint64_t executions_unloaded = 0;  // waiting executions dropped from memory (see
                                          // EngineOptions::max_cached_waiting)
  std::uint64_t ops_replayed = 0;  // operations answered from a journal loaded from the store
  std::uint64_t commits = 0;       // store commits (each may hold many executions' events)
  std::uint64_t events_committed = 0;
  std::uint64_t activity_attempts = 0;  // attempts started by this engine
  std::uint64_t store_faults = 0;       // failed commits that were retried
};

class Engine;

namespace detail {
template <class R>
R result_of(const ExecutionRecord& record);
}

// A reference to one execution. Cheap to copy; valid while its engine lives.
template <class R>
class ExecutionHandle {
 public:
  ExecutionHandle(Engine* engine, std::string id) : engine_(engine), id_(std::move(id)) {}

  const std::string& id() const { return id_; }
  // Blocks until the execution ends; returns its result or throws WorkflowFailed, Cancelled or
  // ExecutionParked.
  R get() const;
  // The result if the execution has ended (throwing as get() does), or nullopt.
  std::optional<detail::ValueOf<R>> poll() const;
  ExecutionStatus status() const;

 private:
  Engine* engine_;
  std::string id_;
};

class Engine {
 public:
  explicit Engine(std::shared_ptr<JournalStore> store, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Registers a workflow so that executions in the store can be resumed. Call before start().
  template <class R, class P>
  void add(const Workflow<R(P)>& workflow) {
    add_workflow(workflow.spec());
  }
  // Registers a deferred's type so that untyped resolve(token, json) can check resolutions.
  template <class T>
  void add(const DurableDeferred<T>& deferred) {
    add_deferred_check(deferred.name(), [deferred](const Json& v) { deferred.check(v); });
  }

  // Starts the scheduler, the activity threads and the queue workers, and resumes every
  // unfinished execution. Idempotent.
  void start();
  // Stops the queue workers (see add_worker), then the scheduler after the current round (whose
  // output is committed), asks running activities to cancel, waits for them and drops their
  // results: an activity cut short runs again as its next attempt when an engine next loads the
  // execution. Idempotent; the destructor calls it. start() may be called again afterwards.
  void stop();

  // Starts an execution (or finds the existing one with the same idempotency key) once it is
  // durably created. Starts the engine if needed.
  template <class R, class P>
  ExecutionHandle<R> start(const Workflow<R(P)>& workflow, std::type_identity_t<P> payload,
                           StartOptions options = {}) {
    add_workflow(workflow.spec());
    auto key =
        options.idempotency_key ? options.idempotency_key : workflow.idempotency_key(payload);
    return ExecutionHandle<R>(this, start_execution(workflow.name(), encode<P>(payload), key));
  }
  // Starts and waits for the result.
  template <class R, class P>
  R execute(const Workflow<R(P)>& workflow, std::type_identity_t<P> payload,
            StartOptions options = {}) {
    return start(workflow, std::move(payload), std::move(options)).get();
  }
  template <class R>
  ExecutionHandle<R> handle(std::string id) {
    return ExecutionHandle<R>(this, std::move(id));
  }

  // Untyped start for tools: throws UnknownWorkflow or DecodeError (nothing is created then).
  std::string start_execution(std::string_view workflow, const Json& input,
                              std::optional<std::string> idempotency_key = std::nullopt);

  // Blocks until the execution is completed, failed, cancelled or needs attention; returns its
  // record. Throws NoSuchExecution. With a timeout, returns nullopt if it is still going.
  std::optional<ExecutionRecord> wait(const std::string& id,
                                      std::optional<Duration> timeout = std::nullopt);
  std::optional<ExecutionRecord> describe(const std::string& id);
  // The raw journal. Throws NoSuchExecution.
  std::vector<Event> history(const std::string& id);
  // The journal as structured entries (data decoded, type named), as `durable show` shows it.
  // Throws NoSuchExecution.
  std::vector<HistoryEntry> timeline(const std::string& id);

  // Executions matching `query` (workflow, statuses, created time range), ordered by
  // (created_at, id), one page at a time: pass the page's next_page_token back for the next one.
  // Paging is stable: executions created after the first page never shift later pages, and none
  // is returned twice.
  ListPage list(const ListQuery& query = {});

  // Restarts an execution from step `from_step` (DBOS's fork): creates a new execution of the
  // same workflow and input whose journal holds the source's events of operations 0 ..
  // from_step - 1, so replay returns those steps' journaled results without running them, and
  // every operation from `from_step` on runs again with the current code. Steps are operation
  // indices, the OP column of `durable show`; valid values are 0 (run everything again) to the
  // number of operations the source journaled. The source must have stopped: completed, failed,
  // cancelled or needing attention; it is left unchanged, and the new execution names it in
  // ExecutionRecord::forked_from. Returns the new id. Throws NoSuchExecution for an unknown
  // source and DurableError (naming the execution and the valid range) for a source still
  // running or waiting, a step out of range or an id already taken; nothing changes then. The
  // new execution runs on this engine if it is started, else on whichever engine next polls.
  std::string restart(const std::string& id, std::int32_t from_step, RestartOptions options = {});

  // Deletes executions that finished (completed, failed or cancelled) before now - older_than,
  // at most `limit`, with their journals, timers, deferreds and ended queue items they awaited.
  // Unfinished executions are never touched. Returns how many were deleted.
  std::size_t prune(Duration older_than, std::size_t limit = 10000);

  // Durable: the workflow sees durable::Cancelled at its next suspension point.
  CancelOutcome cancel(const std::string& id);
  // Continues an execution parked as needing attention (after the code was fixed). Throws
  // NoSuchExecution, or DurableError if the execution does not need attention.
  void resume(const std::string& id);

  // Resolves the deferred named by `token`. Throws InvalidToken for a malformed, forged or
  // altered token and DecodeError if the value does not fit the deferred's registered type;
  // nothing changes then.
  ResolveOutcome resolve(std::string_view token, const Json& value);
  template <class T>
  ResolveOutcome resolve(const DurableDeferred<T>& deferred, std::string_view token,
                         const T& value) {
    return resolve_checked(deferred.name(), token, encode<T>(value));
  }

  // Reads execution `id`'s event stream from `from_offset` and follows it live (see
  // stream_subscription.hpp for wake-ups, the end and threading). Works whether or not the engine
  // runs the execution, or runs at all. Throws NoSuchExecution for an unknown id.
  StreamSubscription subscribe(const std::string& id, std::int64_t from_offset = 0);
  // --- DurableQueue (durable_queue.hpp) ---------------------------------------------------------

  // Runs `handler` — (P) -> R or (WorkerContext&, P) -> R — on items of `queue`, on threads of its
  // own (options.concurrency of them), from now until stop() (start() runs it again). Each call is
  // one more worker with an owner name of its own. Workers do not need start(): a process that
  // only serves queues should not call it, since start() also resumes the store's executions (and
  // parks those whose workflows it does not register).
  template <class P, class R, class F>
  void add_worker(const DurableQueue<P, R>& queue, F handler, WorkerOptions options = {}) {
    add_queue_worker(queue.name(), queue.handler(std::move(handler)), std::move(options));
  }
  // Offers an item from outside any workflow. Idempotent per key: kAlreadyEnqueued (changing
  // nothing) if the queue has an item with `key` in any state.
  template <class P, class R>
  EnqueueOutcome offer(const DurableQueue<P, R>& queue, std::string key,
                       const std::type_identity_t<P>& payload) {
    return offer_item(queue.name(), std::move(key), encode<P>(payload));
  }
  // An item's state, attempts and result or error (JSON text), or nullopt if there is none.
  std::optional<QueueItem> queue_item(const std::string& queue, const std::string& key);
  template <class P, class R>
  std::optional<QueueItem> queue_item(const DurableQueue<P, R>& queue, const std::string& key) {
    return queue_item(queue.name(), key);
  }

  // Blocks until no workflow code is runnable, no activity is running and nothing is waiting to
  // be committed: every execution is finished or waits on time or outside input.
  void wait_idle();

  EngineStats stats() const;
  JournalStore& store();
  Clock& clock();

 private:
  void add_workflow(std::shared_ptr<const detail::WorkflowSpec> spec);
  void add_deferred_check(const std::string& name, std::function<void(const Json&)> check);
  void add_queue_worker(std::string queue, detail::QueueHandler handler, WorkerOptions options);
  EnqueueOutcome offer_item(std::string queue, std::string key, const Json& payload);
  ResolveOutcome resolve_checked(std::optional<std::string> expected_deferred,
                                 std::string_view token, const Json& value);

  class Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// Throws the error an unsuccessful final record stands for.
[[noreturn]] void throw_final_error(const ExecutionRecord& record);

template <class R>
R result_of(const ExecutionRecord& record) {
  if (record.status != ExecutionStatus::kCompleted) throw_final_error(record);
  Json value = record.result.empty() ? Json(nullptr) : Json::parse(record.result);
  return decode<R>(value, "execution " + record.id + ": result");
}
}  // namespace detail

template <class R>
R ExecutionHandle<R>::get() const {
  return detail::result_of<R>(*engine_->wait(id_));
}

template <class R>
std::optional<detail::ValueOf<R>> ExecutionHandle<R>::poll() const {
  auto record = engine_->describe(id_);
  if (!record) throw NoSuchExecution("no execution with id " + id_);
  if (!is_final(record->status) && record->status != ExecutionStatus::kNeedsAttention) {
    return std::nullopt;
  }
  if constexpr (std::is_void_v<R>) {
    detail::result_of<void>(*record);
    return std::monostate{};
  } else {
    return detail::result_of<R>(*record);
  }
}

template <class R>
ExecutionStatus ExecutionHandle<R>::status() const {
  auto record = engine_->describe(id_);
  if (!record) throw NoSuchExecution("no execution with id " + id_);
  return record->status;
}

}  // namespace durable
