// SqliteStore: the JournalStore contract over one SQLite file in WAL mode.
//
// Threads: one connection guarded by one mutex, so calls from several threads serialise here;
// that keeps the cached prepared statements simple and is ample for an embedded store (the engine
// batches its journal writes). Processes: each opens its own connection and SQLite's file locks
// arbitrate; every multi-statement operation runs in BEGIN IMMEDIATE, which takes the write lock
// up front so two writers never deadlock upgrading a read lock.
//
// Every public method here locks, delegates to Impl (sqlite_store_impl.cpp) or runs one query, and
// turns SQLite exceptions into StoreError.
#include "durable/sqlite_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "durable/errors.hpp"
#include "store/sqlite_store_impl.hpp"
#include "store/sqlite_support.hpp"
#include "store/store_common.hpp"

namespace durable {
namespace {

using store::corrupt_journal;
using store::from_millis;
using store::kExecutionColumns;
using store::sqlite_guarded;
using store::StatementUse;
using store::to_millis;

bool finished(const std::string& status_name) {
  auto status = execution_status_from_string(status_name);
  return status && is_final(*status);
}

}  // namespace

std::shared_ptr<SqliteStore> SqliteStore::open(const std::string& path, SqliteOptions options) {
  auto impl = sqlite_guarded(path, "open", [&] { return std::make_unique<Impl>(path, options); });
  return std::shared_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

CommitResult SqliteStore::commit(const CommitBatch& batch) {
  if (batch.empty()) return {};
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, "commit", [&] { return impl_->commit(batch); });
}

// The two reads other threads make most (a handle waiting for its result, describe, history) go
// through the read connection (store::ReadConnection), never waiting for the writer.
std::optional<ExecutionRecord> SqliteStore::get_execution(const std::string& id) {
  std::lock_guard lock(impl_->reader.mutex);
  return sqlite_guarded(impl_->path, fmt::format("get_execution({})", id),
                        [&]() -> std::optional<ExecutionRecord> {
                          StatementUse select(impl_->reader.select_execution);
                          select->bind(1, id);
                          if (!select->executeStep()) return std::nullopt;
                          return impl_->decode_execution(*select);
                        });
}

std::vector<Event> SqliteStore::load_events(const std::string& id, std::int64_t from_index) {
  std::lock_guard lock(impl_->reader.mutex);
  return sqlite_guarded(impl_->path, fmt::format("load_events(execution {})", id), [&] {
    std::vector<Event> events;
    StatementUse select(impl_->reader.select_events);
    select->bind(1, id);
    select->bind(2, std::max<std::int64_t>(from_index, 0));
    while (select->executeStep()) {
      Event e = impl_->decode_event(*select, id);
      std::int64_t expected =
          events.empty() ? std::max<std::int64_t>(from_index, 0) : events.back().index + 1;
      if (e.index != expected) {
        corrupt_journal(impl_->path,
                        fmt::format("execution {}, event {}: missing (the next stored event "
                                    "is {})",
                                    id, expected, e.index));
      }
      events.push_back(std::move(e));
    }
    return events;
  });
}

ListPage SqliteStore::list_executions(const ListQuery& query) {
  std::optional<std::pair<TimePoint, std::string>> after;
  if (!query.page_token.empty()) after = store::decode_page_token(query.page_token);
  std::size_t limit = std::max<std::size_t>(query.limit, 1);

  std::string sql = fmt::format("SELECT {} FROM executions WHERE 1", kExecutionColumns);
  if (query.workflow) sql += " AND workflow = :workflow";
  if (!query.statuses.empty()) {
    sql += " AND status IN (";
    for (std::size_t i = 0; i < query.statuses.size(); ++i) {
      sql += fmt::format("{}:status{}", i ? ", " : "", i);
    }
    sql += ")";
  }
  if (query.created_after) sql += " AND created_at >= :after";
  if (query.created_before) sql += " AND created_at < :before";
  if (after) sql += " AND (created_at > :last_at OR (created_at = :last_at AND id > :last_id))";
  sql += " ORDER BY created_at, id LIMIT :limit";

  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, "list_executions", [&] {
    SQLite::Statement select(impl_->db, sql);
    if (query.workflow) select.bind(":workflow", *query.workflow);
    for (std::size_t i = 0; i < query.statuses.size(); ++i) {
      select.bind(fmt::format(":status{}", i), std::string{to_string(query.statuses[i])});
    }
    if (query.created_after) select.bind(":after", to_millis(*query.created_after));
    if (query.created_before) select.bind(":before", to_millis(*query.created_before));
    if (after) {
      select.bind(":last_at", to_millis(after->first));
      select.bind(":last_id", after->second);
    }
    // One row beyond the page says whether another page exists.
    select.bind(":limit", static_cast<std::int64_t>(limit + 1));

    ListPage page;
    while (select.executeStep()) {
      if (page.executions.size() == limit) {
        const ExecutionRecord& last = page.executions.back();
        page.next_page_token = store::encode_page_token(last.created_at, last.id);
        break;
      }
      page.executions.push_back(impl_->decode_execution(select));
    }
    return page;
  });
}

