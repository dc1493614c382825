#include "engine/scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "engine/errors_json.hpp"
#include "engine/thread_name.hpp"

namespace durable::detail {
namespace {

constexpr std::size_t kRunnableBatch = 256;
constexpr std::chrono::milliseconds kMaxCommitBackoff{1000};

}  // namespace

Scheduler::Scheduler(std::shared_ptr<JournalStore> store, EngineOptions options,
                     std::shared_ptr<StreamHub> hub)
    : store_(std::move(store)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &SystemClock::instance()),
      pool_(options_.activity_threads, [this](AttemptJob& job) { run_attempt(job); }),
      hub_(hub ? std::move(hub) : std::make_shared<StreamHub>()),
      activity_stream_(std::make_shared<StoreActivityStream>(store_, hub_, *clock_)) {}

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::start() {
  {
    std::lock_guard lock(inbox_mutex_);
    if (running_) return;
    running_ = true;
    stopping_ = false;
    idle_ = false;
  }
  clock_listener_ = clock_->add_listener([this] { post([] {}); });
  pool_.start();
  thread_ = std::thread([this] {
    name_this_thread("durable-sched");
    loop();
  });
  post([this] { recover(); });
}

bool Scheduler::started() const {
  std::lock_guard lock(inbox_mutex_);
  return running_;
}

void Scheduler::stop() {
  {
    std::lock_guard lock(inbox_mutex_);
    if (!running_ || stopping_) return;
    stopping_ = true;
  }
  inbox_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  clock_->remove_listener(clock_listener_);
  // The loop has stopped: ask running attempts to give up, wait for the workers, then drop the
  // coroutine frames. Nothing uncommitted is flushed: to the journal this is a crash.
  for (auto& [id, core] : executions_) core->abandon_all();
  pool_.stop();
  executions_.clear();
  ready_.clear();
  timers_ = {};
  for (auto& c : creates_) {
    if (c.done) c.done->set_exception(std::make_exception_ptr(DurableError("the engine stopped")));
  }
  child_parents_.clear();
  waiting_.clear();
  cached_waiting_ = 0;
  unloaded_.clear();
  creates_.clear();
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.clear();
    results_.clear();
    running_ = false;
    idle_ = true;
  }
  idle_cv_.notify_all();
  notify_all_final();
}

void Scheduler::set_shards(const std::vector<Scheduler*>* all, std::size_t index) {
  shards_ = all;
  shard_ = index;
}

std::size_t Scheduler::shard_of(const std::string& id) const {
  if (!shards_ || shards_->size() <= 1) return shard_;
  return std::hash<std::string>{}(id) % shards_->size();
}

bool Scheduler::owns(const std::string& id) const {
  return shard_of(id) == shard_;
}

Scheduler& Scheduler::owner(const std::string& id) {
  std::size_t shard = shard_of(id);
  return shard == shard_ ? *this : *(*shards_)[shard];
}

void Scheduler::load_soon(const std::string& id) {
  post([this, id] { load(id); });
}

void Scheduler::post(std::function<void()> fn) {
  // Notifying under the lock: stop() takes this lock last, so an engine being destroyed on
  // another thread cannot tear down the condition variable while a poster still uses it.
  std::lock_guard lock(inbox_mutex_);
  inbox_.push_back(std::move(fn));
  // Counted once queued: a post that Engine::wait_idle's pass missed in the inbox moves the count.
  posts_.fetch_add(1);
  idle_ = false;
  inbox_cv_.notify_one();
}

void Scheduler::add_workflow(std::shared_ptr<const WorkflowSpec> spec) {
  std::lock_guard lock(registry_mutex_);
  workflows_[spec->name] = std::move(spec);
}

std::shared_ptr<const WorkflowSpec> Scheduler::find_workflow(const std::string& name) const {
  std::lock_guard lock(registry_mutex_);
  auto it = workflows_.find(name);
  return it == workflows_.end() ? nullptr : it->second;
}

