// Scheduler: a thread that runs workflow code, fires timers and group-commits the journal writes
// of the executions it owns, plus the worker pool that runs their activities. An engine has one,
// or several (EngineOptions::scheduler_threads) that own disjoint executions by a hash of the id.
//
// Everything below "loop thread only" is touched by the scheduler thread alone. Other threads
// (other schedulers included) talk to it by posting closures to the inbox (post) and read the
// store directly.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "durable/engine.hpp"
#include "engine/activity_pool.hpp"
#include "engine/execution_core.hpp"
#include "engine/stream_hub.hpp"

namespace durable::detail {

class Scheduler {
 public:
  // `hub`: the stream hub shared by the engine's schedulers (null: one of its own).
  Scheduler(std::shared_ptr<JournalStore> store, EngineOptions options,
            std::shared_ptr<StreamHub> hub = nullptr);
  ~Scheduler();

  // The engine's schedulers, this one at `index`; each execution is owned by one of them (by a
  // hash of its id), which alone loads and runs it. Set before start(); `all` outlives this.
  void set_shards(const std::vector<Scheduler*>* all, std::size_t index);
  bool owns(const std::string& id) const;
  Scheduler& owner(const std::string& id);
  // Loads an execution this scheduler owns, on its own thread (nothing if it is loaded).
  void load_soon(const std::string& id);
  // Work posted to this scheduler so far; Engine::wait_idle compares it across a pass.
  std::uint64_t posts() const { return posts_.load(); }

  void start();
  void stop();
  bool started() const;

  void add_workflow(std::shared_ptr<const WorkflowSpec> spec);
  std::shared_ptr<const WorkflowSpec> find_workflow(const std::string& name) const;
  void add_deferred_check(const std::string& name, std::function<void(const Json&)> check);
  void check_resolution(const std::string& deferred, const Json& value) const;

  // Durably creates (or finds) an execution and makes sure it runs; returns its id.
  std::string create(NewExecution execution);
  // Wakes an execution after a resolution, a cancellation or a resume.
  void poke(const std::string& id);
  std::optional<ExecutionRecord> wait_final(const std::string& id, std::optional<Duration> timeout);
  void wait_idle();
  EngineStats stats() const;

  JournalStore& store() { return *store_; }
  const std::shared_ptr<JournalStore>& store_ptr() const { return store_; }
  const std::shared_ptr<StreamHub>& stream_hub() const { return hub_; }
  const EngineOptions& options() const { return options_; }
  Clock& clock() { return *clock_; }
  // The time new events and stream entries are stamped with. Within a round it is read once per
  // phase (taking results, running workflow code), not once per event: reading a clock costs about
  // as much as a step's own work on some machines, times are journaled in milliseconds, and a
  // phase takes microseconds. A stamp is thus the start of its phase, never later than the event.
  TimePoint event_time() const { return round_time_ ? *round_time_ : clock_->now(); }
  const std::string& secret();
  void fault(const std::string& message);

  // Loop thread only: used by ExecutionCore.
  void make_ready(ExecutionCore* core);
  void arm(ExecutionCore& core, int op, TimePoint due, TimerKind kind, int generation = 0);
  void dispatch(ExecutionCore& core, int op, int attempt, const OpState& st);
  EngineStats& counters() { return stats_; }
  // Child workflows: the create rides in the next commit with the parent's kChildStarted event.
  void create_child(NewExecution child);
  // While a parent waits for a child, the child's end wakes it: at once when the child ends in
  // this engine, otherwise at the next store poll.
  void watch_child(const std::string& child_id, const std::string& parent_id);
  void unwatch_child(const std::string& child_id) noexcept;
  void cancel_child(const std::string& child_id) noexcept;
  // DurableQueue items ride in the next commit with their op's kQueueItemEnqueued event. An item
  // whose key was taken already wakes its waiter after the commit, to read the earlier item.
  void enqueue_item(NewQueueItem item);

 private:
  struct TimerItem {
    TimePoint due;
    std::string execution_id;
    int op;
    TimerKind kind;
    int generation;
    std::int64_t run;  // an item of an earlier run (continue-as-new) is ignored
    bool operator>(const TimerItem& o) const { return due > o.due; }
  };
  struct PendingCreate {
    NewExecution execution;
    std::optional<std::promise<void>> done;  // absent for a child, which nobody waits for
    bool looked_at = false;                  // start_new_executions has considered it
  };

