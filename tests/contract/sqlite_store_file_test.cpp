// What only a file-backed store promises: reopening, schema versions, damaged rows, several
// connections to one file (each connection stands in for a process).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "contract/store_fixtures.hpp"
#include "durable/errors.hpp"
#include "durable/sqlite_store.hpp"

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
  EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getInt(), 1);
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
  raw().exec("UPDATE events SET type = 99 WHERE execution_id = 'order-7' AND idx = 2");
  expect_load_error("order-7", {"order-7", "event 2", "type"});
}

TEST_F(SqliteStoreFile, NonIntegerEventTypeNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 3);
  raw().exec("UPDATE events SET type = 'garbage' WHERE execution_id = 'order-7' AND idx = 3");
  expect_load_error("order-7", {"order-7", "event 3"});
}

TEST_F(SqliteStoreFile, UndecodableEventDataNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 3);
  raw().exec(
      "UPDATE events SET data = '{\"value\": tru' WHERE execution_id = 'order-7' AND idx = 1");
  expect_load_error("order-7", {"order-7", "event 1", "data"});
}

TEST_F(SqliteStoreFile, BinaryEventDataNamesTheExecutionAndIndex) {
  seed(*open(), "order-7", 1);
  raw().exec("UPDATE events SET data = x'00ff' WHERE execution_id = 'order-7' AND idx = 1");
  expect_load_error("order-7", {"order-7", "event 1"});
}

TEST_F(SqliteStoreFile, AMissingEventIsReportedAsAGap) {
  seed(*open(), "order-7", 3);
  raw().exec("DELETE FROM events WHERE execution_id = 'order-7' AND idx = 2");
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

}  // namespace
}  // namespace durable::testing