void Scheduler::add_deferred_check(const std::string& name,
                                   std::function<void(const Json&)> check) {
  std::lock_guard lock(registry_mutex_);
  deferred_checks_[name] = std::move(check);
}

void Scheduler::check_resolution(const std::string& deferred, const Json& value) const {
  std::function<void(const Json&)> check;
  {
    std::lock_guard lock(registry_mutex_);
    auto it = deferred_checks_.find(deferred);
    if (it != deferred_checks_.end()) check = it->second;
  }
  if (check) check(value);
}

const std::string& Scheduler::secret() {
  std::call_once(secret_once_, [this] { secret_ = store_->token_secret(); });
  return secret_;
}

void Scheduler::fault(const std::string& message) {
  if (options_.on_fault) options_.on_fault(message);
}

std::string Scheduler::create(NewExecution execution) {
  std::string id = execution.id;
  auto done = std::make_shared<std::promise<void>>();
  auto result = done->get_future();
  post([this, execution = std::move(execution), done]() mutable {
    creates_.push_back(PendingCreate{std::move(execution), std::move(*done)});
  });
  try {
    result.get();
  } catch (const std::future_error&) {
    // The engine stopped and dropped the request before committing it.
    throw DurableError(
        fmt::format("execution {}: the engine stopped before the execution was "
                    "created; start it again (the same key finds it if it was)",
                    id));
  }
  return id;
}

void Scheduler::poke(const std::string& id) {
  post([this, id] { wake(id); });
}

void Scheduler::create_child(NewExecution child) {
  creates_.push_back(PendingCreate{std::move(child), std::nullopt});
}

void Scheduler::enqueue_item(NewQueueItem item) {
  enqueues_.push_back(std::move(item));
}

void Scheduler::watch_child(const std::string& child_id, const std::string& parent_id) {
  // Kept by the child's scheduler, which sees it end. (Registered there a moment later: a child
  // that ends first is found by that scheduler's store poll.)
  if (Scheduler& to = owner(child_id); &to != this) {
    to.post([child_id, parent_id, &to] { to.child_parents_[child_id] = parent_id; });
    return;
  }
  child_parents_[child_id] = parent_id;
}

void Scheduler::unwatch_child(const std::string& child_id) noexcept {
  if (Scheduler& to = owner(child_id); &to != this) {
    try {
      to.post([child_id, &to] { to.child_parents_.erase(child_id); });
    } catch (const std::exception& e) {
      fault(fmt::format("child execution {}: {}", child_id, e.what()));
    }
    return;
  }
  child_parents_.erase(child_id);
}

void Scheduler::cancel_child(const std::string& child_id) noexcept {
  try {
    if (store_->request_cancel(child_id) == CancelOutcome::kRequested) wake(child_id);
  } catch (const std::exception& e) {
    fault(fmt::format("cancelling child execution {}: {}", child_id, e.what()));
  }
}

void Scheduler::wake(const std::string& id) {
  if (Scheduler& to = owner(id); &to != this) {
    to.poke(id);
    return;
  }
  auto it = executions_.find(id);
  if (it == executions_.end()) {
    load(id);
    return;
  }
  std::optional<ExecutionRecord> record;
  try {
    record = store_->get_execution(id);
  } catch (const StoreError& e) {
    fault(fmt::format("execution {}: reading its record: {}", id, e.what()));
    return;
  }
  it->second->on_poke(record && record->cancel_requested);
  make_ready(it->second.get());
}

void Scheduler::make_ready(ExecutionCore* core) {
  if (core->waiting_mark() != 0) {
    core->set_waiting_mark(0);
    --cached_waiting_;
  }
  if (core->queued()) return;
  core->set_queued(true);
  ready_.push_back(core);
}

