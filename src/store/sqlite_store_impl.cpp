#include "store/sqlite_store_impl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "durable/errors.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_support.hpp"
#include "store/sqlite_wal_batching.hpp"
#include "store/store_common.hpp"

namespace durable {

void store::corrupt_journal(const std::string& path, const std::string& what) {
  throw StoreError(fmt::format("sqlite store {}: corrupt journal: {}", path, what),
                   /*retryable=*/false);
}

namespace {

using store::corrupt_journal;
using store::from_millis;
using store::kExecutionColumns;
using store::StatementUse;
using store::to_millis;

SQLite::Database open_database(const std::string& path, const SqliteOptions& options) {
  // NOMUTEX: every use of the connection holds Impl::mutex already, so SQLite's own per-call
  // mutex would only be locked a second time (3.5% of the scheduler thread's instructions).
  // With FULL, a commit's WAL frames go to the file in one write (sqlite_wal_batching.hpp says
  // why that needs FULL).
  const bool full = options.sync == SqliteOptions::Sync::kFull;
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
                      static_cast<int>(options.busy_timeout.count()),
                      full ? store::wal_batching_vfs() : "");
  // Check the version before anything that writes (switching to WAL rewrites the header), so a
  // newer database is left exactly as it was.
  int version = store::read_schema_version(db, path);
  store::refuse_newer_schema(version, path);
  db.execAndGet("PRAGMA journal_mode = WAL");
  db.exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  // Versions only rise, so a current file needs no write lock (and no wait for a busy writer).
  if (version < store::current_schema_version()) store::migrate(db, path);
  return db;
}

// The file exists and its schema is current (the writer saw to both). Read-write, so that it
// could recover a WAL left by a crash as any connection may, but query_only: it never writes.
SQLite::Database open_reader(const std::string& path, const SqliteOptions& options) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX,
                      static_cast<int>(options.busy_timeout.count()));
  db.exec("PRAGMA query_only = 1");
  return db;
}

std::string insert_events_sql(int rows) {
  std::string sql = "INSERT INTO events (segment, idx, type, op, name, data, time) VALUES ";
  for (int i = 0; i < rows; ++i)
    sql += i == 0 ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
  return sql;
}

// Binds one events row of segment `segment` at parameters first + 1 .. first + 7. The texts must
// outlive the statement's exec(); every parameter is bound again before the statement is used
// next.
void bind_event_row(SQLite::Statement& insert, int first, std::int64_t segment, const Event& e) {
  insert.bind(first + 1, segment);
  insert.bind(first + 2, e.index);
  insert.bind(first + 3, static_cast<int>(e.type));
  insert.bind(first + 4, e.op);
  insert.bindNoCopy(first + 5, e.name);
  insert.bindNoCopy(first + 6, e.data);
  insert.bind(first + 7, to_millis(e.time));
}

}  // namespace

SqliteStore::Impl::Impl(const std::string& path_, const SqliteOptions& options)
    : path(path_),
      db(open_database(path_, options)),
      transactions(db),
      // Since schema version 4 the journal's next index is its events' (the executions row's
      // column is only refreshed with a status change); since version 7, those of its current
      // segment: a seek down each key.
      select_journal(db,
                     "SELECT x.journal, s.segment, s.first_idx, "
                     "(SELECT COALESCE(max(e.idx), -1) + 1 FROM events e "
                     "WHERE e.segment = s.segment) "
                     "FROM executions x JOIN journal_segments s ON s.journal = x.journal "
                     "WHERE x.id = ? ORDER BY s.first_idx DESC LIMIT 1"),
      insert_execution(db,
                       "INSERT INTO executions (id, workflow, input, status, next_index, "
                       "created_at, updated_at, journal) VALUES (?, ?, ?, 'running', 1, ?, ?, ?) "
                       "ON CONFLICT (id) DO NOTHING"),
      insert_event(db,
                   "INSERT INTO events (segment, idx, type, op, name, data, time) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)"),
      update_status(db,
                    "UPDATE executions SET next_index = ?2, updated_at = max(updated_at, ?3), "
                    "status = ?4, waiting_on = ?5, result = ?6, error = ?7 WHERE id = ?1"),
      upsert_timer(db,
                   "INSERT INTO timers (execution_id, op, due) VALUES (?, ?, ?) "
                   "ON CONFLICT (execution_id, op) DO UPDATE SET due = excluded.due"),
      delete_timer(db, "DELETE FROM timers WHERE execution_id = ? AND op = ?"),
      select_execution(db, store::select_execution_sql()),
      select_events(db, store::kSelectEventsSql),
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
      insert_runnable(db, "INSERT OR IGNORE INTO runnable (execution_id) VALUES (?)"),
      insert_events_wide(db, insert_events_sql(kWideRows)),
      insert_events_narrow(db, insert_events_sql(kNarrowRows)),
      items(db),
      stream(db),
      reader(path_, options),
      select_data_version(db, "PRAGMA data_version"),
      select_max_journal_key(db, "SELECT COALESCE(max(journal), 0) + 1 FROM executions"),
      select_max_segment_key(db, "SELECT COALESCE(max(segment), 0) + 1 FROM journal_segments"),
      insert_segment_row(db,
                         "INSERT INTO journal_segments (segment, journal, first_idx) "
                         "VALUES (?, ?, ?)") {}