std::vector<TimerEntry> SqliteStore::due_timers(TimePoint now, std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, "due_timers", [&] {
    std::vector<TimerEntry> due;
    StatementUse select(impl_->select_due_timers);
    select->bind(1, to_millis(now));
    select->bind(2, static_cast<std::int64_t>(
                        std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
    while (select->executeStep()) {
      due.push_back(TimerEntry{.execution_id = select->getColumn(0).getString(),
                               .op = select->getColumn(1).getInt(),
                               .due = from_millis(select->getColumn(2).getInt64())});
    }
    return due;
  });
}

ResolveOutcome SqliteStore::resolve_deferred(const std::string& execution_id,
                                             const std::string& name, const std::string& value,
                                             TimePoint now) {
  std::lock_guard lock(impl_->mutex);
  auto where = fmt::format("resolve_deferred(execution {}, deferred '{}')", execution_id, name);
  return sqlite_guarded(impl_->path, where, [&] {
    store::WriteTransaction transaction(impl_->transactions);
    ResolveOutcome outcome = impl_->resolve(execution_id, name, value, now);
    if (outcome == ResolveOutcome::kResolved) transaction.commit();
    return outcome;
  });
}

std::optional<DeferredRecord> SqliteStore::get_deferred(const std::string& execution_id,
                                                        const std::string& name) {
  std::lock_guard lock(impl_->mutex);
  auto where = fmt::format("get_deferred(execution {}, deferred '{}')", execution_id, name);
  return sqlite_guarded(impl_->path, where,
                        [&] { return impl_->find_deferred(execution_id, name); });
}

DeferredRecord SqliteStore::close_deferred(const std::string& execution_id, const std::string& name,
                                           TimePoint now) {
  std::lock_guard lock(impl_->mutex);
  auto where = fmt::format("close_deferred(execution {}, deferred '{}')", execution_id, name);
  return sqlite_guarded(impl_->path, where, [&] {
    store::WriteTransaction transaction(impl_->transactions);
    if (!impl_->status_of(execution_id)) {
      throw NoSuchExecution(
          fmt::format("close_deferred: no execution {} (deferred '{}')", execution_id, name));
    }
    if (auto existing = impl_->find_deferred(execution_id, name)) return *existing;
    DeferredRecord timed_out{.execution_id = execution_id,
                             .name = name,
                             .state = DeferredState::kTimedOut,
                             .value = {},
                             .at = now};
    impl_->insert_deferred_row(timed_out);
    transaction.commit();
    return timed_out;
  });
}

CancelOutcome SqliteStore::request_cancel(const std::string& id) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("request_cancel(execution {})", id), [&] {
    store::WriteTransaction transaction(impl_->transactions);
    bool already = false;
    std::optional<std::string> status = impl_->status_of(id, &already);
    if (!status) return CancelOutcome::kNoSuchExecution;
    if (finished(*status)) return CancelOutcome::kExecutionFinished;
    if (already) return CancelOutcome::kAlreadyRequested;
    SQLite::Statement update(impl_->db, "UPDATE executions SET cancel_requested = 1 WHERE id = ?");
    update.bind(1, id);
    update.exec();
    impl_->mark(id);
    transaction.commit();
    return CancelOutcome::kRequested;
  });
}

bool SqliteStore::mark_runnable(const std::string& id) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("mark_runnable(execution {})", id), [&] {
    store::WriteTransaction transaction(impl_->transactions);
    if (!impl_->status_of(id)) return false;
    impl_->mark(id);
    transaction.commit();
    return true;
  });
}

