// What only a file-backed store promises: reopening, schema versions, damaged rows, several
// connections to one file (each connection stands in for a process).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "contract/store_fixtures.hpp"
#include "durable/errors.hpp"
#include "durable/sqlite_store.hpp"
#include "store/sqlite_schema.hpp"

namespace durable::testing {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class SqliteStoreFile : public ::testing::Test {
 protected:
  std::shared_ptr<SqliteStore> open(SqliteOptions options = {}) {
    return SqliteStore::open(path_, options);
  }

  // A raw connection, as the sqlite3 shell or another program would have.
  SQLite::Database raw() { return SQLite::Database(path_, SQLite::OPEN_READWRITE); }

  // Creates `id` with `events` events after event 0.
  void seed(JournalStore& store, const std::string& id, int events) {
    store.commit(creates({new_execution(id)}));
    store.commit(writes({append(id, 1, events)}));
  }

  // load_events must fail with a non-retryable StoreError whose message contains `parts`.
  void expect_load_error(const std::string& id, std::initializer_list<std::string> parts) {
    auto store = open();
    try {
      store->load_events(id, 0);
      FAIL() << "a damaged journal was loaded";
    } catch (const StoreError& e) {
      EXPECT_FALSE(e.retryable());
      for (const std::string& part : parts) EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  }

  // The executions rows of the version-5 and version-6 fixtures (their events are the tests'):
  // 'a-open' (running, journal 1) and 'b-done' (completed with 9, journal 2).
  static void insert_two_executions(SQLite::Database& db) {
    db.exec(R"sql(
      INSERT INTO executions (id, workflow, input, status, result, next_index, created_at,
                              updated_at, journal)
        VALUES ('a-open', 'publish', '{"n":1}', 'running', '', 1, 1000, 1000, 1),
               ('b-done', 'publish', '{"n":2}', 'completed', '9', 3, 2000, 2500, 2);
    )sql");
  }

  // The two journals the version-4 and version-5 fixtures write, read back through the store:
  // `running` (started, a `now` of 5 at 1.5 s) and `completed` (started, a `now`, completed).
  static void expect_migrated_journals(JournalStore& store, const std::string& running,
                                       const std::string& completed) {
    std::vector<Event> first = store.load_events(running, 0);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[1].data, R"({"value":5})");
    EXPECT_EQ(first[1].time, TimePoint{Duration{1500}});
    std::vector<Event> second = store.load_events(completed, 1);
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second[0].index, 1);
    EXPECT_EQ(second[1].type, EventType::kCompleted);
    EXPECT_EQ(store.get_execution(running)->next_index, 2);
  }

  TempDir dir_;
  std::string path_ = dir_.file("journal.db");
};

TEST_F(SqliteStoreFile, EverythingSurvivesReopen) {
  {
    auto store = open();
    seed(*store, "a", 2);
    ExecutionWrite wait = write_to("a", 3);
    wait.status = ExecutionStatus::kWaiting;
    wait.waiting_on = "timer nap";
    wait.set_timers.push_back({.execution_id = "", .op = 1, .due = at(60)});
    store->commit(writes({wait}));
    store->resolve_deferred("a", "approval", R"({"ok":true})", at(5));
    store->request_cancel("a");
  }
  auto store = open();
  ExecutionRecord r = *store->get_execution("a");
  EXPECT_EQ(r.status, ExecutionStatus::kWaiting);
  EXPECT_EQ(r.waiting_on, "timer nap");
  EXPECT_EQ(r.next_index, 3);
  EXPECT_TRUE(r.cancel_requested);
  EXPECT_EQ(store->load_events("a", 0).size(), 3u);
  ASSERT_EQ(store->due_timers(at(60), 10).size(), 1u);
  EXPECT_EQ(store->get_deferred("a", "approval")->value, R"({"ok":true})");
  EXPECT_EQ(store->take_runnable(10), std::vector<std::string>{"a"});
}

TEST_F(SqliteStoreFile, TokenSecretSurvivesReopen) {
  std::string secret = open()->token_secret();
  EXPECT_EQ(open()->token_secret(), secret);
}

TEST_F(SqliteStoreFile, OpensInWalModeAtTheCurrentSchemaVersion) {
  open();
  SQLite::Database db = raw();
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(), 7);
  EXPECT_EQ(store::current_schema_version(), 7);
  EXPECT_TRUE(db.tableExists("queue_items"));
  EXPECT_TRUE(db.tableExists("stream_entries"));
  EXPECT_TRUE(db.tableExists("rate_limits"));
}

