#include "store/sqlite_schema.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <array>

#include "durable/errors.hpp"

namespace durable::store {
namespace {

// Version 1: the journal, timers, deferreds and runnable marks.
void create_v1(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE executions (
      id               TEXT PRIMARY KEY,
      workflow         TEXT NOT NULL,
      input            TEXT NOT NULL,
      status           TEXT NOT NULL,
      waiting_on       TEXT NOT NULL DEFAULT '',
      result           TEXT NOT NULL DEFAULT '',
      error            TEXT NOT NULL DEFAULT '',
      next_index       INTEGER NOT NULL,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      created_at       INTEGER NOT NULL,
      updated_at       INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX executions_by_created ON executions (created_at, id);
    CREATE INDEX executions_by_workflow ON executions (workflow, created_at, id);
    CREATE INDEX executions_by_status ON executions (status, created_at, id);

    CREATE TABLE events (
      execution_id TEXT NOT NULL,
      idx          INTEGER NOT NULL,
      type         INTEGER NOT NULL,
      op           INTEGER NOT NULL,
      name         TEXT NOT NULL,
      data         TEXT NOT NULL,
      time         INTEGER NOT NULL,
      PRIMARY KEY (execution_id, idx)
    ) WITHOUT ROWID;

    CREATE TABLE timers (
      execution_id TEXT NOT NULL,
      op           INTEGER NOT NULL,
      due          INTEGER NOT NULL,
      PRIMARY KEY (execution_id, op)
    ) WITHOUT ROWID;
    CREATE INDEX timers_by_due ON timers (due, execution_id, op);

    CREATE TABLE deferreds (
      execution_id TEXT NOT NULL,
      name         TEXT NOT NULL,
      state        INTEGER NOT NULL,
      value        TEXT NOT NULL,
      at           INTEGER NOT NULL,
      PRIMARY KEY (execution_id, name)
    ) WITHOUT ROWID;

    -- A rowid table on purpose: rowid order is the order executions were marked.
    CREATE TABLE runnable (
      execution_id TEXT PRIMARY KEY
    );
  )sql");
}

// Version 2: durable queue items with leases (DurableQueue). Adds a table; v1 data is untouched.
void create_v2(SQLite::Database& db) {
  db.exec(R"sql(
    -- A rowid table on purpose: seq (the rowid) is the enqueue order, the leasing tie-breaker.
    CREATE TABLE queue_items (
      seq                 INTEGER PRIMARY KEY,
      queue               TEXT NOT NULL,
      key                 TEXT NOT NULL,
      payload             TEXT NOT NULL,
      state               INTEGER NOT NULL,
      attempts            INTEGER NOT NULL DEFAULT 0,
      ready_at            INTEGER NOT NULL,
      lease_owner         TEXT NOT NULL DEFAULT '',
      lease_until         INTEGER NOT NULL DEFAULT 0,
      result              TEXT NOT NULL DEFAULT '',
      error               TEXT NOT NULL DEFAULT '',
      waiter_execution_id TEXT NOT NULL DEFAULT '',
      waiter_deferred     TEXT NOT NULL DEFAULT '',
      enqueued_at         INTEGER NOT NULL,
      updated_at          INTEGER NOT NULL,
      UNIQUE (queue, key)
    );
    -- Leasing reads these in order and stops at `now`. Partial, so ended items (which pile up
    -- until deleted) cost the hot path nothing.
    CREATE INDEX queue_items_ready ON queue_items (queue, ready_at) WHERE state = 1;
    CREATE INDEX queue_items_leased ON queue_items (queue, lease_until) WHERE state = 2;
  )sql");
}

// Event streams (stream_entry.hpp): one row per entry, keyed by (execution, offset); a partial
// unique index makes the deduplication keys unique per execution.
void add_stream_tables(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE stream_entries (
      execution_id TEXT NOT NULL,
      seq          INTEGER NOT NULL,
      kind         TEXT NOT NULL,
      data         TEXT NOT NULL,
      time         INTEGER NOT NULL,
      key          TEXT,
      PRIMARY KEY (execution_id, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX stream_entries_key ON stream_entries (execution_id, key)
      WHERE key IS NOT NULL;
  )sql");
}

// DurableRateLimiter's state: one row per named limit (store_common.hpp's PermitState).
void add_rate_limit_tables(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE rate_limits (
      name TEXT PRIMARY KEY,
      kind INTEGER NOT NULL,
      mark INTEGER NOT NULL,
      used INTEGER NOT NULL
    ) WITHOUT ROWID;
  )sql");
}

// Management (continue-as-new, restart, retention): each execution's run number and the execution
// it was forked from, and an index to find finished executions by when they finished.
void add_management_columns(SQLite::Database& db) {
  db.exec(R"sql(
    ALTER TABLE executions ADD COLUMN run INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE executions ADD COLUMN forked_from TEXT NOT NULL DEFAULT '';
    CREATE INDEX executions_by_finish ON executions (status, updated_at, id);
  )sql");
}

// Version 3: event streams, rate limits, and the management columns (run, forked_from); v1 and
// v2 data is untouched.
void create_v3(SQLite::Database& db) {
  add_stream_tables(db);
  add_rate_limit_tables(db);
  add_management_columns(db);
}

// Version 4: the tables do not change, their meaning does. A journal's next index is one past its
// last event's and its last change time is that event's (or the last status change's):
// executions.next_index and updated_at are refreshed only by status changes, so progress writes
// leave the row alone. A version-3 build would trust the stale columns, so it must refuse the
// file, which the version bump makes it do. Existing rows are already exact.
void derive_progress_from_events(SQLite::Database&) {}

// Version 5: the journal is keyed by an integer per execution (executions.journal, unique, given
// at creation as one past the largest) instead of the execution's text id. A group commit writes
// one or two events for each of many executions, and rows keyed by a ~40-byte id spread over
// twice the pages that rows keyed by a small integer do: integer keys halved the WAL pages of a
// commit's events and raised steps/s on SQLite by 10-35% (bench/README.md). Existing
// executions are numbered in creation order; their events keep their indexes. (Events whose
// execution row is gone, which no store operation leaves behind, are not carried over.)
void key_journals_by_integer(SQLite::Database& db) {
  db.exec(R"sql(
    ALTER TABLE executions ADD COLUMN journal INTEGER NOT NULL DEFAULT 0;
    CREATE TEMP TABLE journal_keys (id TEXT PRIMARY KEY, journal INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO journal_keys
      SELECT id, row_number() OVER (ORDER BY created_at, id) FROM executions;
    UPDATE executions SET journal = k.journal FROM journal_keys k WHERE k.id = executions.id;
    DROP TABLE journal_keys;
    CREATE UNIQUE INDEX executions_by_journal ON executions (journal);

    CREATE TABLE events_by_journal (
      journal INTEGER NOT NULL,
      idx     INTEGER NOT NULL,
      type    INTEGER NOT NULL,
      op      INTEGER NOT NULL,
      name    TEXT NOT NULL,
      data    TEXT NOT NULL,
      time    INTEGER NOT NULL,
      PRIMARY KEY (journal, idx)
    ) WITHOUT ROWID;
    INSERT INTO events_by_journal (journal, idx, type, op, name, data, time)
      SELECT x.journal, e.idx, e.type, e.op, e.name, e.data, e.time
      FROM events e JOIN executions x ON x.id = e.execution_id
      ORDER BY x.journal, e.idx;
    DROP TABLE events;
    ALTER TABLE events_by_journal RENAME TO events;
  )sql");
}

// Version 6: events are stored in the order they were committed (a rowid table), found by a
// unique index on (journal, idx). A group commit writes one or two events for each of many
// executions; clustered by (journal, idx), each of those rows lands on its own execution's leaf
// page, so a commit wrote about one page per execution and more once journals outgrew a page (a
// step's cost grew with the history before it). In commit order the rows of a commit share a few
// tail pages, and only the index's small entries stay spread by execution. Existing journals are
// copied in (journal, idx) order, so old rows stay stored together.
void store_events_in_commit_order(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE events_in_commit_order (
      seq     INTEGER PRIMARY KEY,
      journal INTEGER NOT NULL,
      idx     INTEGER NOT NULL,
      type    INTEGER NOT NULL,
      op      INTEGER NOT NULL,
      name    TEXT NOT NULL,
      data    TEXT NOT NULL,
      time    INTEGER NOT NULL
    );
    INSERT INTO events_in_commit_order (journal, idx, type, op, name, data, time)
      SELECT journal, idx, type, op, name, data, time FROM events ORDER BY journal, idx;
    DROP TABLE events;
    ALTER TABLE events_in_commit_order RENAME TO events;
    CREATE UNIQUE INDEX events_by_journal ON events (journal, idx);
  )sql");
}

// Version 7: a journal is stored in segments of about 16 events, each under a key of its own
// (journal_segments), and events are found by (segment, idx). Keys are given one past the
// largest, so the current segments of all live executions have the newest keys and their index
// entries sit together at the index's end: a group commit over many executions writes a few
// index pages, not one per execution as with (journal, idx), whose entries for one execution
// filled pages of their own once its journal had a few hundred events (a step's cost grew with
// the history before it; bench/README.md). Each existing journal becomes one segment whose key
// is its journal key.
void store_journals_in_segments(SQLite::Database& db) {
  db.exec(R"sql(
    CREATE TABLE journal_segments (
      segment   INTEGER PRIMARY KEY,
      journal   INTEGER NOT NULL,
      first_idx INTEGER NOT NULL
    );
    INSERT INTO journal_segments (segment, journal, first_idx)
      SELECT journal, journal, 0 FROM executions;
    CREATE UNIQUE INDEX journal_segments_by_journal ON journal_segments (journal, first_idx);
    DROP INDEX events_by_journal;
    ALTER TABLE events RENAME COLUMN journal TO segment;
    CREATE UNIQUE INDEX events_by_segment ON events (segment, idx);
  )sql");
}

using Migration = void (*)(SQLite::Database&);

// kMigrations[v] brings a database from version v to v + 1. Append only; never edit a shipped one.
constexpr std::array<Migration, 7> kMigrations{&create_v1,
                                               &create_v2,
                                               &create_v3,
                                               &derive_progress_from_events,
                                               &key_journals_by_integer,
                                               &store_events_in_commit_order,
                                               &store_journals_in_segments};

void write_version(SQLite::Database& db, int version) {
  SQLite::Statement set(db,
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  set.bind(1, version);
  set.exec();
}

}  // namespace

int current_schema_version() {
  return static_cast<int>(kMigrations.size());
}

int read_schema_version(SQLite::Database& db, const std::string& path) {
  if (!db.tableExists("meta")) {
    SQLite::Statement tables(db, "SELECT count(*) FROM sqlite_master");
    tables.executeStep();
    if (tables.getColumn(0).getInt64() > 0) {
      throw StoreError(fmt::format("sqlite store {}: the file is a SQLite database but not a "
                                   "durable journal (it has tables but no meta table)",
                                   path),
                       /*retryable=*/false);
    }
    return 0;
  }
  SQLite::Statement get(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!get.executeStep() || !get.getColumn(0).isInteger()) {
    throw StoreError(
        fmt::format("sqlite store {}: the meta table has no integer schema_version", path),
        /*retryable=*/false);
  }
  return get.getColumn(0).getInt();
}

void refuse_newer_schema(int version, const std::string& path) {
  if (version > current_schema_version()) {
    throw StoreError(fmt::format("sqlite store {}: schema version {} is newer than this build of "
                                 "durable supports ({}); open it with a newer durable. The file "
                                 "was not modified.",
                                 path, version, current_schema_version()),
                     /*retryable=*/false);
  }
}

void migrate(SQLite::Database& db, const std::string& path, int target_version) {
  if (target_version < 1 || target_version > current_schema_version()) {
    throw StoreError(fmt::format("sqlite store {}: cannot migrate to unknown schema version {}",
                                 path, target_version),
                     /*retryable=*/false);
  }
  SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
  int version = read_schema_version(db, path);
  refuse_newer_schema(version, path);
  if (version >= target_version) return;  // rolls back an empty transaction
  for (int v = version; v < target_version; ++v) {
    kMigrations[static_cast<std::size_t>(v)](db);
    write_version(db, v + 1);
  }
  transaction.commit();
}

}  // namespace durable::store