  void post(std::function<void()> fn);
  // The index of the scheduler that owns `id` (this one's when there is only one).
  std::size_t shard_of(const std::string& id) const;
  void loop();
  void fire_due_timers();
  void poll_store();
  // EngineOptions::retention: deletes old finished executions when the next check is due.
  void prune_expired();
  // Runs each new execution's code in the round that creates it, so that its create and its
  // first events share one commit (one commit less per execution). Only for ids found neither
  // here nor in the store; the writes of such a run require the create (requires_create), so an
  // execution another writer created meanwhile is never written to from here.
  void start_new_executions();
  // Builds, registers and starts the core of a new execution (its run 1, nothing journaled).
  ExecutionCore& start_new(const NewExecution& execution, std::shared_ptr<const WorkflowSpec> spec);
  void run_ready();
  void commit();
  void restore_writes(CommitBatch& batch);
  void load(const std::string& id);
  // Loads the execution, or tells the loaded one to look at the store (cancel flag, deferreds,
  // children).
  void wake(const std::string& id);
  void recover();
  void park_unloadable(const ExecutionRecord& record, const std::string& type,
                       const std::string& message);
  // Wakes wait_final() callers waiting on `ids` (or all of them): a finish wakes only the
  // handles waiting on it, not every waiting thread.
  void notify_final(const std::vector<std::string>& ids);
  void notify_all_final();
  void flush_dispatches();
  // EngineOptions::max_cached_waiting: puts committed cores that now only wait on the list of
  // cached waiting executions, then unloads the longest-waiting beyond the limit.
  void note_waiting(const std::vector<ExecutionCore*>& cores);
  void unload_excess_waiting();
  // Worker side of an attempt: runs it and posts the job back with its outcome.
  void run_attempt(AttemptJob& job);
  // Loop thread: hands a finished attempt to its execution, if it is still loaded.
  void take_result(AttemptJob& job);

  std::shared_ptr<JournalStore> store_;
  EngineOptions options_;
  const std::vector<Scheduler*>* shards_ = nullptr;
  std::size_t shard_ = 0;
  std::atomic<std::uint64_t> posts_{0};
  Clock* clock_;
  std::optional<TimePoint> round_time_;  // set while a round's phase runs; see event_time()
  int clock_listener_ = 0;
  ActivityPool pool_;
  std::shared_ptr<StreamHub> hub_;
  std::shared_ptr<StoreActivityStream> activity_stream_;

  mutable std::mutex registry_mutex_;
  std::map<std::string, std::shared_ptr<const WorkflowSpec>> workflows_;
  std::map<std::string, std::function<void(const Json&)>> deferred_checks_;
  std::once_flag secret_once_;
  std::string secret_;

  // The inbox and the idle flag share one mutex so wait_idle() cannot miss posted work.
  mutable std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  std::condition_variable idle_cv_;
  std::vector<std::function<void()>> inbox_;
  std::vector<AttemptJob> results_;  // finished attempts, for take_result
  bool idle_ = false;
  bool stopping_ = false;
  bool running_ = false;
  std::size_t activities_in_flight_ = 0;
  std::thread thread_;

  struct FinalWaiter {
    std::condition_variable cv;
    bool woken = false;  // under final_mutex_
  };
  std::mutex final_mutex_;
  std::unordered_multimap<std::string, FinalWaiter*> final_waiters_;  // id -> waiting callers

  mutable std::mutex stats_mutex_;
  EngineStats published_;  // a snapshot of stats_, refreshed after each commit

  // Loop thread only.
  EngineStats stats_;
  std::unordered_map<std::string, std::unique_ptr<ExecutionCore>> executions_;
  std::deque<ExecutionCore*> ready_;
  // The round's batch, kept from round to round so that its writes' strings and vectors keep
  // their buffers (commit() fills the slots again; take_write resets every field).
  CommitBatch batch_;
  std::priority_queue<TimerItem, std::vector<TimerItem>, std::greater<>> timers_;
  std::vector<PendingCreate> creates_;
  std::vector<NewQueueItem> enqueues_;
  // Activity attempts dispatched this round: one hand-off to the pool per round, not per attempt
  // (a wake-up per attempt let woken workers preempt the scheduler mid-round on few cores).
  std::vector<AttemptJob> dispatched_;
  std::unordered_map<std::string, std::string> child_parents_;  // watched child -> parent
  // Cached waiting executions, oldest wait first, as (id, mark): an entry whose mark no longer
  // matches its core's (it woke, or waits again under a newer mark) is stale and skipped.
  std::deque<std::pair<std::string, std::uint64_t>> waiting_;
  std::size_t cached_waiting_ = 0;  // cores with a non-zero waiting mark
  std::uint64_t last_waiting_mark_ = 0;
  // Executions unloaded while waiting: a timer entry of theirs that fires loads them again.
  std::unordered_set<std::string> unloaded_;
  std::chrono::steady_clock::time_point last_poll_{};
  int commit_failures_ = 0;
  TimePoint next_prune_{};
};

}  // namespace durable::detail
