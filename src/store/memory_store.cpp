// MemoryStore: the JournalStore contract over plain containers guarded by one mutex. Every mutating
// method validates everything it will do before it changes anything, so a throw has no effect
// (there is no rollback to fall back on).
#include "durable/memory_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "durable/errors.hpp"
#include "store/store_common.hpp"

namespace durable {
namespace {

struct Execution {
  ExecutionRecord record;
  std::vector<Event> events;
  bool runnable = false;
  // Scratch of MemoryStore::commit's validation: the next index the batch numbered
  // `batch_serial` would leave, valid only while that batch is being checked.
  std::uint64_t batch_serial = 0;
  std::int64_t batch_next = 0;
  std::vector<StreamEntry> stream;
  std::unordered_map<std::string, std::int64_t> stream_keys;  // key -> offset

  // append_stream's rule for one entry, finished or not.
  std::int64_t append(const NewStreamEntry& entry) {
    if (!entry.key.empty()) {
      if (auto it = stream_keys.find(entry.key); it != stream_keys.end()) return it->second;
    }
    auto offset = static_cast<std::int64_t>(stream.size());
    stream.push_back(StreamEntry{.offset = offset,
                                 .kind = entry.kind,
                                 .data = entry.data,
                                 .time = entry.time,
                                 .key = entry.key});
    if (!entry.key.empty()) stream_keys.emplace(entry.key, offset);
    return offset;
  }
};

using TimerKey = std::pair<std::string, std::int32_t>;                // (execution, op)
using TimerOrder = std::tuple<TimePoint, std::string, std::int32_t>;  // (due, execution, op)
using DeferredKey = std::pair<std::string, std::string>;              // (execution, name)
using ItemKey = std::pair<std::string, std::string>;                  // (queue, key)
// Leasing order: (queue, when it became leasable, enqueue sequence, key).
using ItemOrder = std::tuple<std::string, TimePoint, std::uint64_t, std::string>;

struct StoredItem {
  QueueItem item;
  std::uint64_t seq = 0;  // enqueue order, the tie-breaker of the leasing order
};

}  // namespace

struct MemoryStore::State {
  std::mutex mutex;
  std::unordered_map<std::string, Execution> executions;
  // Listing order (created_at, id), so paging is a range scan.
  std::set<std::pair<TimePoint, std::string>> by_created;
  std::map<TimerKey, TimePoint> timers;
  std::set<TimerOrder> timers_by_due;
  std::map<DeferredKey, DeferredRecord> deferreds;
  // Executions marked runnable, oldest mark first; Execution::runnable says whether a mark is live.
  std::deque<std::string> runnable;
  std::optional<std::string> token_secret;
  std::map<ItemKey, StoredItem> items;
  // The leasable candidates: kReady items by ready_at, kLeased items by lease_until. Final items
  // are in neither.
  std::set<ItemOrder> ready_items;
  std::set<ItemOrder> leased_items;
  std::uint64_t next_item_seq = 1;
  std::map<std::string, store::PermitState> rate_limits;
  std::uint64_t commit_serial = 0;  // numbers commit() calls, for Execution::batch_serial

  Execution* find(const std::string& id) {
    auto it = executions.find(id);
    return it == executions.end() ? nullptr : &it->second;
  }

  void mark_runnable(Execution& execution) {
    if (execution.runnable) return;
    execution.runnable = true;
    runnable.push_back(execution.record.id);
  }

  void set_timer(const TimerEntry& timer) {
    TimerKey key{timer.execution_id, timer.op};
    auto [it, inserted] = timers.try_emplace(key, timer.due);
    if (!inserted) {
      timers_by_due.erase({it->second, timer.execution_id, timer.op});
      it->second = timer.due;
    }
    timers_by_due.insert({timer.due, timer.execution_id, timer.op});
  }

  void clear_timer(const std::string& execution_id, std::int32_t op) {
    auto it = timers.find({execution_id, op});
    if (it == timers.end()) return;
    timers_by_due.erase({it->second, execution_id, op});
    timers.erase(it);
  }