std::string store::select_execution_sql() {
  return fmt::format("SELECT {} FROM executions WHERE id = ?", kExecutionColumns);
}

store::ReadConnection::ReadConnection(const std::string& path, const SqliteOptions& options)
    : db(open_reader(path, options)),
      select_execution(db, select_execution_sql()),
      select_events(db, kSelectEventsSql) {}

void SqliteStore::Impl::check_data_version() {
  StatementUse version(select_data_version);
  version->executeStep();
  std::int64_t now = version->getColumn(0).getInt64();
  if (now != known_data_version) {
    known_journals.clear();
    known_stream_next.clear();
    next_journal_key = -1;
    next_segment_key = -1;
  }
  known_data_version = now;
}

SqliteStore::Impl::Journal SqliteStore::Impl::journal_of(const std::string& id) {
  if (auto known = known_journals.find(id); known != known_journals.end()) return known->second;
  StatementUse select(select_journal);
  select->bind(1, id);
  if (!select->executeStep()) return Journal{.key = 0, .next_index = -1};
  return Journal{.key = select->getColumn(0).getInt64(),
                 .next_index = select->getColumn(3).getInt64(),
                 .segment = select->getColumn(1).getInt64(),
                 .segment_first = select->getColumn(2).getInt64()};
}

namespace {

// One past the largest key, read by `select_max_plus_one` the first time and counted on after.
std::int64_t next_key(SQLite::Statement& select_max_plus_one, std::int64_t& next) {
  if (next < 0) {
    StatementUse select(select_max_plus_one);
    select->executeStep();
    next = select->getColumn(0).getInt64();
  }
  return next++;
}

}  // namespace

std::int64_t SqliteStore::Impl::allocate_journal_key() {
  return next_key(select_max_journal_key, next_journal_key);
}

std::int64_t SqliteStore::Impl::start_segment(std::int64_t journal, std::int64_t first_idx) {
  const std::int64_t segment = next_key(select_max_segment_key, next_segment_key);
  StatementUse insert(insert_segment_row);
  insert->bind(1, segment);
  insert->bind(2, journal);
  insert->bind(3, first_idx);
  insert->exec();
  return segment;
}

void SqliteStore::Impl::delete_journal(std::int64_t journal) {
  for (const char* sql : {"DELETE FROM events WHERE segment IN "
                          "(SELECT segment FROM journal_segments WHERE journal = ?)",
                          "DELETE FROM journal_segments WHERE journal = ?"}) {
    SQLite::Statement remove(db, sql);
    remove.bind(1, journal);
    remove.exec();
  }
}

CommitResult SqliteStore::Impl::commit(const CommitBatch& batch) {
  try {
    return commit_batch(batch);
  } catch (...) {
    forget_next_indexes();  // rolled back, or perhaps committed: either way no longer known
    throw;
  }
}