std::vector<std::string> SqliteStore::take_runnable(std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, "take_runnable", [&] {
    store::WriteTransaction transaction(impl_->transactions);
    std::vector<std::string> taken;
    {
      SQLite::Statement select(impl_->db,
                               "SELECT execution_id FROM runnable ORDER BY rowid LIMIT ?");
      select.bind(1, static_cast<std::int64_t>(
                         std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
      while (select.executeStep()) taken.push_back(select.getColumn(0).getString());
    }
    SQLite::Statement remove(impl_->db, "DELETE FROM runnable WHERE execution_id = ?");
    for (const std::string& id : taken) {
      remove.bind(1, id);
      remove.exec();
      remove.reset();
    }
    transaction.commit();
    return taken;
  });
}

ForkResult SqliteStore::fork_execution(const ForkRequest& request) {
  std::lock_guard lock(impl_->mutex);
  auto where = fmt::format("fork_execution({} -> {})", request.source_id, request.new_id);
  return sqlite_guarded(impl_->path, where, [&] {
    store::WriteTransaction transaction(impl_->transactions);
    std::optional<ExecutionRecord> source;
    {
      StatementUse select(impl_->select_execution);
      select->bind(1, request.source_id);
      if (select->executeStep()) source = impl_->decode_execution(*select);
    }
    if (!source) return ForkResult{ForkOutcome::kNoSuchSource, 0};
    std::vector<Event> events;
    {
      StatementUse select(impl_->select_events);
      select->bind(1, request.source_id);
      select->bind(2, std::int64_t{0});
      while (select->executeStep()) events.push_back(impl_->decode_event(*select, source->id));
    }
    ForkResult result{ForkOutcome::kForked, store::step_count(events)};
    if (!is_final(source->status) && source->status != ExecutionStatus::kNeedsAttention) {
      result.outcome = ForkOutcome::kSourceUnfinished;
    } else if (request.from_step < 0 || request.from_step > result.step_count) {
      result.outcome = ForkOutcome::kStepOutOfRange;
    } else if (impl_->status_of(request.new_id)) {
      result.outcome = ForkOutcome::kIdTaken;
    }
    if (result.outcome != ForkOutcome::kForked) return result;

    std::vector<Event> journal = store::fork_events(*source, events, request);
    impl_->check_data_version();
    const std::int64_t journal_key = impl_->allocate_journal_key();
    SQLite::Statement insert(impl_->db,
                             "INSERT INTO executions (id, workflow, input, status, next_index, "
                             "created_at, updated_at, forked_from, journal) "
                             "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)");
    insert.bind(1, request.new_id);
    insert.bind(2, source->workflow);
    insert.bind(3, source->input);
    insert.bind(4, static_cast<std::int64_t>(journal.size()));
    insert.bind(5, to_millis(request.created_at));
    insert.bind(6, to_millis(request.created_at));
    insert.bind(7, request.source_id);
    insert.bind(8, journal_key);
    insert.exec();
    // One segment: the fork is written at once, so its events are stored together anyway.
    const std::int64_t segment = impl_->start_segment(journal_key, 0);
    for (const Event& e : journal) {
      StatementUse row(impl_->insert_event);
      row->bind(1, segment);
      row->bind(2, e.index);
      row->bind(3, static_cast<int>(e.type));
      row->bind(4, e.op);
      row->bind(5, e.name);
      row->bind(6, e.data);
      row->bind(7, to_millis(e.time));
      row->exec();
    }
    impl_->append_stream_entry(request.new_id,
                               store::forked_stream_entry(request, source->workflow));
    impl_->mark(request.new_id);
    impl_->forget_next_indexes();
    transaction.commit();
    return result;
  });
}

std::size_t SqliteStore::delete_finished(TimePoint finished_before, std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, "delete_finished", [&] {
    store::WriteTransaction transaction(impl_->transactions);
    std::vector<std::string> doomed;
    {
      // Oldest finish first across the three final statuses (executions_by_finish).
      SQLite::Statement select(impl_->db,
                               "SELECT id FROM executions WHERE status IN ('completed', "
                               "'failed', 'cancelled') AND updated_at < ? "
                               "ORDER BY updated_at, id LIMIT ?");
      select.bind(1, to_millis(finished_before));
      select.bind(2, static_cast<std::int64_t>(
                         std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
      while (select.executeStep()) doomed.push_back(select.getColumn(0).getString());
    }
    for (const std::string& id : doomed) {
      {
        SQLite::Statement journal(impl_->db, "SELECT journal FROM executions WHERE id = ?");
        journal.bind(1, id);
        if (journal.executeStep()) impl_->delete_journal(journal.getColumn(0).getInt64());
      }
      for (const char* sql : {"DELETE FROM runnable WHERE execution_id = ?",
                              "DELETE FROM queue_items WHERE waiter_execution_id = ? "
                              "AND state IN (3, 4)",
                              "DELETE FROM stream_entries WHERE execution_id = ?",
                              "DELETE FROM executions WHERE id = ?"}) {
        SQLite::Statement remove(impl_->db, sql);
        remove.bind(1, id);
        remove.exec();
      }
      impl_->drop_timers_and_deferreds(id);
    }
    impl_->forget_next_indexes();
    transaction.commit();
    return doomed.size();
  });
}

std::string SqliteStore::token_secret() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->token_secret) return *impl_->token_secret;
  return sqlite_guarded(impl_->path, "token_secret", [&] {
    // Another process may create it concurrently: insert-if-absent, then read whichever won.
    store::WriteTransaction transaction(impl_->transactions);
    std::string fresh = store::random_secret();
    SQLite::Statement insert(impl_->db,
                             "INSERT OR IGNORE INTO meta (key, value) VALUES ('token_secret', ?)");
    insert.bind(1, fresh.data(), static_cast<int>(fresh.size()));
    insert.exec();
    SQLite::Statement select(impl_->db, "SELECT value FROM meta WHERE key = 'token_secret'");
    if (!select.executeStep() || !select.getColumn(0).isBlob() ||
        select.getColumn(0).getBytes() != static_cast<int>(store::kTokenSecretSize)) {
      corrupt_journal(impl_->path, "meta.token_secret is not a 32-byte blob");
    }
    std::string secret = select.getColumn(0).getString();
    select.reset();
    transaction.commit();
    impl_->token_secret = secret;
    return secret;
  });
}

}  // namespace durable