  // resolve_deferred's rules, shared with queue-item completion.
  ResolveOutcome resolve(const std::string& execution_id, const std::string& name,
                         const std::string& value, TimePoint now) {
    Execution* execution = find(execution_id);
    if (!execution) return ResolveOutcome::kNoSuchExecution;
    if (is_final(execution->record.status)) return ResolveOutcome::kExecutionFinished;
    auto [it, inserted] = deferreds.try_emplace(DeferredKey{execution_id, name},
                                                DeferredRecord{.execution_id = execution_id,
                                                               .name = name,
                                                               .state = DeferredState::kResolved,
                                                               .value = value,
                                                               .at = now});
    if (!inserted) {
      return it->second.state == DeferredState::kTimedOut ? ResolveOutcome::kTimedOut
                                                          : ResolveOutcome::kAlreadyResolved;
    }
    mark_runnable(*execution);
    return ResolveOutcome::kResolved;
  }

  StoredItem* find_item(const std::string& queue, const std::string& key) {
    auto it = items.find({queue, key});
    return it == items.end() ? nullptr : &it->second;
  }

  // The item if `owner` owns it (JournalStore's ownership rule), else null.
  StoredItem* owned_item(const std::string& queue, const std::string& key,
                         const std::string& owner) {
    StoredItem* stored = find_item(queue, key);
    if (!stored || stored->item.state != QueueItemState::kLeased ||
        stored->item.lease_owner != owner) {
      return nullptr;
    }
    return stored;
  }

  // Every state change of an item goes unindex, change, index, so the leasing sets stay exact.
  void unindex(const StoredItem& stored) {
    const QueueItem& item = stored.item;
    if (item.state == QueueItemState::kReady) {
      ready_items.erase({item.queue, item.ready_at, stored.seq, item.key});
    } else if (item.state == QueueItemState::kLeased) {
      leased_items.erase({item.queue, item.lease_until, stored.seq, item.key});
    }
  }
  void index(const StoredItem& stored) {
    const QueueItem& item = stored.item;
    if (item.state == QueueItemState::kReady) {
      ready_items.insert({item.queue, item.ready_at, stored.seq, item.key});
    } else if (item.state == QueueItemState::kLeased) {
      leased_items.insert({item.queue, item.lease_until, stored.seq, item.key});
    }
  }

  // The caller has validated `spec` (and that its waiter exists).
  EnqueueOutcome enqueue(const NewQueueItem& spec) {
    auto [it, inserted] = items.try_emplace(ItemKey{spec.queue, spec.key});
    if (!inserted) return EnqueueOutcome::kAlreadyEnqueued;
    StoredItem& stored = it->second;
    stored.seq = next_item_seq++;
    stored.item = QueueItem{.queue = spec.queue,
                            .key = spec.key,
                            .payload = spec.payload,
                            .state = QueueItemState::kReady,
                            .attempts = 0,
                            .ready_at = spec.enqueued_at,
                            .lease_owner = {},
                            .lease_until = {},
                            .result = {},
                            .error = {},
                            .waiter_execution_id = spec.waiter_execution_id,
                            .waiter_deferred = spec.waiter_deferred,
                            .enqueued_at = spec.enqueued_at,
                            .updated_at = spec.enqueued_at};
    index(stored);
    return EnqueueOutcome::kEnqueued;
  }

  void create(const NewExecution& spec, std::string started_data) {
    Execution execution;
    execution.record.id = spec.id;
    execution.record.workflow = spec.workflow;
    execution.record.input = spec.input;
    execution.record.status = ExecutionStatus::kRunning;
    execution.record.next_index = 1;
    execution.record.created_at = spec.created_at;
    execution.record.updated_at = spec.created_at;
    execution.events.push_back(Event{.index = 0,
                                     .type = EventType::kStarted,
                                     .op = -1,
                                     .name = spec.workflow,
                                     .data = std::move(started_data),
                                     .time = spec.created_at});
    execution.append(store::started_stream_entry(spec));
    by_created.insert({spec.created_at, spec.id});
    executions.emplace(spec.id, std::move(execution));
  }

