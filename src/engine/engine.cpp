// Engine: the public face of the scheduler. Validation of outside input (workflow names,
// payloads, tokens, resolutions) happens here, before anything is written.
#include "durable/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "engine/ids.hpp"
#include "engine/scheduler.hpp"
#include "engine/subscription.hpp"
#include "engine/token.hpp"
#include "queue/queue_worker.hpp"

namespace durable {
namespace {

// "approval@run3" -> ("approval", 3); a name without a run suffix is run 1's.
std::pair<std::string, std::int64_t> split_run(const std::string& key) {
  auto at = key.rfind("@run");
  if (at != std::string::npos && at + 4 < key.size() &&
      key.find_first_not_of("0123456789", at + 4) == std::string::npos && key[at + 4] != '0') {
    try {
      return {key.substr(0, at), std::stoll(key.substr(at + 4))};
    } catch (const std::exception&) {
    }
  }
  return {key, 1};
}

}  // namespace

// The engine's schedulers (EngineOptions::scheduler_threads), each owning the executions whose
// id hashes to it, and the queue workers. Calls about one execution go to its owner; the rest
// (store, clock, registry) are the same through any of them.
class Engine::Impl {
 public:
  Impl(std::shared_ptr<JournalStore> store, EngineOptions options) {
    std::size_t n = std::max<std::size_t>(options.scheduler_threads, 1);
    options.activity_threads = std::max<std::size_t>(1, (options.activity_threads + n - 1) / n);
    options.max_cached_waiting = (options.max_cached_waiting + n - 1) / n;
    auto hub = std::make_shared<detail::StreamHub>();
    for (std::size_t i = 0; i < n; ++i) {
      shards_.push_back(std::make_unique<detail::Scheduler>(store, options, hub));
      all_.push_back(shards_.back().get());
    }
    for (std::size_t i = 0; i < n; ++i) shards_[i]->set_shards(&all_, i);
  }
  ~Impl() {
    stop_workers();
    stop();
  }

  detail::Scheduler& any() { return *shards_.front(); }
  const detail::Scheduler& any() const { return *shards_.front(); }
  detail::Scheduler& owner(const std::string& id) { return any().owner(id); }
  // The schedulers share one store and one clock.
  JournalStore& store() { return any().store(); }
  Clock& clock() { return any().clock(); }

  void start() {
    for (auto& s : shards_) s->start();
  }
  // Every loop ends before any scheduler drops its executions (they post to each other).
  void stop() {
    for (auto& s : shards_) s->stop();
  }
  bool started() const { return any().started(); }
  void add_workflow(const std::shared_ptr<const detail::WorkflowSpec>& spec) {
    for (auto& s : shards_) s->add_workflow(spec);
  }
  void add_deferred_check(const std::string& name, const std::function<void(const Json&)>& check) {
    for (auto& s : shards_) s->add_deferred_check(name, check);
  }
  std::string create(NewExecution execution) {
    detail::Scheduler& to = owner(execution.id);
    return to.create(std::move(execution));
  }
  void poke(const std::string& id) { owner(id).poke(id); }
  // Idle once a whole pass finds every scheduler idle with nothing posted between them.
  void wait_idle() {
    for (;;) {
      std::uint64_t before = posts();
      for (auto& s : shards_) s->wait_idle();
      if (posts() == before) return;
    }
  }
  // Every EngineStats field, summed (each counts what its scheduler did).
  EngineStats stats() const {
    EngineStats sum;
    for (const auto& s : shards_) {
      EngineStats one = s->stats();
      sum.executions_loaded += one.executions_loaded;
      sum.executions_unloaded += one.executions_unloaded;
      sum.ops_replayed += one.ops_replayed;
      sum.commits += one.commits;
      sum.events_committed += one.events_committed;
      sum.activity_attempts += one.activity_attempts;
      sum.store_faults += one.store_faults;
    }
    return sum;
  }

  void start_workers() {
    std::lock_guard lock(workers_mutex);
    for (auto& worker : workers) worker->start();
  }
  void stop_workers() {
    std::lock_guard lock(workers_mutex);
    for (auto& worker : workers) worker->stop();
  }

  std::mutex workers_mutex;
  std::vector<std::unique_ptr<detail::QueueWorker>> workers;

 private:
  std::uint64_t posts() const {
    std::uint64_t n = 0;
    for (const auto& s : shards_) n += s->posts();
    return n;
  }

