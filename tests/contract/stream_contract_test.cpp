// The event-stream part of the JournalStore contract (append_stream, read_stream, and the stream
// entries commit() and creation write), run against every store.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "contract/store_fixtures.hpp"
#include "durable/errors.hpp"
#include "durable/memory_store.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::testing {
namespace {

struct StreamStoreFactory {
  std::string name;
  std::function<std::shared_ptr<JournalStore>(const TempDir&)> make;
};

void PrintTo(const StreamStoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

NewStreamEntry entry(std::string kind, std::string data = R"({"n":1})", std::string key = {},
                     TimePoint time = at(2)) {
  NewStreamEntry e;
  e.kind = std::move(kind);
  e.data = std::move(data);
  e.time = time;
  e.key = std::move(key);
  return e;
}

class StreamContract : public ::testing::TestWithParam<StreamStoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(dir_);
    store_->commit(creates({new_execution("a", "greet")}));
  }

  std::vector<std::string> kinds(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& e : store_->read_stream(id, 0, 1000)) out.push_back(e.kind);
    return out;
  }

  void finish(const std::string& id, ExecutionStatus status) {
    ExecutionWrite write = write_to(id, store_->get_execution(id)->next_index);
    write.status = status;
    store_->commit(writes({write}));
  }

  TempDir dir_;
  std::shared_ptr<JournalStore> store_;
};

TEST_P(StreamContract, CreationWritesTheStartedStatusAtOffsetZero) {
  auto entries = store_->read_stream("a", 0, 10);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].offset, 0);
  EXPECT_EQ(entries[0].kind, "status");
  auto data = nlohmann::json::parse(entries[0].data);
  EXPECT_EQ(data["status"], "started");
  EXPECT_EQ(data["workflow"], "greet");
  EXPECT_EQ(entries[0].time, at(0));
}

TEST_P(StreamContract, AppendsGetConsecutiveOffsetsAndReadBackInOrder) {
  EXPECT_EQ(store_->append_stream("a", {entry("log", R"({"i":1})"), entry("log", R"({"i":2})")}),
            (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(store_->append_stream("a", {entry("progress", R"({"done":3})", "", at(7))}),
            std::vector<std::int64_t>{3});
  auto entries = store_->read_stream("a", 1, 10);
  ASSERT_EQ(entries.size(), 3u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].offset, static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(entries[1].data, R"({"i":2})");
  EXPECT_EQ(entries[2].kind, "progress");
  EXPECT_EQ(entries[2].time, at(7));
}

TEST_P(StreamContract, ReadHonoursOffsetAndLimit) {
  for (int i = 0; i < 5; ++i) store_->append_stream("a", {entry("log")});
  auto page = store_->read_stream("a", 2, 2);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].offset, 2);
  EXPECT_EQ(page[1].offset, 3);
  EXPECT_EQ(store_->read_stream("a", 5, 10).size(), 1u);
  EXPECT_TRUE(store_->read_stream("a", 6, 10).empty());
  EXPECT_TRUE(store_->read_stream("a", 99, 10).empty());
  EXPECT_EQ(store_->read_stream("a", -3, 1).at(0).offset, 0);
}

TEST_P(StreamContract, ReadingAnUnknownExecutionIsEmpty) {
  EXPECT_TRUE(store_->read_stream("nobody", 0, 10).empty());
}

TEST_P(StreamContract, AKeyAlreadyInTheStreamAppendsNothingAndReportsTheFirstOffset) {
  EXPECT_EQ(store_->append_stream("a", {entry("log", R"({"v":1})", "act:0:1:0")}),
            std::vector<std::int64_t>{1});
  // A retried append of the same entry, alone and in a batch with a new one.
  EXPECT_EQ(store_->append_stream("a", {entry("log", R"({"v":2})", "act:0:1:0")}),
            std::vector<std::int64_t>{1});
  EXPECT_EQ(store_->append_stream(
                "a", {entry("log", R"({"v":1})", "act:0:1:0"), entry("log", "{}", "act:0:1:1")}),
            (std::vector<std::int64_t>{1, 2}));
  // A key repeated within one append.
  EXPECT_EQ(store_->append_stream("a", {entry("log", "{}", "k"), entry("log", "{}", "k")}),
            (std::vector<std::int64_t>{3, 3}));
  auto entries = store_->read_stream("a", 0, 10);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[1].data, R"({"v":1})");  // the first append wins
  EXPECT_EQ(entries[1].key, "act:0:1:0");
}

TEST_P(StreamContract, KeysArePerExecution) {
  store_->commit(creates({new_execution("b")}));
  EXPECT_EQ(store_->append_stream("a", {entry("log", "{}", "k")}), std::vector<std::int64_t>{1});
  EXPECT_EQ(store_->append_stream("b", {entry("log", "{}", "k")}), std::vector<std::int64_t>{1});
}