  // `target` is the write's execution if the caller has it (else it is looked up). `take` is
  // the write's events when the caller lets them be moved in (commit_consuming), else null.
  void apply(const ExecutionWrite& write, Execution* target, std::vector<Event>* take) {
    Execution& execution = target ? *target : executions.at(write.execution_id);
    ExecutionRecord& record = execution.record;
    for (const Event& event : write.events)
      record.updated_at = std::max(record.updated_at, event.time);
    if (take) {
      std::move(take->begin(), take->end(), std::back_inserter(execution.events));
    } else {
      execution.events.insert(execution.events.end(), write.events.begin(), write.events.end());
    }
    record.next_index += static_cast<std::int64_t>(write.events.size());
    for (const NewStreamEntry& entry : write.stream) execution.append(entry);
    if (write.status) {
      record.status = *write.status;
      record.waiting_on = write.waiting_on;
      record.result = write.result;
      record.error = write.error;
    }
    for (std::int32_t op : write.clear_timers) clear_timer(write.execution_id, op);
    for (TimerEntry timer : write.set_timers) {
      if (timer.execution_id.empty()) timer.execution_id = write.execution_id;
      set_timer(timer);
    }
    if (write.continue_as_new) continue_as_new(execution, write);
  }

  // The caller has checked the write (check_continue_as_new).
  void continue_as_new(Execution& execution, const ExecutionWrite& write) {
    ExecutionRecord& record = execution.record;
    record.run += 1;
    record.input = *write.continue_as_new;
    record.status = ExecutionStatus::kRunning;
    record.waiting_on.clear();
    record.result.clear();
    record.error.clear();
    record.next_index = 1;
    record.updated_at = std::max(record.updated_at, write.continued_at);
    if (write.clear_cancel) record.cancel_requested = false;
    execution.events.clear();
    execution.events.push_back(Event{
        .index = 0,
        .type = EventType::kStarted,
        .op = -1,
        .name = record.workflow,
        .data = store::continued_event_data(record.id, record.workflow, record.input, record.run),
        .time = write.continued_at});
    drop_timers_and_deferreds(record.id);
  }

  void drop_timers_and_deferreds(const std::string& id) {
    for (auto it = timers.lower_bound({id, std::numeric_limits<std::int32_t>::min()});
         it != timers.end() && it->first.first == id;) {
      timers_by_due.erase({it->second, id, it->first.second});
      it = timers.erase(it);
    }
    for (auto it = deferreds.lower_bound({id, std::string{}});
         it != deferreds.end() && it->first.first == id;) {
      it = deferreds.erase(it);
    }
  }
};

MemoryStore::MemoryStore() : state_(std::make_unique<State>()) {}
MemoryStore::~MemoryStore() = default;

CommitResult MemoryStore::commit(const CommitBatch& batch) {
  return commit_batch(batch, nullptr);
}

CommitResult MemoryStore::commit_consuming(CommitBatch& batch) {
  return commit_batch(batch, &batch);
}

// Both commits: `take` is the batch itself when its events may be moved in, else null. Nothing
// is taken before the whole batch has been checked.
CommitResult MemoryStore::commit_batch(const CommitBatch& batch, CommitBatch* take) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;