// A file as durable 0.2 (schema version 2) left it: its executions come back as run 1, forked from
// nothing, with empty event streams; its queue items stay; every version-3 operation works on it.
TEST_F(SqliteStoreFile, AVersion2FileMigratesForwardKeepingItsDataAndGainsTheVersion3Tables) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db, path_, 2);
    db.exec(R"sql(
      INSERT INTO executions (id, workflow, input, status, waiting_on, next_index, created_at,
                              updated_at)
        VALUES ('old', 'publish', '{"n":1}', 'running', '', 1, 1000, 1000);
      INSERT INTO events VALUES ('old', 0, 1, -1, 'publish',
                                 '{"input":{"n":1},"workflow":"publish"}', 1000);
      INSERT INTO executions (id, workflow, input, status, result, next_index, created_at,
                              updated_at)
        VALUES ('done', 'publish', '{"n":1}', 'completed', '7', 3, 1000, 2000);
      INSERT INTO events VALUES ('done', 0, 1, -1, 'publish',
                                 '{"input":{"n":1},"workflow":"publish"}', 1000);
      INSERT INTO events VALUES ('done', 1, 11, 0, 'now', '{"value":5}', 1500);
      INSERT INTO events VALUES ('done', 2, 13, -1, '', '{"value":7}', 2000);
      INSERT INTO queue_items (queue, key, payload, state, ready_at, enqueued_at, updated_at)
        VALUES ('resize', 'k1', '{"w":10}', 1, 1000, 1000, 1000);
    )sql");
    ASSERT_FALSE(db.tableExists("stream_entries"));
    ASSERT_FALSE(db.tableExists("rate_limits"));
  }
  auto store = open();
  {
    SQLite::Database db = raw();
    EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(),
              store::current_schema_version());
    EXPECT_TRUE(db.tableExists("stream_entries"));
    EXPECT_TRUE(db.tableExists("rate_limits"));
  }
  EXPECT_EQ(store->load_events("old", 0).size(), 1u);
  EXPECT_EQ(store->get_item("resize", "k1")->payload, R"({"w":10})");

  // Event streams: an execution created before them has an empty one that appends start at 0.
  EXPECT_TRUE(store->read_stream("old", 0, 10).empty());
  NewStreamEntry entry;
  entry.kind = "log";
  entry.data = R"({"line":"hello"})";
  EXPECT_EQ(store->append_stream("old", {entry}), std::vector<std::int64_t>{0});
  EXPECT_EQ(store->read_stream("old", 0, 10).at(0).data, R"({"line":"hello"})");

  // Rate limits.
  RateLimit limit{
      .name = "api", .kind = RateLimitKind::kFixedWindow, .permits = 1, .period = Duration{1000}};
  EXPECT_TRUE(store->acquire_permit(limit, TimePoint{Duration{5000}}).granted);

  // Management: run 1, forked from nothing; fork and retention work.
  ExecutionRecord r = *store->get_execution("done");
  EXPECT_EQ(r.run, 1);
  EXPECT_EQ(r.forked_from, "");
  EXPECT_EQ(r.result, "7");
  ForkRequest fork{.source_id = "done", .new_id = "again", .from_step = 1, .created_at = at(9)};
  EXPECT_EQ(store->fork_execution(fork).outcome, ForkOutcome::kForked);
  EXPECT_EQ(store->load_events("again", 0).size(), 2u);
  EXPECT_EQ(store->delete_finished(TimePoint{std::chrono::seconds(3)}, 10), 1u);
  EXPECT_FALSE(store->get_execution("done"));
}

// A file as a version-3 build left it: its rows' next_index and updated_at are exact, and stay
// what the store reports after the migration; progress appended afterwards (which no longer
// rewrites the executions row) shows in both.
TEST_F(SqliteStoreFile, AVersion3FileMigratesForwardAndReportsProgressFromItsEvents) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db, path_, 3);
    db.exec(R"sql(
      INSERT INTO executions (id, workflow, input, status, next_index, created_at, updated_at)
        VALUES ('old', 'publish', '{"n":1}', 'running', 2, 1000, 1500);
      INSERT INTO events VALUES ('old', 0, 1, -1, 'publish',
                                 '{"input":{"n":1},"workflow":"publish"}', 1000);
      INSERT INTO events VALUES ('old', 1, 11, 0, 'now', '{"value":5}', 1500);
    )sql");
  }
  auto store = open();
  {
    SQLite::Database db = raw();
    EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(),
              store::current_schema_version());
  }
  ExecutionRecord before = *store->get_execution("old");
  EXPECT_EQ(before.next_index, 2);
  EXPECT_EQ(before.updated_at, TimePoint{Duration{1500}});

  ExecutionWrite progress = append("old", 2, 2);
  progress.events[0].time = TimePoint{Duration{1600}};
  progress.events[1].time = TimePoint{Duration{1700}};
  store->commit(writes({progress}));
  ExecutionRecord after = *store->get_execution("old");
  EXPECT_EQ(after.next_index, 4);
  EXPECT_EQ(after.updated_at, TimePoint{Duration{1700}});
  ListQuery all;
  EXPECT_EQ(store->list_executions(all).executions.at(0).next_index, 4);
  EXPECT_THROW(store->commit(writes({append("old", 2, 1)})), StaleWriteError);
  EXPECT_EQ(store->load_events("old", 0).size(), 4u);
}

