// SqliteStore's connection: the database handle, its cached statements, and the multi-statement
// operations the public methods compose. Private to the SQLite store.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "durable/sqlite_store.hpp"
#include "store/sqlite_support.hpp"

namespace durable {
namespace store {

// Since schema version 4, next_index and updated_at come from the journal's last event (the row's
// columns are refreshed only with a status change); since version 7 that event is in the
// journal's current segment, the one with the largest first_idx: two seeks.
inline constexpr const char* kExecutionColumns =
    "id, workflow, input, status, waiting_on, result, error, "
    "(SELECT COALESCE(max(e.idx), -1) + 1 FROM events e WHERE e.segment = "
    "(SELECT s.segment FROM journal_segments s WHERE s.journal = executions.journal "
    "ORDER BY s.first_idx DESC LIMIT 1)), "
    "cancel_requested, created_at, "
    "max(updated_at, COALESCE((SELECT e.time FROM events e WHERE e.segment = "
    "(SELECT s.segment FROM journal_segments s WHERE s.journal = executions.journal "
    "ORDER BY s.first_idx DESC LIMIT 1) ORDER BY e.idx DESC LIMIT 1), updated_at)), "
    "run, forked_from";

inline constexpr const char* kItemColumns =
    "seq, queue, key, payload, state, attempts, ready_at, lease_owner, lease_until, result, error, "
    "waiter_execution_id, waiter_deferred, enqueued_at, updated_at";

// The prepared statements of the queue-item operations (sqlite_store_queue.cpp).
struct ItemStatements {
  explicit ItemStatements(SQLite::Database& db);
  SQLite::Statement insert, select, select_ready, select_expired, lease, renew, end, release;
};

// The prepared statements of the event-stream operations (sqlite_store_stream.cpp).
struct StreamStatements {
  explicit StreamStatements(SQLite::Database& db);
  SQLite::Statement next_offset, find_key, insert, select;
};

// Throws StoreError (not retryable) for a row this code cannot decode; `what` says where.
[[noreturn]] void corrupt_journal(const std::string& path, const std::string& what);

// The SQL of a select of one execution (kExecutionColumns) by id, and of its events from an index
// on, in order: prepared by both connections below.
std::string select_execution_sql();
inline constexpr const char* kSelectEventsSql =
    "SELECT e.idx, e.type, e.op, e.name, e.data, e.time "
    "FROM journal_segments s JOIN events e ON e.segment = s.segment "
    "WHERE s.journal = (SELECT journal FROM executions WHERE id = ?) "
    "AND e.idx >= ? ORDER BY s.first_idx, e.idx";

// The connection of get_execution and load_events, so that reads from other threads (a handle
// waiting for its result, describe, history) neither wait behind a commit and its fsync nor
// hold up the next one: in WAL mode a reader never blocks the writer, and each statement sees
// every transaction committed before it began (whoever saw a commit return reads what it wrote).
// Opened once the writer has made the schema current; it never writes (query_only). The caller
// holds `mutex` for every use: like the writer, it is opened without SQLite's own mutex. Rows it
// reads are decoded by Impl::decode_execution and decode_event, which touch nothing but `path`.
struct ReadConnection {
  ReadConnection(const std::string& path, const SqliteOptions& options);
  std::mutex mutex;
  SQLite::Database db;
  SQLite::Statement select_execution, select_events;
};

}  // namespace store

struct SqliteStore::Impl {
  // Opens (creating or migrating) the database and prepares the hot-path statements.
  Impl(const std::string& path, const SqliteOptions& options);

