// SqliteStore: the JournalStore contract over one SQLite file in WAL mode.
//
// Threads: one connection guarded by one mutex, so calls from several threads serialise here;
// that keeps the cached prepared statements simple and is ample for an embedded store (the engine
// batches its journal writes). Processes: each opens its own connection and SQLite's file locks
// arbitrate; every multi-statement operation runs in BEGIN IMMEDIATE, which takes the write lock
// up front so two writers never deadlock upgrading a read lock.
#include "durable/sqlite_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "durable/errors.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_support.hpp"
#include "store/store_common.hpp"

namespace durable {
namespace {

using store::from_millis;
using store::sqlite_guarded;
using store::StatementUse;
using store::to_millis;

constexpr const char* kExecutionColumns =
    "id, workflow, input, status, waiting_on, result, error, next_index, cancel_requested, "
    "created_at, updated_at";

SQLite::Database open_database(const std::string& path, const SqliteOptions& options) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                      static_cast<int>(options.busy_timeout.count()));
  // Check the version before anything that writes (switching to WAL rewrites the header), so a
  // newer database is left exactly as it was.
  store::refuse_newer_schema(store::read_schema_version(db, path), path);
  db.execAndGet("PRAGMA journal_mode = WAL");
  db.exec(options.sync == SqliteOptions::Sync::kFull ? "PRAGMA synchronous = FULL"
                                                     : "PRAGMA synchronous = NORMAL");
  store::migrate(db, path);
  return db;
}

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw StoreError(fmt::format("sqlite store {}: corrupt journal: {}", path, what),
                   /*retryable=*/false);
}

bool finished(const std::string& status_name) {
  auto status = execution_status_from_string(status_name);
  return status && is_final(*status);
}

}  // namespace

struct SqliteStore::Impl {
  Impl(const std::string& path_, const SqliteOptions& options)
      : path(path_),
        db(open_database(path_, options)),
        select_next_index(db, "SELECT next_index FROM executions WHERE id = ?"),
        insert_execution(db,
                         "INSERT INTO executions (id, workflow, input, status, next_index, "
                         "created_at, updated_at) VALUES (?, ?, ?, 'running', 1, ?, ?) "
                         "ON CONFLICT (id) DO NOTHING"),
        insert_event(db,
                     "INSERT INTO events (execution_id, idx, type, op, name, data, time) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)"),
        update_progress(db,
                        "UPDATE executions SET next_index = ?2, "
                        "updated_at = max(updated_at, ?3) WHERE id = ?1"),
        update_status(db,
                      "UPDATE executions SET next_index = ?2, updated_at = max(updated_at, ?3), "
                      "status = ?4, waiting_on = ?5, result = ?6, error = ?7 WHERE id = ?1"),
        upsert_timer(db,
                     "INSERT INTO timers (execution_id, op, due) VALUES (?, ?, ?) "
                     "ON CONFLICT (execution_id, op) DO UPDATE SET due = excluded.due"),
        delete_timer(db, "DELETE FROM timers WHERE execution_id = ? AND op = ?"),
        select_execution(db,
                         fmt::format("SELECT {} FROM executions WHERE id = ?", kExecutionColumns)),
        select_events(db,
                      "SELECT idx, type, op, name, data, time FROM events "
                      "WHERE execution_id = ? AND idx >= ? ORDER BY idx"),
        select_due_timers(db,
                          "SELECT execution_id, op, due FROM timers WHERE due <= ? "
                          "ORDER BY due, execution_id, op LIMIT ?"),
        select_status(db, "SELECT status, cancel_requested FROM executions WHERE id = ?"),
        select_deferred(db,
                        "SELECT state, value, at FROM deferreds "
                        "WHERE execution_id = ? AND name = ?"),
        insert_deferred(db,
                        "INSERT INTO deferreds (execution_id, name, state, value, at) "
                        "VALUES (?, ?, ?, ?, ?)"),
        insert_runnable(db, "INSERT OR IGNORE INTO runnable (execution_id) VALUES (?)") {}

  // The caller holds `mutex` for all of these.
  CommitResult commit(const CommitBatch& batch);
  std::optional<std::string> status_of(const std::string& id, bool* cancel_requested = nullptr);
  std::optional<DeferredRecord> find_deferred(const std::string& execution_id,
                                              const std::string& name);
  void insert_deferred_row(const DeferredRecord& record);
  void mark(const std::string& id);
  ExecutionRecord decode_execution(SQLite::Statement& row);
  Event decode_event(SQLite::Statement& row, const std::string& execution_id);

  const std::string path;
  std::mutex mutex;
  SQLite::Database db;
  // Prepared once per connection: the hot paths (commit, replay) never re-parse SQL.
  SQLite::Statement select_next_index, insert_execution, insert_event, update_progress,
      update_status, upsert_timer, delete_timer, select_execution, select_events, select_due_timers,
      select_status, select_deferred, insert_deferred, insert_runnable;
  std::optional<std::string> token_secret;
};