// A file as a version-4 build left it (events keyed by the execution's text id): every journal
// comes back whole and in order under an integer key of its own, numbered in creation order;
// progress, a new execution, a fork and a purge work on it, and new executions get keys past
// the migrated ones.
TEST_F(SqliteStoreFile, AVersion4FileMigratesToIntegerJournalKeysKeepingEveryJournal) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db, path_, 4);
    db.exec(R"sql(
      INSERT INTO executions (id, workflow, input, status, result, next_index, created_at,
                              updated_at)
        VALUES ('b-later', 'publish', '{"n":2}', 'completed', '9', 3, 2000, 2500),
               ('a-sooner', 'publish', '{"n":1}', 'running', '', 1, 1000, 1000);
      INSERT INTO events VALUES ('a-sooner', 0, 1, -1, 'publish',
                                 '{"input":{"n":1},"workflow":"publish"}', 1000);
      INSERT INTO events VALUES ('a-sooner', 1, 11, 0, 'now', '{"value":5}', 1500);
      INSERT INTO events VALUES ('b-later', 0, 1, -1, 'publish',
                                 '{"input":{"n":2},"workflow":"publish"}', 2000);
      INSERT INTO events VALUES ('b-later', 1, 11, 0, 'now', '{"value":6}', 2100);
      INSERT INTO events VALUES ('b-later', 2, 13, -1, '', '{"value":9}', 2500);
    )sql");
  }
  auto store = open();
  {
    SQLite::Database db = raw();
    EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(),
              store::current_schema_version());
    EXPECT_EQ(db.execAndGet("SELECT journal FROM executions WHERE id = 'a-sooner'").getInt(), 1);
    EXPECT_EQ(db.execAndGet("SELECT journal FROM executions WHERE id = 'b-later'").getInt(), 2);
    EXPECT_EQ(db.execAndGet("SELECT count(*) FROM events").getInt(), 5);
  }
  expect_migrated_journals(*store, "a-sooner", "b-later");
  EXPECT_EQ(store->get_execution("b-later")->updated_at, TimePoint{Duration{2500}});

  store->commit(writes({append("a-sooner", 2)}));
  EXPECT_THROW(store->commit(writes({append("a-sooner", 2)})), StaleWriteError);
  store->commit(creates({new_execution("c-new")}));
  ForkRequest fork{
      .source_id = "b-later", .new_id = "b-again", .from_step = 1, .created_at = at(9)};
  ASSERT_EQ(store->fork_execution(fork).outcome, ForkOutcome::kForked);
  EXPECT_EQ(store->delete_finished(TimePoint{std::chrono::seconds(3)}, 10), 1u);  // b-later
  EXPECT_EQ(store->load_events("a-sooner", 0).size(), 3u);
  EXPECT_EQ(store->load_events("c-new", 0).size(), 1u);
  EXPECT_EQ(store->load_events("b-again", 0).size(), 2u);
  EXPECT_TRUE(store->load_events("b-later", 0).empty());
  SQLite::Database db = raw();
  EXPECT_EQ(db.execAndGet("SELECT count(DISTINCT journal) FROM executions").getInt(), 3);
  EXPECT_GT(db.execAndGet("SELECT min(journal) FROM executions WHERE id IN ('c-new', 'b-again')")
                .getInt(),
            2);
}

// A file as durable 0.1 (schema version 1) left it: built by the shipped version-1 migration, with
// rows written as that code wrote them.
TEST_F(SqliteStoreFile, AVersion1FileMigratesToTheCurrentVersionKeepingItsData) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db, path_, 1);
    db.exec(R"sql(
      INSERT INTO executions (id, workflow, input, status, waiting_on, next_index, created_at,
                              updated_at)
        VALUES ('old', 'publish', '{"n":1}', 'waiting', 'deferred approval', 2, 1000, 2000);
      INSERT INTO events VALUES ('old', 0, 1, -1, 'publish',
                                 '{"input":{"n":1},"workflow":"publish"}', 1000);
      INSERT INTO events VALUES ('old', 1, 8, 0, 'approval', '{}', 2000);
      INSERT INTO timers VALUES ('old', 0, 90000);
      INSERT INTO deferreds VALUES ('old', 'approval', 1, '{"ok":true}', 3000);
      INSERT INTO runnable (execution_id) VALUES ('old');
    )sql");
    ASSERT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(), 1);
    ASSERT_FALSE(db.tableExists("queue_items"));
  }

  auto store = open();
  {
    SQLite::Database db = raw();
    EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(),
              store::current_schema_version());
    EXPECT_TRUE(db.tableExists("queue_items"));
  }
  ExecutionRecord r = *store->get_execution("old");
  EXPECT_EQ(r.workflow, "publish");
  EXPECT_EQ(r.status, ExecutionStatus::kWaiting);
  EXPECT_EQ(r.waiting_on, "deferred approval");
  EXPECT_EQ(r.next_index, 2);
  std::vector<Event> events = store->load_events("old", 0);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, EventType::kDeferredAwaited);
  EXPECT_EQ(events[1].name, "approval");
  ASSERT_EQ(store->due_timers(TimePoint{std::chrono::seconds(90)}, 10).size(), 1u);
  EXPECT_EQ(store->get_deferred("old", "approval")->value, R"({"ok":true})");
  EXPECT_EQ(store->take_runnable(10), std::vector<std::string>{"old"});

  // The old journal goes on, and the new table works, in the same file.
  store->commit(writes({append("old", 2, 1)}));
  EXPECT_EQ(store->enqueue(awaited_item("q", "k", "old", "q:1")), EnqueueOutcome::kEnqueued);
  ASSERT_EQ(store->lease_items("q", "w", 1, std::chrono::seconds(1), at(1)).size(), 1u);
  EXPECT_TRUE(store->complete_item("q", "k", "w", true, "5", at(2)));
  EXPECT_EQ(store->take_runnable(10), std::vector<std::string>{"old"});

  // Reopening a migrated file migrates nothing again.
  store.reset();
  EXPECT_EQ(open()->get_item("q", "k")->state, QueueItemState::kDone);
}