void Scheduler::arm(ExecutionCore& core, int op, TimePoint due, TimerKind kind, int generation) {
  timers_.push(TimerItem{due, core.id(), op, kind, generation, core.run()});
}

void Scheduler::dispatch(ExecutionCore& core, int op, int attempt, const OpState& st) {
  ++stats_.activity_attempts;
  if (st.spec->options.timeout.count() > 0) {
    arm(core, op, clock_->now() + st.spec->options.timeout, TimerKind::kAttemptTimeout, attempt);
  }
  // Handed to the pool at the end of the round (flush_dispatches), all at once.
  AttemptJob& job = dispatched_.emplace_back();
  job.run = core.run();
  job.op = op;
  job.attempt = attempt;
  // The names are shared with the attempt, not copied: the activity's through its spec.
  job.context.emplace(SharedNames{}, core.shared_id(),
                      std::shared_ptr<const std::string>(st.spec, &st.spec->name), op, attempt,
                      st.cancel_flag, activity_stream_, core.run());
  job.spec = st.spec;
  job.call = st.call;
}

void Scheduler::run_attempt(AttemptJob& job) {
  try {
    job.value = job.call(*job.spec, *job.context);
    job.ok = true;
  } catch (...) {
    CaughtError caught = describe_current_exception();
    job.value = std::move(caught.error);
    job.non_retryable = caught.non_retryable;
  }
  job.call = nullptr;  // released here, not on the scheduler thread
  job.spec.reset();
  {
    std::lock_guard lock(inbox_mutex_);
    --activities_in_flight_;
    results_.push_back(std::move(job));
    idle_ = false;
  }
  inbox_cv_.notify_one();
}

void Scheduler::take_result(AttemptJob& job) {
  auto it = executions_.find(job.context->execution_id());
  if (it == executions_.end() || it->second->run() != job.run) return;
  it->second->on_activity_result(job.op, job.attempt, job.ok, std::move(job.value),
                                 job.non_retryable);
  make_ready(it->second.get());
}

void Scheduler::flush_dispatches() {
  if (dispatched_.empty()) return;
  {
    std::lock_guard lock(inbox_mutex_);
    activities_in_flight_ += dispatched_.size();
  }
  pool_.submit_all(dispatched_);
  dispatched_.clear();
}

void Scheduler::loop() {
  // Swapped with the shared inbox each round, so both keep their capacity.
  std::vector<std::function<void()>> work;
  std::vector<AttemptJob> results;
  for (;;) {
    {
      std::lock_guard lock(inbox_mutex_);
      work.swap(inbox_);
      results.swap(results_);
    }
    round_time_ = clock_->now();
    for (auto& fn : work) fn();
    work.clear();
    for (auto& job : results) take_result(job);
    results.clear();
    fire_due_timers();
    poll_store();
    start_new_executions();
    round_time_ = clock_->now();
    run_ready();
    commit();
    flush_dispatches();
    round_time_.reset();

    std::unique_lock lock(inbox_mutex_);
    if (stopping_) return;
    if (commit_failures_ > 0) {
      // Back off before trying the store again; only stop() cuts the wait short.
      auto backoff = std::min(kMaxCommitBackoff,
                              std::chrono::milliseconds(10 << std::min(commit_failures_, 7)));
      inbox_cv_.wait_for(lock, backoff, [&] { return stopping_; });
      if (stopping_) return;
      continue;
    }
    if (!inbox_.empty() || !results_.empty() || !ready_.empty() || !creates_.empty()) continue;
    // A timer already due (one re-armed by loading an unloaded execution) is work, not idleness.
    if (!timers_.empty() && timers_.top().due <= clock_->now()) continue;
    if (activities_in_flight_ == 0) {
      idle_ = true;
      idle_cv_.notify_all();
    }
    auto wait = std::chrono::nanoseconds(options_.store_poll_interval);
    if (!timers_.empty()) wait = std::min(wait, clock_->real_wait_until(timers_.top().due));
    inbox_cv_.wait_for(lock, wait,
                       [&] { return stopping_ || !inbox_.empty() || !results_.empty(); });
    if (stopping_) return;
  }
}