CommitResult SqliteStore::Impl::commit(const CommitBatch& batch) {
  SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
  CommitResult result;
  result.created.resize(batch.creates.size(), false);

  for (std::size_t i = 0; i < batch.creates.size(); ++i) {
    const NewExecution& spec = batch.creates[i];
    {
      StatementUse insert(insert_execution);
      insert->bind(1, spec.id);
      insert->bind(2, spec.workflow);
      insert->bind(3, spec.input);
      insert->bind(4, to_millis(spec.created_at));
      insert->bind(5, to_millis(spec.created_at));
      if (insert->exec() == 0) continue;  // exists: creation is idempotent
    }
    StatementUse event(insert_event);
    event->bind(1, spec.id);
    event->bind(2, std::int64_t{0});
    event->bind(3, static_cast<int>(EventType::kStarted));
    event->bind(4, -1);
    event->bind(5, spec.workflow);
    event->bind(6, store::started_event_data(spec));
    event->bind(7, to_millis(spec.created_at));
    event->exec();
    result.created[i] = true;
  }

  for (const ExecutionWrite& write : batch.writes) {
    const std::string& id = write.execution_id;
    std::int64_t actual = -1;
    {
      StatementUse select(select_next_index);
      select->bind(1, id);
      if (select->executeStep()) actual = select->getColumn(0).getInt64();
    }
    if (actual < 0 || actual != write.expected_next_index) {
      throw StaleWriteError(id, write.expected_next_index, actual);
    }
    store::check_write_events(write);

    std::int64_t latest = std::numeric_limits<std::int64_t>::min();
    for (const Event& e : write.events) {
      StatementUse insert(insert_event);
      insert->bind(1, id);
      insert->bind(2, e.index);
      insert->bind(3, static_cast<int>(e.type));
      insert->bind(4, e.op);
      insert->bind(5, e.name);
      insert->bind(6, e.data);
      insert->bind(7, to_millis(e.time));
      insert->exec();
      latest = std::max(latest, to_millis(e.time));
    }

    std::int64_t next = actual + static_cast<std::int64_t>(write.events.size());
    if (write.status) {
      StatementUse update(update_status);
      update->bind(1, id);
      update->bind(2, next);
      update->bind(3, latest);
      update->bind(4, std::string{to_string(*write.status)});
      update->bind(5, write.waiting_on);
      update->bind(6, write.result);
      update->bind(7, write.error);
      update->exec();
    } else if (!write.events.empty()) {
      StatementUse update(update_progress);
      update->bind(1, id);
      update->bind(2, next);
      update->bind(3, latest);
      update->exec();
    }

    for (std::int32_t op : write.clear_timers) {
      StatementUse remove(delete_timer);
      remove->bind(1, id);
      remove->bind(2, op);
      remove->exec();
    }
    for (const TimerEntry& timer : write.set_timers) {
      const std::string& owner = timer.execution_id.empty() ? id : timer.execution_id;
      if (owner != id && !status_of(owner)) {
        throw StoreError(fmt::format("execution {}: sets a timer (op {}) on unknown execution {}",
                                     id, timer.op, owner),
                         /*retryable=*/false);
      }
      StatementUse upsert(upsert_timer);
      upsert->bind(1, owner);
      upsert->bind(2, timer.op);
      upsert->bind(3, to_millis(timer.due));
      upsert->exec();
    }
  }

  transaction.commit();
  return result;
}

std::optional<std::string> SqliteStore::Impl::status_of(const std::string& id,
                                                        bool* cancel_requested) {
  StatementUse select(select_status);
  select->bind(1, id);
  if (!select->executeStep()) return std::nullopt;
  if (cancel_requested) *cancel_requested = select->getColumn(1).getInt() != 0;
  return select->getColumn(0).getString();
}

std::optional<DeferredRecord> SqliteStore::Impl::find_deferred(const std::string& execution_id,
                                                               const std::string& name) {
  StatementUse select(select_deferred);
  select->bind(1, execution_id);
  select->bind(2, name);
  if (!select->executeStep()) return std::nullopt;
  int state = select->getColumn(0).getInt();
  if (state != static_cast<int>(DeferredState::kResolved) &&
      state != static_cast<int>(DeferredState::kTimedOut)) {
    corrupt(path, fmt::format("execution {}, deferred '{}': unknown state {}", execution_id, name,
                              state));
  }
  return DeferredRecord{.execution_id = execution_id,
                        .name = name,
                        .state = static_cast<DeferredState>(state),
                        .value = select->getColumn(1).getString(),
                        .at = from_millis(select->getColumn(2).getInt64())};
}

void SqliteStore::Impl::insert_deferred_row(const DeferredRecord& record) {
  StatementUse insert(insert_deferred);
  insert->bind(1, record.execution_id);
  insert->bind(2, record.name);
  insert->bind(3, static_cast<int>(record.state));
  insert->bind(4, record.value);
  insert->bind(5, to_millis(record.at));
  insert->exec();
}

void SqliteStore::Impl::mark(const std::string& id) {
  StatementUse insert(insert_runnable);
  insert->bind(1, id);
  insert->exec();
}