// A file as a version-5 build left it (events clustered by (journal, idx)): every journal comes
// back whole and in order from the table in commit order, the unique index still refuses a second
// event at a taken index, and journals go on, fork and are purged.
TEST_F(SqliteStoreFile, AVersion5FileMigratesToEventsInCommitOrderKeepingEveryJournal) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db, path_, 5);
    insert_two_executions(db);
    db.exec(R"sql(
      INSERT INTO events VALUES (2, 2, 13, -1, '', '{"value":9}', 2500);
      INSERT INTO events VALUES (1, 1, 11, 0, 'now', '{"value":5}', 1500);
      INSERT INTO events VALUES (2, 0, 1, -1, 'publish',
                                 '{"input":{"n":2},"workflow":"publish"}', 2000);
      INSERT INTO events VALUES (1, 0, 1, -1, 'publish',
                                 '{"input":{"n":1},"workflow":"publish"}', 1000);
      INSERT INTO events VALUES (2, 1, 11, 0, 'now', '{"value":6}', 2100);
    )sql");
    store::migrate(db, path_, 6);  // the shape version 6 gave the events (version 7 renames)
    EXPECT_EQ(db.execAndGet("SELECT count(*) FROM events").getInt(), 5);
    // Copied journal by journal: each old journal's rows are neighbours in the new table.
    EXPECT_EQ(db.execAndGet("SELECT group_concat(journal || ':' || idx, ' ') FROM "
                            "(SELECT journal, idx FROM events ORDER BY seq)")
                  .getString(),
              "1:0 1:1 2:0 2:1 2:2");
    EXPECT_THROW(db.exec("INSERT INTO events (journal, idx, type, op, name, data, time) "
                         "VALUES (1, 1, 11, 0, 'now', '{\"value\":7}', 1600)"),
                 SQLite::Exception);
  }
  auto store = open();
  expect_migrated_journals(*store, "a-open", "b-done");

  store->commit(writes({append("a-open", 2, 2)}));
  EXPECT_THROW(store->commit(writes({append("a-open", 2)})), StaleWriteError);
  ForkRequest fork{.source_id = "b-done", .new_id = "b-again", .from_step = 1, .created_at = at(9)};
  ASSERT_EQ(store->fork_execution(fork).outcome, ForkOutcome::kForked);
  EXPECT_EQ(store->delete_finished(TimePoint{std::chrono::seconds(3)}, 10), 1u);  // b-done
  std::vector<Event> grown = store->load_events("a-open", 0);
  ASSERT_EQ(grown.size(), 4u);
  for (std::size_t i = 0; i < grown.size(); ++i) EXPECT_EQ(grown[i].index, static_cast<int>(i));
  EXPECT_EQ(store->load_events("b-again", 0).size(), 2u);
  EXPECT_TRUE(store->load_events("b-done", 0).empty());
}

// A file as a version-6 build left it (events in commit order, found by (journal, idx)): each
// journal becomes one segment keyed by its journal key, every journal comes back whole, the
// unique (segment, idx) index still refuses a second event at a taken index, and journals go on
// (into new segments once the first holds 16 events), fork and are purged with all their
// segments.
TEST_F(SqliteStoreFile, AVersion6FileMigratesToJournalSegmentsKeepingEveryJournal) {
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db, path_, 6);
    insert_two_executions(db);
    db.exec(R"sql(
      INSERT INTO events (journal, idx, type, op, name, data, time) VALUES
        (1, 0, 1, -1, 'publish', '{"input":{"n":1},"workflow":"publish"}', 1000),
        (2, 0, 1, -1, 'publish', '{"input":{"n":2},"workflow":"publish"}', 2000),
        (1, 1, 11, 0, 'now', '{"value":5}', 1500),
        (2, 1, 11, 0, 'now', '{"value":6}', 2100),
        (2, 2, 13, -1, '', '{"value":9}', 2500);
    )sql");
  }
  auto store = open();
  {
    SQLite::Database db = raw();
    EXPECT_EQ(db.execAndGet("SELECT group_concat(segment || '>' || journal || '@' || first_idx, "
                            "' ') FROM (SELECT * FROM journal_segments ORDER BY segment)")
                  .getString(),
              "1>1@0 2>2@0");
    EXPECT_EQ(db.execAndGet("SELECT group_concat(segment || ':' || idx, ' ') FROM "
                            "(SELECT segment, idx FROM events ORDER BY seq)")
                  .getString(),
              "1:0 2:0 1:1 2:1 2:2");
    EXPECT_THROW(db.exec("INSERT INTO events (segment, idx, type, op, name, data, time) "
                         "VALUES (1, 1, 11, 0, 'now', '{\"value\":7}', 1600)"),
                 SQLite::Exception);
  }
  expect_migrated_journals(*store, "a-open", "b-done");

  for (std::int64_t next = 2; next < 40; ++next) store->commit(writes({append("a-open", next)}));
  std::vector<Event> grown = store->load_events("a-open", 0);
  ASSERT_EQ(grown.size(), 40u);
  for (std::size_t i = 0; i < grown.size(); ++i) EXPECT_EQ(grown[i].index, static_cast<int>(i));
  EXPECT_EQ(store->get_execution("a-open")->next_index, 40);
  EXPECT_EQ(raw()
                .execAndGet("SELECT group_concat(first_idx, ' ') FROM (SELECT first_idx FROM "
                            "journal_segments WHERE journal = 1 ORDER BY first_idx)")
                .getString(),
            "0 16 32");
  ForkRequest fork{.source_id = "b-done", .new_id = "b-again", .from_step = 1, .created_at = at(9)};
  ASSERT_EQ(store->fork_execution(fork).outcome, ForkOutcome::kForked);
  EXPECT_EQ(store->delete_finished(TimePoint{std::chrono::seconds(3)}, 10), 1u);  // b-done
  EXPECT_EQ(store->load_events("b-again", 0).size(), 2u);
  EXPECT_TRUE(store->load_events("b-done", 0).empty());
  EXPECT_EQ(raw().execAndGet("SELECT count(*) FROM journal_segments WHERE journal = 2").getInt(),
            0);
}