void Scheduler::fire_due_timers() {
  TimePoint now = clock_->now();
  while (!timers_.empty() && timers_.top().due <= now) {
    TimerItem item = timers_.top();
    timers_.pop();
    auto it = executions_.find(item.execution_id);
    if (it == executions_.end()) {
      // Replay re-arms the timer (already due) and the next round fires it. Only a wait's timer
      // can concern an unloaded execution: an attempt's timeout or a retry left from an activity
      // that has ended would load it for nothing.
      bool wait_timer = item.kind == TimerKind::kSleep || item.kind == TimerKind::kDeferredDeadline;
      if (wait_timer && unloaded_.contains(item.execution_id)) load(item.execution_id);
      continue;
    }
    if (it->second->run() != item.run) continue;
    it->second->on_timer(item.op, item.kind, item.generation);
    make_ready(it->second.get());
  }
}

void Scheduler::poll_store() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_poll_ < options_.store_poll_interval) return;
  last_poll_ = now;
  std::vector<std::string> ids;
  try {
    ids = store_->take_runnable(kRunnableBatch);
  } catch (const StoreError& e) {
    fault(fmt::format("polling the store for wake-ups: {}", e.what()));
    return;
  }
  for (const auto& id : ids) wake(id);
  // Children running in another process end without a wake-up mark on their parent: look. (An
  // unloaded child is this engine's: it ends here, after a wake-up that loads it.)
  std::vector<std::string> parents;
  for (const auto& [child, parent] : child_parents_) {
    if (!executions_.contains(child) && !unloaded_.contains(child)) parents.push_back(parent);
  }
  for (const auto& parent : parents) wake(parent);
  if (options_.retention && shard_ == 0) prune_expired();  // one scheduler prunes for all
}

void Scheduler::prune_expired() {
  constexpr std::size_t kPruneBatch = 500;
  TimePoint now = clock_->now();
  if (now < next_prune_) return;
  next_prune_ = now + std::clamp<Duration>(*options_.retention / 24, std::chrono::seconds(1),
                                           std::chrono::hours(1));
  try {
    store_->delete_finished(now - *options_.retention, kPruneBatch);
  } catch (const StoreError& e) {
    fault(fmt::format("deleting executions past their retention: {}", e.what()));
  }
}

void Scheduler::start_new_executions() {
  if (commit_failures_ > 0) return;
  for (PendingCreate& c : creates_) {
    if (c.looked_at) continue;
    c.looked_at = true;
    const std::string& id = c.execution.id;
    if (!owns(id) || executions_.contains(id)) continue;  // a child of another scheduler's
    auto spec = find_workflow(c.execution.workflow);
    if (!spec) continue;
    try {
      if (store_->get_execution(id)) continue;  // created before: loaded once the create commits
    } catch (const StoreError&) {
      continue;  // the commit will say what is wrong with the store
    }
    start_new(c.execution, std::move(spec)).set_awaiting_create();
  }
}

ExecutionCore& Scheduler::start_new(const NewExecution& execution,
                                    std::shared_ptr<const WorkflowSpec> spec) {
  auto core = std::make_unique<ExecutionCore>(*this, execution.id, std::move(spec),
                                              Json::parse(execution.input), 1);
  ExecutionCore& started = *core;
  executions_[execution.id] = std::move(core);
  started.start();
  return started;
}

void Scheduler::run_ready() {
  // Workflow code only runs while nothing is waiting to be committed after a failed commit, so a
  // failing store cannot make pending journal output grow without bound.
  if (commit_failures_ > 0) return;
  for (std::size_t i = 0; i < ready_.size(); ++i) {
    ExecutionCore* core = ready_[i];
    if (!core->finished()) core->run_ready();
  }
}