ExecutionRecord SqliteStore::Impl::decode_execution(SQLite::Statement& row) {
  ExecutionRecord r;
  r.id = row.getColumn(0).getString();
  r.workflow = row.getColumn(1).getString();
  r.input = row.getColumn(2).getString();
  std::string status = row.getColumn(3).getString();
  auto decoded = execution_status_from_string(status);
  if (!decoded) corrupt(path, fmt::format("execution {}: unknown status '{}'", r.id, status));
  r.status = *decoded;
  r.waiting_on = row.getColumn(4).getString();
  r.result = row.getColumn(5).getString();
  r.error = row.getColumn(6).getString();
  r.next_index = row.getColumn(7).getInt64();
  r.cancel_requested = row.getColumn(8).getInt() != 0;
  r.created_at = from_millis(row.getColumn(9).getInt64());
  r.updated_at = from_millis(row.getColumn(10).getInt64());
  return r;
}

Event SqliteStore::Impl::decode_event(SQLite::Statement& row, const std::string& execution_id) {
  Event e;
  e.index = row.getColumn(0).getInt64();
  auto where = [&] { return fmt::format("execution {}, event {}", execution_id, e.index); };
  SQLite::Column type = row.getColumn(1);
  std::optional<EventType> decoded =
      type.isInteger() ? event_type_from_int(type.getInt()) : std::nullopt;
  if (!decoded) {
    corrupt(path, fmt::format("{}: unknown event type '{}'", where(), type.getString()));
  }
  e.type = *decoded;
  SQLite::Column op = row.getColumn(2);
  if (!op.isInteger()) corrupt(path, fmt::format("{}: op is not an integer", where()));
  e.op = op.getInt();
  e.name = row.getColumn(3).getString();
  SQLite::Column data = row.getColumn(4);
  if (!data.isText()) corrupt(path, fmt::format("{}: data is not text", where()));
  e.data = data.getString();
  if (!store::is_valid_event_data(e.data)) {
    corrupt(path, fmt::format("{}: data is not valid JSON", where()));
  }
  e.time = from_millis(row.getColumn(5).getInt64());
  return e;
}

// --- public surface: lock, translate SQLite errors, delegate ----------------------------------

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

std::optional<ExecutionRecord> SqliteStore::get_execution(const std::string& id) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("get_execution({})", id),
                        [&]() -> std::optional<ExecutionRecord> {
                          StatementUse select(impl_->select_execution);
                          select->bind(1, id);
                          if (!select->executeStep()) return std::nullopt;
                          return impl_->decode_execution(*select);
                        });
}

std::vector<Event> SqliteStore::load_events(const std::string& id, std::int64_t from_index) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, fmt::format("load_events(execution {})", id), [&] {
    std::vector<Event> events;
    StatementUse select(impl_->select_events);
    select->bind(1, id);
    select->bind(2, std::max<std::int64_t>(from_index, 0));
    while (select->executeStep()) {
      Event e = impl_->decode_event(*select, id);
      std::int64_t expected =
          events.empty() ? std::max<std::int64_t>(from_index, 0) : events.back().index + 1;
      if (e.index != expected) {
        corrupt(impl_->path, fmt::format("execution {}, event {}: missing (the next stored event "
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
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    std::optional<std::string> status = impl_->status_of(execution_id);
    if (!status) return ResolveOutcome::kNoSuchExecution;
    if (finished(*status)) return ResolveOutcome::kExecutionFinished;
    if (auto existing = impl_->find_deferred(execution_id, name)) {
      return existing->state == DeferredState::kTimedOut ? ResolveOutcome::kTimedOut
                                                         : ResolveOutcome::kAlreadyResolved;
    }
    impl_->insert_deferred_row({.execution_id = execution_id,
                                .name = name,
                                .state = DeferredState::kResolved,
                                .value = value,
                                .at = now});
    impl_->mark(execution_id);
    transaction.commit();
    return ResolveOutcome::kResolved;
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
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
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
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
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
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    if (!impl_->status_of(id)) return false;
    impl_->mark(id);
    transaction.commit();
    return true;
  });
}

std::vector<std::string> SqliteStore::take_runnable(std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  return sqlite_guarded(impl_->path, "take_runnable", [&] {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
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

std::string SqliteStore::token_secret() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->token_secret) return *impl_->token_secret;
  return sqlite_guarded(impl_->path, "token_secret", [&] {
    // Another process may create it concurrently: insert-if-absent, then read whichever won.
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    std::string fresh = store::random_secret();
    SQLite::Statement insert(impl_->db,
                             "INSERT OR IGNORE INTO meta (key, value) VALUES ('token_secret', ?)");
    insert.bind(1, fresh.data(), static_cast<int>(fresh.size()));
    insert.exec();
    SQLite::Statement select(impl_->db, "SELECT value FROM meta WHERE key = 'token_secret'");
    if (!select.executeStep() || !select.getColumn(0).isBlob() ||
        select.getColumn(0).getBytes() != static_cast<int>(store::kTokenSecretSize)) {
      corrupt(impl_->path, "meta.token_secret is not a 32-byte blob");
    }
    std::string secret = select.getColumn(0).getString();
    select.reset();
    transaction.commit();
    impl_->token_secret = secret;
    return secret;
  });
}

}  // namespace durable