// Executions written a step at a time, interleaved in every commit as group commit writes them,
// each over many segments: every journal loads whole and in order, with its next index and last
// event time, from this connection and after reopening; continue-as-new and purging drop all of
// a journal's segments and touch no other journal.
TEST_F(SqliteStoreFile, InterleavedJournalsOverManySegmentsLoadWholeAndInOrder) {
  constexpr int kExecutions = 5;
  constexpr std::int64_t kEvents = 100;
  auto id_of = [](int i) { return "x" + std::to_string(i); };
  {
    auto store = open();
    CommitBatch create;
    for (int i = 0; i < kExecutions; ++i) create.creates.push_back(new_execution(id_of(i)));
    store->commit(create);
    for (std::int64_t next = 1; next < kEvents; ++next) {
      std::vector<ExecutionWrite> round;
      for (int i = 0; i < kExecutions; ++i) {
        // One execution writes three events at once now and then: a write never splits.
        if (i == 4 && next % 3 != 1) continue;
        round.push_back(append(id_of(i), next, i == 4 ? 3 : 1));
        for (Event& e : round.back().events) e.time = at(static_cast<int>(e.index));
      }
      store->commit(writes(round));
    }
    EXPECT_EQ(store->load_events(id_of(0), 0).size(), static_cast<std::size_t>(kEvents));
  }
  auto store = open();
  for (int i = 0; i < kExecutions; ++i) {
    std::vector<Event> events = store->load_events(id_of(i), 0);
    ASSERT_EQ(events.size(), static_cast<std::size_t>(kEvents)) << id_of(i);
    for (std::size_t k = 0; k < events.size(); ++k) {
      ASSERT_EQ(events[k].index, static_cast<std::int64_t>(k)) << id_of(i);
    }
    EXPECT_EQ(store->get_execution(id_of(i))->next_index, kEvents);
    EXPECT_EQ(store->get_execution(id_of(i))->updated_at, at(kEvents - 1));
    std::vector<Event> tail = store->load_events(id_of(i), 37);
    ASSERT_EQ(tail.size(), static_cast<std::size_t>(kEvents - 37));
    EXPECT_EQ(tail.front().index, 37);
  }
  EXPECT_GE(raw().execAndGet("SELECT count(*) FROM journal_segments").getInt(),
            kExecutions * (kEvents / 16));

  ExecutionWrite next_run = write_to(id_of(1), kEvents);
  next_run.continue_as_new = R"({"n":2})";
  next_run.continued_at = at(50);
  store->commit(writes({next_run}));
  ASSERT_EQ(store->load_events(id_of(1), 0).size(), 1u);
  store->commit(writes({append(id_of(1), 1, 20)}));
  EXPECT_EQ(store->load_events(id_of(1), 0).size(), 21u);
  EXPECT_EQ(store->get_execution(id_of(1))->next_index, 21);

  ExecutionWrite done = write_to(id_of(2), kEvents);
  done.status = ExecutionStatus::kCompleted;
  store->commit(writes({done}));
  EXPECT_EQ(store->delete_finished(at(1'000'000), 10), 1u);
  EXPECT_TRUE(store->load_events(id_of(2), 0).empty());
  EXPECT_EQ(raw()
                .execAndGet("SELECT count(*) FROM journal_segments s WHERE NOT EXISTS "
                            "(SELECT 1 FROM executions x WHERE x.journal = s.journal)")
                .getInt(),
            0);
  EXPECT_EQ(raw()
                .execAndGet("SELECT count(*) FROM events e WHERE NOT EXISTS "
                            "(SELECT 1 FROM journal_segments s WHERE s.segment = e.segment)")
                .getInt(),
            0);
  for (int i : {0, 3, 4}) {
    EXPECT_EQ(store->load_events(id_of(i), 0).size(), static_cast<std::size_t>(kEvents));
  }
}