void Scheduler::commit() {
  if (ready_.empty() && creates_.empty()) return;
  CommitBatch& batch = batch_;
  batch.creates.resize(creates_.size());
  for (std::size_t i = 0; i < creates_.size(); ++i) batch.creates[i] = creates_[i].execution;
  batch.enqueues = enqueues_;
  std::vector<ExecutionCore*> cores(ready_.begin(), ready_.end());
  batch.writes.resize(cores.size());
  for (std::size_t i = 0; i < cores.size(); ++i) cores[i]->take_write(batch.writes[i]);
  // A write that requires its create is never dropped: the store then vouches, in this commit,
  // that the execution run early is the one created.
  std::erase_if(batch.writes, [](const ExecutionWrite& w) {
    return w.events.empty() && !w.status && w.set_timers.empty() && w.clear_timers.empty() &&
           w.stream.empty() && !w.continue_as_new && !w.requires_create;
  });

  // Counted before the commit, which may take the events' texts (commit_consuming).
  std::uint64_t events = 0;
  bool any_stream = !batch.creates.empty();
  for (const auto& w : batch.writes) {
    events += w.events.size();
    any_stream = any_stream || !w.stream.empty();
  }
  CommitResult result;
  if (!batch.empty()) {
    try {
      result = store_->commit_consuming(batch);
      commit_failures_ = 0;
      round_time_ = clock_->now();  // a commit may take milliseconds (fsync)
    } catch (const StaleWriteError& e) {
      // Another writer got there first: drop our view of that execution and load it again.
      fault(e.what());
      auto it = executions_.find(e.execution_id());
      if (it != executions_.end()) {
        // Out of `cores` too before the core is destroyed: the others are looked at below.
        std::erase(ready_, it->second.get());
        std::erase(cores, it->second.get());
        executions_.erase(it);
      }
      std::string id = e.execution_id();
      post([this, id] { load(id); });
      for (auto* core : cores) core->set_queued(true);  // still on ready_, to commit again
      restore_writes(batch);
      return;
    } catch (const std::exception& e) {
      ++commit_failures_;
      ++stats_.store_faults;
      fault(fmt::format("journal commit failed (attempt {}), will retry: {}", commit_failures_,
                        e.what()));
      restore_writes(batch);
      return;
    }
  }

  if (!batch.empty()) ++stats_.commits;  // store commits, not rounds with nothing to write
  stats_.events_committed += events;
  if (any_stream) hub_->notify();
  ready_.clear();
  for (ExecutionCore* core : cores) {
    core->set_queued(false);
    core->on_committed();
  }
  // Every core run early had its create done: its write required it. The others (children, and
  // starts that arrived while the round ran) start now, or load what another writer created.
  for (std::size_t i = 0; i < creates_.size(); ++i) {
    PendingCreate& c = creates_[i];
    if (!executions_.contains(c.execution.id)) {
      // load() hands a child another scheduler owns to that one.
      if (owns(c.execution.id) && result.created.size() > i && result.created[i]) {
        start_new(c.execution, find_workflow(c.execution.workflow));
      } else {
        load(c.execution.id);
      }
    }
    if (c.done) c.done->set_value();
  }
  creates_.clear();
  for (std::size_t i = 0; i < enqueues_.size() && i < result.enqueued.size(); ++i) {
    if (result.enqueued[i] != EnqueueOutcome::kAlreadyEnqueued) continue;
    post([this, id = enqueues_[i].waiter_execution_id] { wake(id); });
  }
  enqueues_.clear();
  note_waiting(cores);
  std::vector<std::string> parents_to_wake;
  std::vector<std::string> continued;  // ended by continue-as-new: load their next run
  std::vector<std::string> finished_ids;
  for (ExecutionCore* core : cores) {
    if (core->finished()) {
      finished_ids.push_back(core->id());
      auto parent = child_parents_.find(core->id());
      if (parent != child_parents_.end()) parents_to_wake.push_back(parent->second);
      if (core->continued_as_new()) continued.push_back(core->id());
      executions_.erase(core->id());
    }
  }
  for (const auto& id : continued) load(id);
  for (const auto& parent : parents_to_wake) wake(parent);
  unload_excess_waiting();
  {
    std::lock_guard lock(stats_mutex_);
    published_ = stats_;
  }
  if (!finished_ids.empty()) notify_final(finished_ids);
}