  // The caller holds `mutex` for all of these, and for every use of `db` and its statements:
  // the connection is opened without SQLite's own mutex (SQLITE_OPEN_NOMUTEX).
  CommitResult commit(const CommitBatch& batch);
  CommitResult commit_batch(const CommitBatch& batch);  // commit() without its error handling
  std::optional<std::string> status_of(const std::string& id, bool* cancel_requested = nullptr);
  std::optional<DeferredRecord> find_deferred(const std::string& execution_id,
                                              const std::string& name);
  void insert_deferred_row(const DeferredRecord& record);
  void mark(const std::string& id);
  // resolve_deferred's rules, inside the caller's transaction.
  ResolveOutcome resolve(const std::string& execution_id, const std::string& name,
                         const std::string& value, TimePoint now);
  // Validates `item` (and that its waiter exists) and inserts it unless (queue, key) exists.
  EnqueueOutcome enqueue(const NewQueueItem& item);
  // Appends one entry to an execution's stream, or finds the entry with its key (the caller
  // checked the entry and that the execution is not finished), inside the caller's transaction.
  std::int64_t append_stream_entry(const std::string& execution_id, const NewStreamEntry& entry);
  // append_stream's transaction (the caller forgets what it remembers if this throws).
  std::vector<std::int64_t> append_stream_entries(const std::string& execution_id,
                                                  const std::vector<NewStreamEntry>& entries);
  // The offset of the entry with `key`, if any.
  std::optional<std::int64_t> stream_key_offset(const std::string& execution_id,
                                                const std::string& key);
  ExecutionRecord decode_execution(SQLite::Statement& row);
  // Replaces the execution's journal (key `journal`), timers and deferreds by the next run
  // (ExecutionWrite); returns the key of the new run's segment.
  std::int64_t continue_as_new(const ExecutionWrite& write, std::int64_t journal);
  // Deletes every event and segment of journal `journal`.
  void delete_journal(std::int64_t journal);
  // Deletes the execution's timers and deferreds.
  void drop_timers_and_deferreds(const std::string& id);
  Event decode_event(SQLite::Statement& row, const std::string& execution_id);
  // A row of kItemColumns; `seq` receives the enqueue sequence when not null.
  QueueItem decode_item(SQLite::Statement& row, std::int64_t* seq = nullptr);

  const std::string path;
  std::mutex mutex;
  SQLite::Database db;
  // Every write transaction of this connection (store::WriteTransaction) runs these.
  store::TransactionStatements transactions;
  // Prepared once per connection: the hot paths (commit, replay) never re-parse SQL.
  SQLite::Statement select_journal, insert_execution, insert_event, update_status, upsert_timer,
      delete_timer, select_execution, select_events, select_due_timers, select_status,
      select_deferred, insert_deferred, insert_runnable;
  // Multi-row inserts of commit()'s events (kWideRows and kNarrowRows rows per statement): with
  // one statement per event its fixed cost was most of a commit's CPU.
  static constexpr int kWideRows = 32;
  static constexpr int kNarrowRows = 8;
  SQLite::Statement insert_events_wide, insert_events_narrow;
  store::ItemStatements items;
  store::StreamStatements stream;
  std::optional<std::string> token_secret;
  // Constructed after `db`, which creates or migrates the schema first.
  store::ReadConnection reader;

  // An execution's journal: its integer key (schema version 5), the index its next event takes,
  // and its current segment (version 7): the segment's key and the index of its first event.
  struct Journal {
    std::int64_t key = 0;
    std::int64_t next_index = 0;
    std::int64_t segment = 0;
    std::int64_t segment_first = 0;
  };
  // A journal's events go to a new segment once its current one holds this many: small enough
  // that the current segments of many live executions share index pages, large enough that a
  // load seeks once per this many events.
  static constexpr std::int64_t kSegmentEvents = 16;
  // The journal of `id` (next_index -1 and key 0 when there is no such execution), remembered or
  // read; inside the caller's write transaction.
  Journal journal_of(const std::string& id);
  // A key for a new execution's journal: one past the largest, read once and then counted on
  // (remembered like the journals below); inside the caller's write transaction.
  std::int64_t allocate_journal_key();
  // Starts a segment of `journal` at event `first_idx` under a new key (given as journal keys
  // are) and returns the key; inside the caller's write transaction.
  std::int64_t start_segment(std::int64_t journal, std::int64_t first_idx);

  // What this connection knows of the executions it wrote: their journals (key, next index), the
  // next offset of their streams, and the next free journal key, so that writes need not read
  // them back (the journal's SELECT was a fifth of a commit's CPU). Exact only while no other
  // connection has committed: every write transaction calls check_data_version() first, which
  // compares PRAGMA data_version (it changes exactly when another connection commits) with
  // `known_data_version` and starts afresh when it moved. A failed write, and anything else on
  // this connection that changes a journal or a stream, calls forget_next_indexes(). Each map
  // holds at most kMaxKnownJournals ids (a cache, never a leak).
  static constexpr std::size_t kMaxKnownJournals = 16'384;
  std::unordered_map<std::string, Journal> known_journals;
  std::unordered_map<std::string, std::int64_t> known_stream_next;
  std::int64_t next_journal_key = -1;  // -1: not known
  std::int64_t next_segment_key = -1;  // -1: not known
  std::int64_t known_data_version = -1;
  SQLite::Statement select_data_version, select_max_journal_key, select_max_segment_key,
      insert_segment_row;
  void check_data_version();
  void forget_next_indexes() {
    known_journals.clear();
    known_stream_next.clear();
    next_journal_key = -1;
    next_segment_key = -1;
    known_data_version = -1;
  }
};

}  // namespace durable