// Under synchronous=FULL the store gathers a commit's WAL frames and writes them when SQLite syncs
// (src/store/sqlite_wal_batching.hpp). Whatever the commit's size, it must be whole in the file
// once commit() returns: another connection, through SQLite's own VFS, reads every row of it.
// The sizes: a single small event; 300 executions' 2 KiB events in one commit (more than one
// write call of the unix VFS takes, 128 KiB); one 3 MiB event (longer than a gathered run);
// 12 MiB in one commit (past SQLite's page cache, so pages are written, and some written again,
// before the commit).
TEST_F(SqliteStoreFile, CommitsOfEverySizeAreWholeInTheFileForAnotherConnectionOnceCommitted) {
  for (SqliteOptions::Sync sync : {SqliteOptions::Sync::kFull, SqliteOptions::Sync::kNormal}) {
    TempDir dir;
    path_ = dir.file("journal.db");
    auto store = open({.sync = sync});
    SQLite::Database other = raw();
    auto json_text = [](std::size_t bytes) { return "\"" + std::string(bytes, 'x') + "\""; };
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
    auto commit_events = [&](int executions, int per_execution, std::size_t size) {
      CommitBatch batch;
      for (int x = 0; x < executions; ++x) {
        std::string id = fmt::format("x{}-{}", rows, x);
        batch.creates.push_back(new_execution(id));
        ExecutionWrite write = write_to(id, 1);
        for (int i = 0; i < per_execution; ++i)
          write.events.push_back(event(1 + i, EventType::kSideEffect, i, json_text(size)));
        batch.writes.push_back(std::move(write));
      }
      store->commit(batch);
      rows += executions * (1 + per_execution);
      bytes += static_cast<std::int64_t>(executions * per_execution) *
               static_cast<std::int64_t>(size + 2);
      // Every row (event 0 of each execution included), and every byte of the events' data.
      EXPECT_EQ(other.execAndGet("SELECT count(*) FROM events").getInt64(), rows);
      EXPECT_EQ(other.execAndGet("SELECT sum(length(data)) FROM events WHERE op >= 0").getInt64(),
                bytes);
    };
    commit_events(1, 1, 10);
    commit_events(300, 1, 2048);
    commit_events(1, 1, std::size_t{3} << 20);
    commit_events(12, 256, 4096);
    std::vector<Event> last = store->load_events(fmt::format("x{}-11", rows - 12 * 257), 0);
    ASSERT_EQ(last.size(), 257u);
    EXPECT_EQ(last.back().data, json_text(4096));
  }
}

TEST_F(SqliteStoreFile, AFileOneVersionNewerIsRefusedAndNotModified) {
  seed(*open(), "a", 1);  // closed: its WAL is checkpointed into the file and removed
  raw().exec(fmt::format("UPDATE meta SET value = {} WHERE key = 'schema_version'",
                         store::current_schema_version() + 1));
  std::string before = read_bytes(path_);
  try {
    open();
    FAIL() << "a newer schema was opened";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(contains(e.what(), std::to_string(store::current_schema_version() + 1)))
        << e.what();
  }
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(SqliteStoreFile, NewerSchemaIsRefusedAndTheFileIsNotModified) {
  {
    // Made by hand in rollback-journal mode, so that even the switch to WAL would show.
    SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta VALUES ('schema_version', 999);"
        "CREATE TABLE from_the_future (x);");
  }
  std::string before = read_bytes(path_);
  try {
    open();
    FAIL() << "a newer schema was opened";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(contains(e.what(), "999")) << e.what();
  }
  EXPECT_EQ(read_bytes(path_), before);
  EXPECT_EQ(raw().execAndGet("PRAGMA journal_mode").getString(), "delete");
}

TEST_F(SqliteStoreFile, ADatabaseOfAnotherProgramIsRefused) {
  SQLite::Database(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)
      .exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
  EXPECT_THROW(open(), StoreError);
  EXPECT_FALSE(raw().tableExists("executions"));
}

TEST_F(SqliteStoreFile, AFileThatIsNotADatabaseIsRefused) {
  std::ofstream(path_) << "this is not a database, it is a text file of some length\n";
  try {
    open();
    FAIL() << "a text file was opened as a journal";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(contains(e.what(), path_)) << e.what();
  }
}

TEST_F(SqliteStoreFile, UndecodableEventTypeNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 3);
  raw().exec(
      "UPDATE events SET type = 99 WHERE segment IN (SELECT segment FROM journal_segments JOIN "
      "executions USING (journal) WHERE id = "
      "'order-7') AND idx = 2");
  expect_load_error("order-7", {"order-7", "event 2", "type"});
}

TEST_F(SqliteStoreFile, NonIntegerEventTypeNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 3);
  raw().exec(
      "UPDATE events SET type = 'garbage' WHERE segment IN (SELECT segment FROM journal_segments "
      "JOIN executions USING (journal) WHERE id "
      "= 'order-7') AND idx = 3");
  expect_load_error("order-7", {"order-7", "event 3"});
}

TEST_F(SqliteStoreFile, UndecodableEventDataNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 3);
  raw().exec(
      "UPDATE events SET data = '{\"value\": tru' WHERE segment IN (SELECT segment FROM "
      "journal_segments JOIN executions USING (journal) "
      "WHERE id = 'order-7') AND idx = 1");
  expect_load_error("order-7", {"order-7", "event 1", "data"});
}

TEST_F(SqliteStoreFile, BinaryEventDataNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 1);
  raw().exec(
      "UPDATE events SET data = x'00ff' WHERE segment IN (SELECT segment FROM journal_segments "
      "JOIN executions USING (journal) WHERE id = "
      "'order-7') AND idx = 1");
  expect_load_error("order-7", {"order-7", "event 1"});
}

TEST_F(SqliteStoreFile, AMissingEventIsReportedAsAGap) {
  seed(*open(), "order-7", 3);
  raw().exec(
      "DELETE FROM events WHERE segment IN (SELECT segment FROM journal_segments JOIN executions "
      "USING (journal) WHERE id = 'order-7') "
      "AND idx = 2");
  expect_load_error("order-7", {"order-7", "event 2", "missing"});
}