TEST_P(StreamContract, EntriesWithoutKeysAreNeverDeduplicated) {
  store_->append_stream("a", {entry("log"), entry("log")});
  store_->append_stream("a", {entry("log")});
  EXPECT_EQ(store_->read_stream("a", 0, 10).size(), 4u);
}

TEST_P(StreamContract, BadAppendsAreRefusedNamingTheExecutionAndChangeNothing) {
  auto refused = [&](const std::string& id, std::vector<NewStreamEntry> entries,
                     const std::string& mention) {
    try {
      store_->append_stream(id, entries);
      ADD_FAILURE() << "accepted an append that should be refused: " << mention;
    } catch (const StoreError& e) {
      EXPECT_FALSE(e.retryable());
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  };
  refused("nobody", {entry("log")}, "nobody");
  refused("a", {entry("log"), entry("")}, "kind is empty");
  refused("a", {entry("log"), entry("log", "{not json")}, "not valid JSON");
  EXPECT_EQ(store_->read_stream("a", 0, 10).size(), 1u);  // the good first entries did not land
}

TEST_P(StreamContract, CommitAppendsAWritesEntriesAtomicallyWithItsEvents) {
  ExecutionWrite write = append("a", 1, 2);
  write.stream = {entry("progress", R"({"p":1})", "wf:1:0"), entry("status", "{}", "status:3")};
  store_->commit(writes({write}));
  EXPECT_EQ(kinds("a"), (std::vector<std::string>{"status", "progress", "status"}));
  // Committing an entry whose key exists appends nothing.
  ExecutionWrite again = write_to("a", 3);
  again.stream = {entry("progress", R"({"p":1})", "wf:1:0")};
  store_->commit(writes({again}));
  EXPECT_EQ(store_->read_stream("a", 0, 10).size(), 3u);
}

TEST_P(StreamContract, ARefusedCommitAppendsNothing) {
  ExecutionWrite stale = write_to("a", 7);  // wrong index
  stale.stream = {entry("log")};
  EXPECT_THROW(store_->commit(writes({stale})), StaleWriteError);
  ExecutionWrite bad = write_to("a", 1);
  bad.stream = {entry("log"), entry("log", "nope")};
  EXPECT_THROW(store_->commit(writes({bad})), StoreError);
  EXPECT_EQ(store_->read_stream("a", 0, 10).size(), 1u);
}

TEST_P(StreamContract, TheWriteThatFinishesAnExecutionCarriesItsLastEntries) {
  ExecutionWrite write = write_to("a", 1);
  write.status = ExecutionStatus::kCompleted;
  write.stream = {entry("log"), entry("status", R"({"status":"completed"})")};
  store_->commit(writes({write}));
  EXPECT_EQ(store_->read_stream("a", 0, 10).size(), 3u);
}

TEST_P(StreamContract, AppendsToAFinishedExecutionAreDropped) {
  store_->append_stream("a", {entry("log", "{}", "early")});
  for (auto status :
       {ExecutionStatus::kCompleted, ExecutionStatus::kFailed, ExecutionStatus::kCancelled}) {
    std::string id = "x" + std::string(to_string(status));
    store_->commit(creates({new_execution(id)}));
    finish(id, status);
    EXPECT_EQ(store_->append_stream(id, {entry("log")}), std::vector<std::int64_t>{-1});
    EXPECT_EQ(store_->read_stream(id, 0, 10).size(), 1u) << id;
  }
  finish("a", ExecutionStatus::kCompleted);
  // A key already there still reports its offset.
  EXPECT_EQ(store_->append_stream("a", {entry("log", "{}", "early"), entry("log")}),
            (std::vector<std::int64_t>{1, -1}));
}

TEST_P(StreamContract, AnExecutionThatNeedsAttentionStillAcceptsAppends) {
  finish("a", ExecutionStatus::kNeedsAttention);
  EXPECT_EQ(store_->append_stream("a", {entry("log")}), std::vector<std::int64_t>{1});
}

TEST_P(StreamContract, ConcurrentAppendersGetDistinctGaplessOffsets) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Every thread also re-appends a shared key: it lands once.
        store_->append_stream("a", {entry("log", "{}", fmt::format("t{}:{}", t, i)),
                                    entry("log", "{}", fmt::format("shared:{}", i))});
      }
    });
  }
  for (auto& t : threads) t.join();
  auto entries = store_->read_stream("a", 0, 10'000);
  ASSERT_EQ(entries.size(), 1u + kThreads * kEach + kEach);
  std::set<std::string> keys;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].offset, static_cast<std::int64_t>(i));
    if (i > 0) {
      EXPECT_TRUE(keys.insert(entries[i].key).second) << entries[i].key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, StreamContract,
    ::testing::Values(
        StreamStoreFactory{"Memory", [](const TempDir&) { return MemoryStore::create(); }},
        StreamStoreFactory{
            "Sqlite", [](const TempDir& dir) { return SqliteStore::open(dir.file("store.db")); }}),
    [](const ::testing::TestParamInfo<StreamStoreFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace durable::testing