  // Validate the whole batch against a projection of the next indices it would produce: for
  // executions it creates, in `created`; for existing ones, in their batch_* scratch fields
  // (which need no allocation per write and are ignored once the serial moves on).
  const std::uint64_t serial = ++s.commit_serial;
  std::unordered_map<std::string_view, std::int64_t> created;
  std::vector<std::string> started_data(batch.creates.size());
  CommitResult result;
  result.created.resize(batch.creates.size(), false);
  for (std::size_t i = 0; i < batch.creates.size(); ++i) {
    const NewExecution& spec = batch.creates[i];
    if (s.find(spec.id) || created.contains(spec.id)) continue;
    started_data[i] = store::started_event_data(spec);
    created[spec.id] = 1;
    result.created[i] = true;
  }
  // Whether `id` exists once this batch's creates are in (timer owners, queue waiters).
  auto exists_after_creates = [&](const std::string& id) {
    return created.contains(id) || s.find(id) != nullptr;
  };
  // Each write's execution, when it exists before this batch (apply() looks the others up).
  std::vector<Execution*> targets(batch.writes.size(), nullptr);
  for (std::size_t w = 0; w < batch.writes.size(); ++w) {
    const ExecutionWrite& write = batch.writes[w];
    std::int64_t actual = -1;
    auto created_it = created.empty() ? created.end() : created.find(write.execution_id);
    if (created_it != created.end()) {
      actual = created_it->second;
    } else if (Execution* execution = s.find(write.execution_id)) {
      targets[w] = execution;
      actual =
          execution->batch_serial == serial ? execution->batch_next : execution->record.next_index;
    }
    if (actual < 0 || actual != write.expected_next_index ||
        (write.requires_create && created_it == created.end())) {
      throw StaleWriteError(write.execution_id, write.expected_next_index, actual);
    }
    store::check_write_events(write);
    store::check_stream_entries(write.execution_id, write.stream, !write.data_is_serialized_json);
    store::check_continue_as_new(write);
    for (const TimerEntry& timer : write.set_timers) {
      if (!timer.execution_id.empty() && !exists_after_creates(timer.execution_id)) {
        throw StoreError(fmt::format("execution {}: sets a timer (op {}) on unknown execution {}",
                                     write.execution_id, timer.op, timer.execution_id),
                         /*retryable=*/false);
      }
    }
    std::int64_t next =
        write.continue_as_new ? 1 : actual + static_cast<std::int64_t>(write.events.size());
    if (created_it != created.end()) {
      created_it->second = next;
    } else {
      targets[w]->batch_serial = serial;
      targets[w]->batch_next = next;
    }
  }
  for (const NewQueueItem& item : batch.enqueues) {
    store::check_new_queue_item(item);
    if (!item.waiter_execution_id.empty() && !exists_after_creates(item.waiter_execution_id)) {
      throw StoreError(fmt::format("enqueue (queue '{}', item '{}'): no waiter execution {}",
                                   item.queue, item.key, item.waiter_execution_id),
                       /*retryable=*/false);
    }
  }

  for (std::size_t i = 0; i < batch.creates.size(); ++i) {
    if (result.created[i]) s.create(batch.creates[i], std::move(started_data[i]));
  }
  for (std::size_t w = 0; w < batch.writes.size(); ++w) {
    s.apply(batch.writes[w], targets[w], take ? &take->writes[w].events : nullptr);
  }
  result.enqueued.reserve(batch.enqueues.size());
  for (const NewQueueItem& item : batch.enqueues) result.enqueued.push_back(s.enqueue(item));
  return result;
}

std::optional<ExecutionRecord> MemoryStore::get_execution(const std::string& id) {
  std::lock_guard lock(state_->mutex);
  const Execution* execution = state_->find(id);
  if (!execution) return std::nullopt;
  return execution->record;
}

std::vector<Event> MemoryStore::load_events(const std::string& id, std::int64_t from_index) {
  std::lock_guard lock(state_->mutex);
  const Execution* execution = state_->find(id);
  if (!execution) return {};
  auto from = static_cast<std::size_t>(std::max<std::int64_t>(from_index, 0));
  if (from >= execution->events.size()) return {};
  return {execution->events.begin() + static_cast<std::ptrdiff_t>(from), execution->events.end()};
}

ListPage MemoryStore::list_executions(const ListQuery& query) {
  std::size_t limit = std::max<std::size_t>(query.limit, 1);
  std::lock_guard lock(state_->mutex);
  State& s = *state_;

  auto it = s.by_created.begin();
  if (!query.page_token.empty()) {
    it = s.by_created.upper_bound(store::decode_page_token(query.page_token));
  } else if (query.created_after) {
    it = s.by_created.lower_bound({*query.created_after, std::string{}});
  }
  auto matches = [&](const ExecutionRecord& r) {
    if (query.workflow && r.workflow != *query.workflow) return false;
    if (!query.statuses.empty() &&
        std::find(query.statuses.begin(), query.statuses.end(), r.status) == query.statuses.end()) {
      return false;
    }
    return !query.created_after || r.created_at >= *query.created_after;
  };

  ListPage page;
  for (; it != s.by_created.end(); ++it) {
    if (query.created_before && it->first >= *query.created_before) break;
    const ExecutionRecord& record = s.executions.at(it->second).record;
    if (!matches(record)) continue;
    if (page.executions.size() == limit) {
      const ExecutionRecord& last = page.executions.back();
      page.next_page_token = store::encode_page_token(last.created_at, last.id);
      break;
    }
    page.executions.push_back(record);
  }
  return page;
}