  std::vector<std::unique_ptr<detail::Scheduler>> shards_;
  std::vector<detail::Scheduler*> all_;
};

Engine::Engine(std::shared_ptr<JournalStore> store, EngineOptions options)
    : impl_(std::make_unique<Impl>(std::move(store), std::move(options))) {}

Engine::~Engine() = default;

void Engine::add_workflow(std::shared_ptr<const detail::WorkflowSpec> spec) {
  impl_->add_workflow(std::move(spec));
}

void Engine::add_deferred_check(const std::string& name, std::function<void(const Json&)> check) {
  impl_->add_deferred_check(name, std::move(check));
}

void Engine::start() {
  impl_->start();
  impl_->start_workers();
}
void Engine::stop() {
  impl_->stop_workers();
  impl_->stop();
}

void Engine::add_queue_worker(std::string queue, detail::QueueHandler handler,
                              WorkerOptions options) {
  detail::QueueWorker::Hooks hooks;
  Impl* impl = impl_.get();
  hooks.on_ended = [impl](const std::string& execution_id) {
    if (impl->started()) impl->poke(execution_id);
  };
  hooks.on_fault = [impl](const std::string& message) { impl->any().fault(message); };
  auto worker = std::make_unique<detail::QueueWorker>(impl->store(), impl->clock(),
                                                      std::move(queue), std::move(handler),
                                                      std::move(options), std::move(hooks));
  std::lock_guard lock(impl->workers_mutex);
  worker->start();
  impl->workers.push_back(std::move(worker));
}

EnqueueOutcome Engine::offer_item(std::string queue, std::string key, const Json& payload) {
  NewQueueItem item;
  item.queue = std::move(queue);
  item.key = std::move(key);
  item.payload = payload.dump();
  item.enqueued_at = impl_->clock().now();
  return impl_->store().enqueue(item);
}

std::optional<QueueItem> Engine::queue_item(const std::string& queue, const std::string& key) {
  return impl_->store().get_item(queue, key);
}

std::string Engine::start_execution(std::string_view workflow, const Json& input,
                                    std::optional<std::string> idempotency_key) {
  auto spec = impl_->any().find_workflow(std::string(workflow));
  if (!spec) {
    throw UnknownWorkflow(
        fmt::format("no workflow named '{}' is registered with this engine", workflow));
  }
  spec->check_input(input);
  NewExecution execution;
  execution.workflow = spec->name;
  execution.created_at = impl_->clock().now();
  execution.id = idempotency_key
                     ? detail::execution_id_for(spec->name, *idempotency_key)
                     : detail::random_execution_id(
                           spec->name, std::chrono::duration_cast<std::chrono::milliseconds>(
                                           execution.created_at.time_since_epoch())
                                           .count());
  execution.input = input.dump();
  execution.input_is_serialized_json = true;
  if (!impl_->started()) start();
  return impl_->create(std::move(execution));
}

std::optional<ExecutionRecord> Engine::wait(const std::string& id,
                                            std::optional<Duration> timeout) {
  return impl_->owner(id).wait_final(id, timeout);
}

std::optional<ExecutionRecord> Engine::describe(const std::string& id) {
  return impl_->store().get_execution(id);
}

std::vector<Event> Engine::history(const std::string& id) {
  if (!impl_->store().get_execution(id)) throw NoSuchExecution("no execution with id " + id);
  return impl_->store().load_events(id, 0);
}

std::vector<HistoryEntry> Engine::timeline(const std::string& id) {
  std::vector<HistoryEntry> entries;
  for (Event& e : history(id)) {
    HistoryEntry entry;
    entry.index = e.index;
    entry.type = e.type;
    entry.type_name = to_string(e.type);
    entry.op = e.op;
    entry.name = std::move(e.name);
    // The store validated the data as JSON when it was written.
    entry.data = e.data.empty() ? Json(nullptr) : Json::parse(e.data, nullptr, false);
    entry.time = e.time;
    entries.push_back(std::move(entry));
  }
  return entries;
}

ListPage Engine::list(const ListQuery& query) {
  return impl_->store().list_executions(query);
}

std::string Engine::restart(const std::string& id, std::int32_t from_step, RestartOptions options) {
  auto record = impl_->store().get_execution(id);
  if (!record) throw NoSuchExecution("no execution with id " + id);
  ForkRequest request;
  request.source_id = id;
  request.created_at = impl_->clock().now();
  request.new_id =
      options.id ? *options.id
                 : detail::random_execution_id(
                       record->workflow, std::chrono::duration_cast<std::chrono::milliseconds>(
                                             request.created_at.time_since_epoch())
                                             .count());
  request.from_step = from_step;
  ForkResult result = impl_->store().fork_execution(request);
  switch (result.outcome) {
    case ForkOutcome::kForked:
      break;
    case ForkOutcome::kNoSuchSource:
      throw NoSuchExecution("no execution with id " + id);
    case ForkOutcome::kSourceUnfinished:
      throw DurableError(fmt::format(
          "execution {} has not stopped (it is {}); only a completed, failed, cancelled or "
          "parked execution can be restarted (cancel it first)",
          id, to_string(record->status)));
    case ForkOutcome::kStepOutOfRange:
      throw DurableError(fmt::format(
          "execution {}: step {} is out of range: it journaled {} operation(s), so a restart "
          "starts from a step between 0 and {}",
          id, from_step, result.step_count, result.step_count));
    case ForkOutcome::kIdTaken:
      throw DurableError(
          fmt::format("cannot restart execution {} as {}: an execution with that id exists", id,
                      request.new_id));
  }
  if (impl_->started()) impl_->poke(request.new_id);
  return request.new_id;
}

std::size_t Engine::prune(Duration older_than, std::size_t limit) {
  TimePoint before = impl_->clock().now() - older_than;
  constexpr std::size_t kBatch = 500;  // one transaction each, so writers are not held up long
  std::size_t deleted = 0;
  while (deleted < limit) {
    std::size_t batch = std::min(kBatch, limit - deleted);
    std::size_t n = impl_->store().delete_finished(before, batch);
    deleted += n;
    if (n < batch) break;
  }
  return deleted;
}

CancelOutcome Engine::cancel(const std::string& id) {
  CancelOutcome outcome = impl_->store().request_cancel(id);
  if (outcome == CancelOutcome::kRequested && impl_->started()) impl_->poke(id);
  return outcome;
}

StreamSubscription Engine::subscribe(const std::string& id, std::int64_t from_offset) {
  if (!impl_->store().get_execution(id)) throw NoSuchExecution("no execution with id " + id);
  auto state = std::make_shared<detail::SubscriptionState>();
  state->store = impl_->any().store_ptr();
  state->hub = impl_->any().stream_hub();
  state->id = id;
  state->poll_interval = impl_->any().options().store_poll_interval;
  state->next_offset = std::max<std::int64_t>(from_offset, 0);
  state->delivered = state->next_offset;
  return StreamSubscription(std::move(state));
}

void Engine::resume(const std::string& id) {
  auto record = impl_->store().get_execution(id);
  if (!record) throw NoSuchExecution("no execution with id " + id);
  if (record->status != ExecutionStatus::kNeedsAttention) {
    throw DurableError(
        fmt::format("execution {} is {}; only an execution that needs attention "
                    "can be resumed",
                    id, to_string(record->status)));
  }
  ExecutionWrite write;
  write.execution_id = id;
  write.expected_next_index = record->next_index;
  write.status = ExecutionStatus::kRunning;
  write.stream.push_back(detail::status_stream_entry(*write.status, {}, {}, record->next_index,
                                                     record->run, impl_->clock().now()));
  CommitBatch batch;
  batch.writes.push_back(std::move(write));
  impl_->store().commit(batch);
  impl_->any().stream_hub()->notify();
  impl_->store().mark_runnable(id);
  if (impl_->started()) impl_->poke(id);
}

ResolveOutcome Engine::resolve(std::string_view token, const Json& value) {
  return resolve_checked(std::nullopt, token, value);
}

ResolveOutcome Engine::resolve_checked(std::optional<std::string> expected_deferred,
                                       std::string_view token, const Json& value) {
  detail::TokenClaims claims = detail::decode_token(token, impl_->any().secret());
  // From run 2 of a workflow that continued as new, the deferred is keyed "<name>@run<N>".
  auto [deferred, run] = split_run(claims.deferred);
  if (expected_deferred && *expected_deferred != deferred) {
    throw InvalidToken(
        fmt::format("the token is for deferred '{}', not '{}'", deferred, *expected_deferred));
  }
  if (auto record = impl_->store().get_execution(claims.execution_id);
      record && record->run != run) {
    return ResolveOutcome::kExecutionFinished;  // the run the token was issued in has ended
  }
  try {
    impl_->any().check_resolution(deferred, value);
  } catch (const DecodeError& e) {
    throw DecodeError(fmt::format("execution {}: {}", claims.execution_id, e.what()));
  }
  ResolveOutcome outcome = impl_->store().resolve_deferred(claims.execution_id, claims.deferred,
                                                           value.dump(), impl_->clock().now());
  if (outcome == ResolveOutcome::kResolved && impl_->started()) impl_->poke(claims.execution_id);
  return outcome;
}

void Engine::wait_idle() {
  impl_->wait_idle();
}
EngineStats Engine::stats() const {
  return impl_->stats();
}
JournalStore& Engine::store() {
  return impl_->store();
}
Clock& Engine::clock() {
  return impl_->clock();
}

namespace detail {

void throw_final_error(const ExecutionRecord& record) {
  Json error = Json::object();
  try {
    if (!record.error.empty()) error = Json::parse(record.error);
  } catch (const Json::exception&) {
    error = {{"type", "unknown"}, {"message", record.error}};
  }
  std::string type = error.value("type", "unknown");
  std::string message = error.value("message", "");
  switch (record.status) {
    case ExecutionStatus::kCancelled:
      throw Cancelled(fmt::format("execution {} was cancelled", record.id));
    case ExecutionStatus::kNeedsAttention:
      throw ExecutionParked(
          fmt::format("execution {} needs attention: {}: {}", record.id, type, message));
    case ExecutionStatus::kFailed:
      throw WorkflowFailed(type, message);
    default:
      throw DurableError(fmt::format("execution {} has not finished (it is {})", record.id,
                                     to_string(record.status)));
  }
}

}  // namespace detail
}  // namespace durable