TEST_F(SqliteStoreFile, UndecodableStatusNamesTheExecution) {
  seed(*open(), "order-7", 1);
  raw().exec("UPDATE executions SET status = 'dancing' WHERE id = 'order-7'");
  try {
    open()->get_execution("order-7");
    FAIL() << "an unknown status was decoded";
  } catch (const StoreError& e) {
    EXPECT_TRUE(contains(e.what(), "order-7")) << e.what();
    EXPECT_TRUE(contains(e.what(), "dancing")) << e.what();
  }
}

TEST_F(SqliteStoreFile, ASecondConnectionSeesCommitsOfTheFirst) {
  auto first = open();
  auto second = open();
  seed(*first, "a", 2);
  ASSERT_TRUE(second->get_execution("a"));
  EXPECT_EQ(second->get_execution("a")->next_index, 3);
  EXPECT_EQ(second->load_events("a", 0).size(), 3u);
  EXPECT_EQ(second->list_executions(Query()).executions.size(), 1u);
}

// A connection remembers the next index of what it wrote; another connection's commit in between
// must make it look again, in both directions: refuse what is now stale, accept what is now due.
TEST_F(SqliteStoreFile, AWriterSeesWhatAnotherConnectionAppendedSinceItsOwnLastCommit) {
  auto first = open();
  auto second = open();
  seed(*first, "a", 0);
  first->commit(writes({append("a", 1)}));  // first now expects 2
  second->commit(writes({append("a", 2)}));
  EXPECT_THROW(first->commit(writes({append("a", 2)})), StaleWriteError);
  first->commit(writes({append("a", 3)}));
  second->commit(writes({append("a", 4, 2)}));
  EXPECT_THROW(first->commit(writes({append("a", 4)})), StaleWriteError);
  first->commit(writes({append("a", 6)}));
  std::vector<Event> events = first->load_events("a", 0);
  ASSERT_EQ(events.size(), 7u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].index, std::int64_t(i));
}

// Stream offsets are remembered the same way: appends through two connections, in commits and
// through append_stream, interleave without a gap or a duplicate, and a key taken through the
// other connection gives the other connection's offset.
TEST_F(SqliteStoreFile, StreamAppendsThroughTwoConnectionsInterleaveWithoutGaps) {
  auto first = open();
  auto second = open();
  seed(*first, "a", 0);
  auto entry = [](std::string key) {
    return NewStreamEntry{.kind = "progress", .data = "{}", .time = at(1), .key = std::move(key)};
  };
  auto write_with = [&](std::int64_t expected, std::string key) {
    ExecutionWrite w = write_to("a", expected);
    w.stream.push_back(entry(std::move(key)));
    return writes({std::move(w)});
  };
  std::int64_t base = first->read_stream("a", 0, 100).size();  // what seeding appended
  first->commit(write_with(1, "k1"));                          // first remembers base + 1
  EXPECT_EQ(second->append_stream("a", {entry("k2")}), std::vector<std::int64_t>{base + 1});
  first->commit(write_with(1, "k3"));
  EXPECT_EQ(first->append_stream("a", {entry("")}), std::vector<std::int64_t>{base + 3});
  second->commit(write_with(1, ""));
  EXPECT_EQ(first->append_stream("a", {entry("k2"), entry("k6")}),
            (std::vector<std::int64_t>{base + 1, base + 5}));
  std::vector<StreamEntry> stream = first->read_stream("a", 0, 100);
  ASSERT_EQ(stream.size(), static_cast<std::size_t>(base + 6));
  for (std::size_t i = 0; i < stream.size(); ++i) EXPECT_EQ(stream[i].offset, std::int64_t(i));
  EXPECT_EQ(stream[base + 5].key, "k6");
}

// Journal keys are given one past the largest: a connection that remembers where it counted to
// must look again after another connection created executions, so no two share a journal.
TEST_F(SqliteStoreFile, ExecutionsCreatedThroughTwoConnectionsKeepTheirJournalsApart) {
  auto first = open();
  auto second = open();
  for (int i = 0; i < 3; ++i) {
    first->commit(creates({new_execution(fmt::format("first-{}", i))}));
    second->commit(creates({new_execution(fmt::format("second-{}", i))}));
  }
  first->commit(writes({append("second-0", 1, 2)}));
  second->commit(writes({append("first-2", 1, 3)}));
  EXPECT_EQ(raw().execAndGet("SELECT count(DISTINCT journal) FROM executions").getInt(), 6);
  EXPECT_EQ(first->load_events("second-0", 0).size(), 3u);
  EXPECT_EQ(first->load_events("first-2", 0).size(), 4u);
  for (const char* id : {"first-0", "first-1", "second-1", "second-2"}) {
    EXPECT_EQ(second->load_events(id, 0).size(), 1u) << id;
  }
}

TEST_F(SqliteStoreFile, AStaleWriterOnAnotherConnectionIsRefused) {
  auto first = open();
  auto second = open();
  seed(*first, "a", 0);
  std::int64_t seen_by_second = second->get_execution("a")->next_index;
  first->commit(writes({append("a", 1)}));
  EXPECT_THROW(second->commit(writes({append("a", seen_by_second)})), StaleWriteError);
  EXPECT_EQ(first->load_events("a", 0).size(), 2u);
}