std::vector<TimerEntry> MemoryStore::due_timers(TimePoint now, std::size_t limit) {
  std::lock_guard lock(state_->mutex);
  std::vector<TimerEntry> due;
  for (const auto& [at, execution_id, op] : state_->timers_by_due) {
    if (at > now || due.size() >= limit) break;
    due.push_back(TimerEntry{.execution_id = execution_id, .op = op, .due = at});
  }
  return due;
}

ResolveOutcome MemoryStore::resolve_deferred(const std::string& execution_id,
                                             const std::string& name, const std::string& value,
                                             TimePoint now) {
  std::lock_guard lock(state_->mutex);
  return state_->resolve(execution_id, name, value, now);
}

std::optional<DeferredRecord> MemoryStore::get_deferred(const std::string& execution_id,
                                                        const std::string& name) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->deferreds.find({execution_id, name});
  if (it == state_->deferreds.end()) return std::nullopt;
  return it->second;
}

DeferredRecord MemoryStore::close_deferred(const std::string& execution_id, const std::string& name,
                                           TimePoint now) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  if (!s.find(execution_id)) {
    throw NoSuchExecution(
        fmt::format("close_deferred: no execution {} (deferred '{}')", execution_id, name));
  }
  auto [it, inserted] = s.deferreds.try_emplace(DeferredKey{execution_id, name},
                                                DeferredRecord{.execution_id = execution_id,
                                                               .name = name,
                                                               .state = DeferredState::kTimedOut,
                                                               .value = {},
                                                               .at = now});
  return it->second;
}

CancelOutcome MemoryStore::request_cancel(const std::string& id) {
  std::lock_guard lock(state_->mutex);
  Execution* execution = state_->find(id);
  if (!execution) return CancelOutcome::kNoSuchExecution;
  if (is_final(execution->record.status)) return CancelOutcome::kExecutionFinished;
  if (execution->record.cancel_requested) return CancelOutcome::kAlreadyRequested;
  execution->record.cancel_requested = true;
  state_->mark_runnable(*execution);
  return CancelOutcome::kRequested;
}

bool MemoryStore::mark_runnable(const std::string& id) {
  std::lock_guard lock(state_->mutex);
  Execution* execution = state_->find(id);
  if (!execution) return false;
  state_->mark_runnable(*execution);
  return true;
}

std::vector<std::string> MemoryStore::take_runnable(std::size_t limit) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  std::vector<std::string> taken;
  while (taken.size() < limit && !s.runnable.empty()) {
    taken.push_back(std::move(s.runnable.front()));
    s.runnable.pop_front();
    s.executions.at(taken.back()).runnable = false;
  }
  return taken;
}

EnqueueOutcome MemoryStore::enqueue(const NewQueueItem& item) {
  store::check_new_queue_item(item);
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  if (!item.waiter_execution_id.empty() && !s.find(item.waiter_execution_id)) {
    throw StoreError(fmt::format("enqueue (queue '{}', item '{}'): no waiter execution {}",
                                 item.queue, item.key, item.waiter_execution_id),
                     /*retryable=*/false);
  }
  return s.enqueue(item);
}