void Scheduler::note_waiting(const std::vector<ExecutionCore*>& cores) {
  TimePoint now = clock_->now();
  for (ExecutionCore* core : cores) {
    if (core->waiting_mark() != 0 || !core->unloadable(now)) continue;
    core->set_waiting_mark(++last_waiting_mark_);
    core->release_spare_buffers();
    waiting_.emplace_back(core->id(), last_waiting_mark_);
    ++cached_waiting_;
  }
}

void Scheduler::unload_excess_waiting() {
  TimePoint now = clock_->now();
  while (cached_waiting_ > options_.max_cached_waiting && !waiting_.empty()) {
    auto [id, mark] = std::move(waiting_.front());
    waiting_.pop_front();
    auto it = executions_.find(id);
    if (it == executions_.end() || it->second->waiting_mark() != mark) continue;
    it->second->set_waiting_mark(0);
    --cached_waiting_;
    if (!it->second->unloadable(now)) continue;
    executions_.erase(it);
    unloaded_.insert(std::move(id));
    ++stats_.executions_unloaded;
  }
  // Executions that wake and wait again leave stale entries behind; drop them before they
  // outnumber the live ones.
  if (waiting_.size() > 2 * cached_waiting_ + 1024) {
    std::erase_if(waiting_, [this](const auto& entry) {
      auto it = executions_.find(entry.first);
      return it == executions_.end() || it->second->waiting_mark() != entry.second;
    });
  }
}

void Scheduler::restore_writes(CommitBatch& batch) {
  // The cores handed their pending output to the failed batch; give it back in order.
  for (auto& w : batch.writes) {
    auto it = executions_.find(w.execution_id);
    if (it != executions_.end()) it->second->restore(std::move(w));
  }
}

void Scheduler::load(const std::string& id) {
  if (Scheduler& to = owner(id); &to != this) {
    to.load_soon(id);
    return;
  }
  unloaded_.erase(id);
  if (executions_.contains(id)) return;
  std::optional<ExecutionRecord> record;
  try {
    record = store_->get_execution(id);
  } catch (const StoreError& e) {
    fault(fmt::format("execution {}: cannot read it: {}", id, e.what()));
    return;
  }
  if (!record || is_final(record->status) || record->status == ExecutionStatus::kNeedsAttention) {
    return;
  }
  auto spec = find_workflow(record->workflow);
  if (!spec) {
    park_unloadable(*record, "durable::UnknownWorkflow",
                    fmt::format("execution {}: no workflow named '{}' is registered with this "
                                "engine; register it and resume the execution",
                                id, record->workflow));
    return;
  }
  try {
    auto events = store_->load_events(id, 0);
    auto core = std::make_unique<ExecutionCore>(*this, id, spec, Json::parse(record->input),
                                                record->next_index);
    core->load(events, record->cancel_requested);
    core->set_stored_status(record->status, record->waiting_on);
    ExecutionCore* raw = core.get();
    executions_[id] = std::move(core);
    ++stats_.executions_loaded;
    raw->start();
  } catch (const StoreError& e) {
    if (e.retryable()) {
      fault(fmt::format("execution {}: loading its journal failed, will retry: {}", id, e.what()));
      post([this, id] { load(id); });
      return;
    }
    park_unloadable(*record, "durable::CorruptJournal", e.what());
  } catch (const std::exception& e) {
    park_unloadable(*record, "durable::CorruptJournal", e.what());
  }
}