TEST_F(SqliteStoreFile, AResolutionThroughAnotherConnectionWakesTheFirst) {
  auto engine = open();
  auto other_process = open();
  seed(*engine, "a", 0);
  EXPECT_EQ(other_process->resolve_deferred("a", "approval", "true", at(1)),
            ResolveOutcome::kResolved);
  EXPECT_EQ(engine->take_runnable(10), std::vector<std::string>{"a"});
  EXPECT_TRUE(other_process->take_runnable(10).empty());
  EXPECT_EQ(engine->get_deferred("a", "approval")->value, "true");
}

TEST_F(SqliteStoreFile, UndecodableItemStateNamesTheQueueAndKey) {
  open()->enqueue(queue_item("emails", "k-9"));
  raw().exec("UPDATE queue_items SET state = 42");
  try {
    open()->get_item("emails", "k-9");
    FAIL() << "an unknown item state was decoded";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(contains(e.what(), "emails")) << e.what();
    EXPECT_TRUE(contains(e.what(), "k-9")) << e.what();
  }
}

// Each connection stands in for a worker process: BEGIN IMMEDIATE must keep them from leasing one
// item twice.
TEST_F(SqliteStoreFile, WorkersOnSeveralConnectionsLeaseEachItemOnce) {
  constexpr int kItems = 80;
  constexpr int kWorkers = 4;
  {
    auto producer = open();
    for (int i = 0; i < kItems; ++i) producer->enqueue(queue_item("q", "k" + std::to_string(i)));
  }
  std::vector<std::shared_ptr<SqliteStore>> connections;
  for (int w = 0; w < kWorkers; ++w) connections.push_back(open());
  std::vector<std::vector<std::string>> got(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      std::string owner = "worker-" + std::to_string(w);
      while (true) {
        auto batch = connections[w]->lease_items("q", owner, 2, std::chrono::minutes(1), at(1));
        if (batch.empty()) break;
        for (const QueueItem& item : batch) {
          got[w].push_back(item.key);
          // Ending the item through the owner's connection must succeed: nobody else has it.
          EXPECT_TRUE(connections[w]->complete_item("q", item.key, owner, true, "1", at(2)));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::multiset<std::string> all;
  for (const auto& keys : got) all.insert(keys.begin(), keys.end());
  EXPECT_EQ(all.size(), std::size_t{kItems});
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(all.count("k" + std::to_string(i)), 1u) << i;
}

TEST_F(SqliteStoreFile, AnItemCompletedThroughAnotherConnectionWakesTheWaiter) {
  auto engine = open();
  auto worker = open();
  seed(*engine, "w", 0);
  CommitBatch process = writes({append("w", 1, 1)});
  process.enqueues = {awaited_item("q", "w:1", "w", "q:1")};
  engine->commit(process);
  ASSERT_EQ(worker->lease_items("q", "worker", 1, std::chrono::seconds(30), at(1)).size(), 1u);
  ASSERT_TRUE(worker->complete_item("q", "w:1", "worker", true, R"("sent")", at(2)));
  EXPECT_EQ(engine->take_runnable(10), std::vector<std::string>{"w"});
  EXPECT_EQ(engine->get_deferred("w", "q:1")->value, R"({"ok":true,"value":"sent"})");
}

TEST_F(SqliteStoreFile, ConnectionsShareOneTokenSecret) {
  auto first = open();
  auto second = open();
  EXPECT_EQ(first->token_secret(), second->token_secret());
}

TEST_F(SqliteStoreFile, AHeldWriteLockIsARetryableError) {
  auto store =
      open({.sync = SqliteOptions::Sync::kFull, .busy_timeout = std::chrono::milliseconds(20)});
  seed(*store, "a", 0);
  SQLite::Database other = raw();
  SQLite::Transaction holding(other, SQLite::TransactionBehavior::IMMEDIATE);
  try {
    store->commit(writes({append("a", 1)}));
    FAIL() << "a commit succeeded while another connection held the write lock";
  } catch (const StoreError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
  }
  EXPECT_EQ(store->get_execution("a")->next_index, 1);
}

TEST_F(SqliteStoreFile, ReadsDoNotWaitForACommitHeldUpByAnotherConnection) {
  // A commit waits (holding the store's writer) for a write lock another connection holds; a
  // handle's or a dashboard's read must answer meanwhile, with what is committed. Were reads on
  // the writer's connection, the read would wait until the commit gave up (busy_timeout) and the
  // commit would then fail.
  auto store = open({.sync = SqliteOptions::Sync::kFull, .busy_timeout = std::chrono::seconds(5)});
  seed(*store, "a", 1);
  SQLite::Database other = raw();
  auto holding =
      std::make_unique<SQLite::Transaction>(other, SQLite::TransactionBehavior::IMMEDIATE);
  std::atomic<bool> committing{false};
  std::atomic<bool> committed{false};
  std::thread writer([&] {
    committing = true;
    try {
      store->commit(writes({append("a", 2)}));
      committed = true;
    } catch (const StoreError&) {
      // gave up waiting: `committed` stays false
    }
  });
  while (!committing) std::this_thread::yield();

  std::optional<ExecutionRecord> record = store->get_execution("a");
  std::vector<Event> events = store->load_events("a", 0);
  EXPECT_FALSE(committed);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->next_index, 2);
  EXPECT_EQ(events.size(), 2u);

  holding.reset();  // rolls back: the commit goes through
  writer.join();
  EXPECT_TRUE(committed);
  EXPECT_EQ(store->get_execution("a")->next_index, 3);
  EXPECT_EQ(store->load_events("a", 0).size(), 3u);
}

}  // namespace
}  // namespace durable::testing