std::vector<QueueItem> MemoryStore::lease_items(const std::string& queue, const std::string& owner,
                                                std::size_t limit, Duration lease, TimePoint now) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;

  // Merge the two candidate sets of this queue in leasing order; both are sorted by (time, seq).
  const ItemOrder first{queue, TimePoint::min(), 0, std::string{}};
  auto ready = s.ready_items.lower_bound(first);
  auto expired = s.leased_items.lower_bound(first);
  auto leasable = [&](std::set<ItemOrder>::iterator it, const std::set<ItemOrder>& set) {
    return it != set.end() && std::get<0>(*it) == queue && std::get<1>(*it) <= now;
  };
  std::vector<std::string> keys;
  while (keys.size() < limit) {
    bool take_ready = leasable(ready, s.ready_items);
    bool take_expired = leasable(expired, s.leased_items);
    if (!take_ready && !take_expired) break;
    if (take_ready && take_expired) {
      take_ready = std::tie(std::get<1>(*ready), std::get<2>(*ready)) <
                   std::tie(std::get<1>(*expired), std::get<2>(*expired));
    }
    auto& it = take_ready ? ready : expired;
    keys.push_back(std::get<3>(*it));
    ++it;
  }

  std::vector<QueueItem> leased;
  leased.reserve(keys.size());
  for (const std::string& key : keys) {
    StoredItem& stored = *s.find_item(queue, key);
    s.unindex(stored);
    stored.item.state = QueueItemState::kLeased;
    stored.item.lease_owner = owner;
    stored.item.lease_until = now + lease;
    ++stored.item.attempts;
    stored.item.updated_at = now;
    s.index(stored);
    leased.push_back(stored.item);
  }
  return leased;
}

bool MemoryStore::renew_lease(const std::string& queue, const std::string& key,
                              const std::string& owner, Duration lease, TimePoint now) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  StoredItem* stored = s.owned_item(queue, key, owner);
  if (!stored) return false;
  s.unindex(*stored);
  stored->item.lease_until = now + lease;
  stored->item.updated_at = now;
  s.index(*stored);
  return true;
}

bool MemoryStore::complete_item(const std::string& queue, const std::string& key,
                                const std::string& owner, bool ok,
                                const std::string& result_or_error, TimePoint now) {
  store::check_item_outcome(queue, key, result_or_error);
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  StoredItem* stored = s.owned_item(queue, key, owner);
  if (!stored) return false;
  s.unindex(*stored);
  QueueItem& item = stored->item;
  item.state = ok ? QueueItemState::kDone : QueueItemState::kFailed;
  (ok ? item.result : item.error) = result_or_error;
  item.updated_at = now;
  if (!item.waiter_execution_id.empty()) {
    // Whatever the outcome (a finished waiter, an earlier resolution), the item has ended.
    s.resolve(item.waiter_execution_id, item.waiter_deferred,
              store::queue_resolution_value(ok, result_or_error), now);
  }
  return true;
}

bool MemoryStore::release_item(const std::string& queue, const std::string& key,
                               const std::string& owner, Duration delay, TimePoint now) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  StoredItem* stored = s.owned_item(queue, key, owner);
  if (!stored) return false;
  s.unindex(*stored);
  stored->item.state = QueueItemState::kReady;
  stored->item.ready_at = now + delay;
  stored->item.updated_at = now;
  s.index(*stored);
  return true;
}

std::optional<QueueItem> MemoryStore::get_item(const std::string& queue, const std::string& key) {
  std::lock_guard lock(state_->mutex);
  const StoredItem* stored = state_->find_item(queue, key);
  if (!stored) return std::nullopt;
  return stored->item;
}

std::vector<std::int64_t> MemoryStore::append_stream(const std::string& execution_id,
                                                     const std::vector<NewStreamEntry>& entries) {
  store::check_stream_entries(execution_id, entries);
  std::lock_guard lock(state_->mutex);
  Execution* execution = state_->find(execution_id);
  if (!execution) {
    throw StoreError(fmt::format("append_stream: no execution {}", execution_id),
                     /*retryable=*/false);
  }
  std::vector<std::int64_t> offsets;
  offsets.reserve(entries.size());
  bool finished = is_final(execution->record.status);
  for (const NewStreamEntry& entry : entries) {
    if (finished) {
      auto it =
          entry.key.empty() ? execution->stream_keys.end() : execution->stream_keys.find(entry.key);
      offsets.push_back(it == execution->stream_keys.end() ? -1 : it->second);
    } else {
      offsets.push_back(execution->append(entry));
    }
  }
  return offsets;
}