void Scheduler::park_unloadable(const ExecutionRecord& record, const std::string& type,
                                const std::string& message) {
  fault(message);
  ExecutionWrite w;
  w.execution_id = record.id;
  w.expected_next_index = record.next_index;
  w.status = ExecutionStatus::kNeedsAttention;
  w.error = Json{{"type", type}, {"message", message}}.dump();
  w.stream.push_back(
      status_stream_entry(*w.status, {}, w.error, record.next_index, record.run, clock_->now()));
  try {
    CommitBatch batch;
    batch.writes.push_back(std::move(w));
    store_->commit(batch);
  } catch (const std::exception& e) {
    fault(fmt::format("execution {}: could not record that it needs attention: {}", record.id,
                      e.what()));
  }
  hub_->notify();
  notify_final({record.id});
}

void Scheduler::recover() {
  ListQuery query;
  query.statuses = {ExecutionStatus::kRunning, ExecutionStatus::kWaiting};
  query.limit = 500;
  for (;;) {
    ListPage page;
    try {
      page = store_->list_executions(query);
    } catch (const StoreError& e) {
      fault(fmt::format("recovering unfinished executions failed, will retry: {}", e.what()));
      post([this] { recover(); });
      return;
    }
    for (const auto& record : page.executions) {
      if (owns(record.id)) load(record.id);  // the others are their owners' to recover
    }
    if (page.next_page_token.empty()) break;
    query.page_token = page.next_page_token;
  }
}

std::optional<ExecutionRecord> Scheduler::wait_final(const std::string& id,
                                                     std::optional<Duration> timeout) {
  auto deadline = std::chrono::steady_clock::now() +
                  (timeout ? std::chrono::nanoseconds(*timeout) : std::chrono::hours(24 * 365));
  // Registered before the store is read, so that a finish committed after the read wakes us.
  FinalWaiter me;
  {
    std::lock_guard lock(final_mutex_);
    final_waiters_.emplace(id, &me);
  }
  struct Unregister {
    Scheduler* scheduler;
    const std::string& id;
    FinalWaiter* waiter;
    ~Unregister() {
      std::lock_guard lock(scheduler->final_mutex_);
      auto [first, last] = scheduler->final_waiters_.equal_range(id);
      for (auto it = first; it != last; ++it) {
        if (it->second == waiter) {
          scheduler->final_waiters_.erase(it);
          break;
        }
      }
    }
  } unregister{this, id, &me};
  for (;;) {
    auto record = store_->get_execution(id);
    if (!record) throw NoSuchExecution("no execution with id " + id);
    if (is_final(record->status) || record->status == ExecutionStatus::kNeedsAttention) {
      return record;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    // Finishing in this engine notifies; another process's finish is seen by polling.
    std::unique_lock lock(final_mutex_);
    me.cv.wait_until(lock, std::min(deadline, now + options_.store_poll_interval),
                     [&] { return me.woken; });
    me.woken = false;
  }
}

void Scheduler::notify_final(const std::vector<std::string>& ids) {
  std::lock_guard lock(final_mutex_);
  for (const auto& id : ids) {
    auto [first, last] = final_waiters_.equal_range(id);
    for (auto it = first; it != last; ++it) {
      it->second->woken = true;
      it->second->cv.notify_one();
    }
  }
}

void Scheduler::notify_all_final() {
  std::lock_guard lock(final_mutex_);
  for (auto& [id, waiter] : final_waiters_) {
    waiter->woken = true;
    waiter->cv.notify_one();
  }
}

void Scheduler::wait_idle() {
  std::unique_lock lock(inbox_mutex_);
  idle_cv_.wait(lock, [&] { return !running_ || (idle_ && inbox_.empty() && results_.empty()); });
}

EngineStats Scheduler::stats() const {
  std::lock_guard lock(stats_mutex_);
  return published_;
}

}  // namespace durable::detail
