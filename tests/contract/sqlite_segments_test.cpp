// The SQLite store keeps each journal in segments of a few events (schema version 7), found
// through journal_segments. Whatever the writes, a journal must read back exactly as the memory
// store, which keeps one vector per execution, gives it: this test drives both with the same
// random batches and compares them after every batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "contract/store_fixtures.hpp"
#include "durable/memory_store.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::testing {
namespace {

struct Live {
  std::string id;
  std::int64_t next = 1;  // the journal's next index
};

// The two stores' views of one execution agree: its events from `from` on, field by field, and
// its next index.
void expect_same_journal(JournalStore& memory, JournalStore& sqlite, const std::string& id,
                         std::int64_t from, int step) {
  std::vector<Event> want = memory.load_events(id, from);
  std::vector<Event> got = sqlite.load_events(id, from);
  ASSERT_EQ(got.size(), want.size()) << id << " from " << from << " after batch " << step;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].index, want[i].index) << id << " after batch " << step;
    ASSERT_EQ(got[i].type, want[i].type) << id << " event " << want[i].index;
    ASSERT_EQ(got[i].op, want[i].op) << id << " event " << want[i].index;
    ASSERT_EQ(got[i].name, want[i].name) << id << " event " << want[i].index;
    ASSERT_EQ(got[i].data, want[i].data) << id << " event " << want[i].index;
    ASSERT_EQ(got[i].time, want[i].time) << id << " event " << want[i].index;
  }
  ASSERT_EQ(sqlite.get_execution(id)->next_index, memory.get_execution(id)->next_index) << id;
}

TEST(SqliteJournalSegments, RandomWritesReadBackExactlyAsTheMemoryStoreKeepsThem) {
  TempDir dir;
  const std::string path = dir.file("journal.db");
  auto memory = std::make_shared<MemoryStore>();
  std::shared_ptr<JournalStore> sqlite = SqliteStore::open(path);
  std::mt19937 rng(20261201);  // fixed: a failure replays
  auto below = [&](std::int64_t n) { return static_cast<std::int64_t>(rng() % n); };
  // Mostly one to three events per write, now and then up to 40 (one write never splits).
  auto write_size = [&] { return static_cast<int>(below(5) == 0 ? 1 + below(40) : 1 + below(3)); };

  std::vector<Live> live;
  std::vector<std::string> purged;
  int created = 0;
  int second = 0;  // event times: a new second per batch, so a wrong event's time shows
  for (int step = 0; step < 700; ++step) {
    ++second;
    CommitBatch batch;
    bool purge = false;
    std::int64_t what = below(100);
    if (live.size() < 4 || what < 8) {
      std::string id = "x" + std::to_string(created++);
      batch.creates.push_back(new_execution(id));
      // Its first events in the commit that creates it, as the engine writes a new execution.
      if (below(2) == 0) {
        ExecutionWrite first = append(id, 1, write_size());
        first.requires_create = true;
        batch.writes.push_back(std::move(first));
      }
      live.push_back({id, batch.writes.empty() ? 1 : 1 + std::ssize(batch.writes[0].events)});
    } else if (what < 85) {
      // Appends to a few executions, sometimes two writes to one in the same batch.
      std::int64_t writers = 1 + below(std::min<std::int64_t>(4, std::ssize(live)));
      for (std::int64_t w = 0; w < writers; ++w) {
        Live& target = live[static_cast<std::size_t>(below(std::ssize(live)))];
        batch.writes.push_back(append(target.id, target.next, write_size()));
        target.next += std::ssize(batch.writes.back().events);
      }
    } else if (what < 92) {
      Live& target = live[static_cast<std::size_t>(below(std::ssize(live)))];
      ExecutionWrite next_run = append(target.id, target.next, write_size());
      next_run.continue_as_new = R"({"n":2})";
      next_run.continued_at = at(second);
      batch.writes.push_back(std::move(next_run));
      target.next = 1;
    } else if (what < 97) {
      std::size_t victim = static_cast<std::size_t>(below(std::ssize(live)));
      ExecutionWrite done = append(live[victim].id, live[victim].next, 1);
      done.status = ExecutionStatus::kCompleted;
      batch.writes.push_back(std::move(done));
      purged.push_back(live[victim].id);
      purge = true;
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(victim));
    } else {
      sqlite.reset();  // closed and opened again: nothing remembered survives but the file
      sqlite = SqliteStore::open(path);
      continue;
    }
    for (ExecutionWrite& w : batch.writes) {
      for (Event& e : w.events) e.time = at(second);
    }
    memory->commit(batch);
    sqlite->commit(batch);
    if (purge) {
      ASSERT_EQ(sqlite->delete_finished(at(second + 1), 10),
                memory->delete_finished(at(second + 1), 10));
    }

    for (const Live& l : live) {
      expect_same_journal(*memory, *sqlite, l.id, 0, step);
      expect_same_journal(*memory, *sqlite, l.id, below(l.next + 1), step);
    }
    for (const std::string& id : purged) ASSERT_TRUE(sqlite->load_events(id, 0).empty()) << id;
  }
  // Many segments were made and crossed: the random mix is not all short journals.
  std::int64_t longest = 0;
  for (const Live& l : live) longest = std::max(longest, l.next);
  EXPECT_GT(longest, 100);
}

}  // namespace
}  // namespace durable::testing