std::vector<StreamEntry> MemoryStore::read_stream(const std::string& execution_id,
                                                  std::int64_t from_offset, std::size_t limit) {
  std::lock_guard lock(state_->mutex);
  const Execution* execution = state_->find(execution_id);
  if (!execution) return {};
  auto from = static_cast<std::size_t>(std::max<std::int64_t>(from_offset, 0));
  if (from >= execution->stream.size()) return {};
  auto to = from + std::min(limit, execution->stream.size() - from);
  return {execution->stream.begin() + static_cast<std::ptrdiff_t>(from),
          execution->stream.begin() + static_cast<std::ptrdiff_t>(to)};
}

PermitDecision MemoryStore::acquire_permit(const RateLimit& limit, TimePoint now) {
  store::check_rate_limit(limit);
  std::lock_guard lock(state_->mutex);
  std::optional<store::PermitState> state;
  auto it = state_->rate_limits.find(limit.name);
  if (it != state_->rate_limits.end()) state = it->second;
  PermitDecision decision = store::decide_permit(limit, state, now);
  state_->rate_limits[limit.name] = *state;
  return decision;
}

ForkResult MemoryStore::fork_execution(const ForkRequest& request) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  const Execution* source = s.find(request.source_id);
  if (!source) return {ForkOutcome::kNoSuchSource, 0};
  ForkResult result{ForkOutcome::kForked, store::step_count(source->events)};
  const ExecutionStatus status = source->record.status;
  if (!is_final(status) && status != ExecutionStatus::kNeedsAttention) {
    result.outcome = ForkOutcome::kSourceUnfinished;
  } else if (request.from_step < 0 || request.from_step > result.step_count) {
    result.outcome = ForkOutcome::kStepOutOfRange;
  } else if (s.find(request.new_id)) {
    result.outcome = ForkOutcome::kIdTaken;
  }
  if (result.outcome != ForkOutcome::kForked) return result;

  Execution fork;
  fork.events = store::fork_events(source->record, source->events, request);
  fork.record.id = request.new_id;
  fork.record.workflow = source->record.workflow;
  fork.record.input = source->record.input;
  fork.record.status = ExecutionStatus::kRunning;
  fork.record.next_index = static_cast<std::int64_t>(fork.events.size());
  fork.record.created_at = request.created_at;
  fork.record.updated_at = request.created_at;
  fork.record.forked_from = request.source_id;
  fork.append(store::forked_stream_entry(request, fork.record.workflow));
  s.by_created.insert({request.created_at, request.new_id});
  Execution& stored = s.executions.emplace(request.new_id, std::move(fork)).first->second;
  s.mark_runnable(stored);
  return result;
}

std::size_t MemoryStore::delete_finished(TimePoint finished_before, std::size_t limit) {
  std::lock_guard lock(state_->mutex);
  State& s = *state_;
  std::vector<std::pair<TimePoint, std::string>> doomed;
  for (const auto& [id, execution] : s.executions) {
    if (is_final(execution.record.status) && execution.record.updated_at < finished_before) {
      doomed.emplace_back(execution.record.updated_at, id);
    }
  }
  std::sort(doomed.begin(), doomed.end());
  if (doomed.size() > limit) doomed.resize(limit);
  for (const auto& [finished, id] : doomed) {
    Execution& execution = s.executions.at(id);
    s.by_created.erase({execution.record.created_at, id});
    s.drop_timers_and_deferreds(id);
    if (execution.runnable) std::erase(s.runnable, id);
    for (auto it = s.items.begin(); it != s.items.end();) {
      const QueueItem& item = it->second.item;
      bool ended = item.state == QueueItemState::kDone || item.state == QueueItemState::kFailed;
      it = ended && item.waiter_execution_id == id ? s.items.erase(it) : std::next(it);
    }
    s.executions.erase(id);
  }
  return doomed.size();
}

std::string MemoryStore::token_secret() {
  std::lock_guard lock(state_->mutex);
  if (!state_->token_secret) state_->token_secret = store::random_secret();
  return *state_->token_secret;
}

}  // namespace durable