CommitResult SqliteStore::Impl::commit_batch(const CommitBatch& batch) {
  store::WriteTransaction transaction(transactions);
  check_data_version();
  CommitResult result;
  result.created.resize(batch.creates.size(), false);

  // The batch's events as (segment, event), inserted in groups: all of a write's rows are in
  // before anything that replaces its journal (continue-as-new), and all before the transaction
  // commits. The creates' events 0 are built here (reserved: their addresses must not move).
  std::vector<std::pair<std::int64_t, const Event*>> rows;
  std::vector<Event> started_events;
  started_events.reserve(batch.creates.size());

  // The journal each written execution will have once this batch's events are in: a second
  // write to one execution expects what the first left. Executions this batch creates start here.
  std::unordered_map<std::string_view, Journal> batch_journals;
  for (std::size_t i = 0; i < batch.creates.size(); ++i) {
    const NewExecution& spec = batch.creates[i];
    const std::int64_t journal = allocate_journal_key();  // unused if the id exists: a gap
    {
      StatementUse insert(insert_execution);
      insert->bind(1, spec.id);
      insert->bind(2, spec.workflow);
      insert->bind(3, spec.input);
      insert->bind(4, to_millis(spec.created_at));
      insert->bind(5, to_millis(spec.created_at));
      insert->bind(6, journal);
      if (insert->exec() == 0) continue;  // exists: creation is idempotent
    }
    const std::int64_t segment = start_segment(journal, 0);
    batch_journals.emplace(spec.id, Journal{.key = journal,
                                            .next_index = 1,  // event 0 is in
                                            .segment = segment,
                                            .segment_first = 0});
    rows.emplace_back(segment,
                      &started_events.emplace_back(Event{.index = 0,
                                                         .type = EventType::kStarted,
                                                         .op = -1,
                                                         .name = spec.workflow,
                                                         .data = store::started_event_data(spec),
                                                         .time = spec.created_at}));
    append_stream_entry(spec.id, store::started_stream_entry(spec));
    result.created[i] = true;
  }

  std::unordered_set<std::string_view> created_ids;
  for (std::size_t i = 0; i < batch.creates.size(); ++i) {
    if (result.created[i]) created_ids.insert(batch.creates[i].id);
  }
  auto created_here = [&](const std::string& id) { return created_ids.contains(id); };
  auto insert_rows = [&] {
    std::size_t i = 0;
    auto insert_group = [&](SQLite::Statement& statement, int count) {
      StatementUse insert(statement);
      for (int r = 0; r < count; ++r, ++i)
        bind_event_row(*insert, 7 * r, rows[i].first, *rows[i].second);
      insert->exec();
    };
    while (rows.size() - i >= kWideRows) insert_group(insert_events_wide, kWideRows);
    while (rows.size() - i >= kNarrowRows) insert_group(insert_events_narrow, kNarrowRows);
    while (i < rows.size()) insert_group(insert_event, 1);
    rows.clear();
  };
  for (const ExecutionWrite& write : batch.writes) {
    const std::string& id = write.execution_id;
    const std::int64_t expected = write.expected_next_index;
    auto [in_batch, first_in_batch] = batch_journals.try_emplace(id);
    Journal journal = first_in_batch ? journal_of(id) : in_batch->second;
    const std::int64_t actual = journal.next_index;
    if (actual < 0 || actual != expected || (write.requires_create && !created_here(id))) {
      throw StaleWriteError(id, expected, actual);
    }
    std::int64_t next = expected + static_cast<std::int64_t>(write.events.size());
    // A write's events all go to one segment: the current one, or a new one once it is full.
    if (!write.events.empty() && !write.continue_as_new &&
        actual - journal.segment_first >= kSegmentEvents) {
      journal.segment = start_segment(journal.key, actual);
      journal.segment_first = actual;
    }
    journal.next_index = next;
    in_batch->second = journal;
    // Progress alone (events, no status) leaves the executions row as it is (schema version 4):
    // it is the hot path, and rewriting the row and its index entries cost more than the events.
    if (write.status) {
      std::int64_t latest = std::numeric_limits<std::int64_t>::min();
      for (const Event& e : write.events) latest = std::max(latest, to_millis(e.time));
      StatementUse update(update_status);
      update->bind(1, id);
      update->bind(2, next);
      update->bind(3, latest);
      update->bind(4, std::string{to_string(*write.status)});
      update->bindNoCopy(5, write.waiting_on);
      update->bindNoCopy(6, write.result);
      update->bindNoCopy(7, write.error);
      update->exec();
    }
    store::check_write_events(write);
    store::check_stream_entries(id, write.stream, !write.data_is_serialized_json);
    store::check_continue_as_new(write);

    for (const Event& e : write.events) rows.emplace_back(journal.segment, &e);

    for (const NewStreamEntry& entry : write.stream) append_stream_entry(id, entry);

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
    if (write.continue_as_new) {
      insert_rows();
      in_batch->second = Journal{.key = journal.key,
                                 .next_index = 1,
                                 .segment = continue_as_new(write, journal.key),
                                 .segment_first = 0};
    }
  }
  insert_rows();

  result.enqueued.reserve(batch.enqueues.size());
  for (const NewQueueItem& item : batch.enqueues) result.enqueued.push_back(enqueue(item));

  transaction.commit();

  if (known_journals.size() + batch_journals.size() > kMaxKnownJournals) known_journals.clear();
  for (const ExecutionWrite& write : batch.writes) {
    if (write.status && is_final(*write.status) && !write.continue_as_new) {
      known_journals.erase(write.execution_id);  // written no more
      known_stream_next.erase(write.execution_id);
    } else {
      known_journals.insert_or_assign(write.execution_id, batch_journals[write.execution_id]);
    }
  }
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
    corrupt_journal(path, fmt::format("execution {}, deferred '{}': unknown state {}", execution_id,
                                      name, state));
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

ResolveOutcome SqliteStore::Impl::resolve(const std::string& execution_id, const std::string& name,
                                          const std::string& value, TimePoint now) {
  std::optional<std::string> status = status_of(execution_id);
  if (!status) return ResolveOutcome::kNoSuchExecution;
  auto decoded = execution_status_from_string(*status);
  if (decoded && is_final(*decoded)) return ResolveOutcome::kExecutionFinished;
  if (auto existing = find_deferred(execution_id, name)) {
    return existing->state == DeferredState::kTimedOut ? ResolveOutcome::kTimedOut
                                                       : ResolveOutcome::kAlreadyResolved;
  }
  insert_deferred_row({.execution_id = execution_id,
                       .name = name,
                       .state = DeferredState::kResolved,
                       .value = value,
                       .at = now});
  mark(execution_id);
  return ResolveOutcome::kResolved;
}

std::int64_t SqliteStore::Impl::continue_as_new(const ExecutionWrite& write, std::int64_t journal) {
  const std::string& id = write.execution_id;
  std::string workflow;
  std::int64_t run = 0;
  {
    SQLite::Statement select(db, "SELECT workflow, run FROM executions WHERE id = ?");
    select.bind(1, id);
    if (!select.executeStep()) throw StaleWriteError(id, write.expected_next_index, -1);
    workflow = select.getColumn(0).getString();
    run = select.getColumn(1).getInt64() + 1;
  }
  delete_journal(journal);
  drop_timers_and_deferreds(id);
  const std::int64_t segment = start_segment(journal, 0);
  StatementUse event(insert_event);
  event->bind(1, segment);
  event->bind(2, std::int64_t{0});
  event->bind(3, static_cast<int>(EventType::kStarted));
  event->bind(4, -1);
  event->bind(5, workflow);
  event->bind(6, store::continued_event_data(id, workflow, *write.continue_as_new, run));
  event->bind(7, to_millis(write.continued_at));
  event->exec();
  SQLite::Statement update(
      db,
      "UPDATE executions SET input = ?2, run = ?3, status = 'running', waiting_on = '', "
      "result = '', error = '', next_index = 1, updated_at = max(updated_at, ?4), "
      "cancel_requested = CASE WHEN ?5 THEN 0 ELSE cancel_requested END WHERE id = ?1");
  update.bind(1, id);
  update.bind(2, *write.continue_as_new);
  update.bind(3, run);
  update.bind(4, to_millis(write.continued_at));
  update.bind(5, write.clear_cancel ? 1 : 0);
  update.exec();
  return segment;
}

void SqliteStore::Impl::drop_timers_and_deferreds(const std::string& id) {
  for (const char* sql : {"DELETE FROM timers WHERE execution_id = ?",
                          "DELETE FROM deferreds WHERE execution_id = ?"}) {
    SQLite::Statement remove(db, sql);
    remove.bind(1, id);
    remove.exec();
  }
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
  if (!decoded)
    corrupt_journal(path, fmt::format("execution {}: unknown status '{}'", r.id, status));
  r.status = *decoded;
  r.waiting_on = row.getColumn(4).getString();
  r.result = row.getColumn(5).getString();
  r.error = row.getColumn(6).getString();
  r.next_index = row.getColumn(7).getInt64();
  r.cancel_requested = row.getColumn(8).getInt() != 0;
  r.created_at = from_millis(row.getColumn(9).getInt64());
  r.updated_at = from_millis(row.getColumn(10).getInt64());
  r.run = row.getColumn(11).getInt64();
  r.forked_from = row.getColumn(12).getString();
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
    corrupt_journal(path, fmt::format("{}: unknown event type '{}'", where(), type.getString()));
  }
  e.type = *decoded;
  SQLite::Column op = row.getColumn(2);
  if (!op.isInteger()) corrupt_journal(path, fmt::format("{}: op is not an integer", where()));
  e.op = op.getInt();
  e.name = row.getColumn(3).getString();
  SQLite::Column data = row.getColumn(4);
  if (!data.isText()) corrupt_journal(path, fmt::format("{}: data is not text", where()));
  e.data = data.getString();
  if (!store::is_valid_event_data(e.data)) {
    corrupt_journal(path, fmt::format("{}: data is not valid JSON", where()));
  }
  e.time = from_millis(row.getColumn(5).getInt64());
  return e;
}

}  // namespace durable
