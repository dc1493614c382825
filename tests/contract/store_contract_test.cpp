// The JournalStore contract (include/durable/journal_store.hpp), run against every store.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
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

struct StoreFactory {
  std::string name;
  std::function<std::shared_ptr<JournalStore>(const TempDir&)> make;
};

// GTest prints a parameter in test listings; the store's name says all there is to say.
void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

std::string factory_name(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

// Operation 7's activity completion, at 42, as the engine journals one.
Event charge_card_completed(std::int64_t index, std::string data) {
  return Event{.index = index,
               .type = EventType::kActivityCompleted,
               .op = 7,
               .name = "charge card",
               .data = std::move(data),
               .time = at(42)};
}

class StoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(dir_); }

  // Creates `id` and appends `events` side effects, so its next index is 1 + events.
  void create(const std::string& id, int events = 0, TimePoint created = at(0),
              const std::string& workflow = "wf") {
    store_->commit(creates({new_execution(id, workflow, R"({"n":1})", created)}));
    if (events > 0) store_->commit(writes({append(id, 1, events)}));
  }

  void set_status(const std::string& id, ExecutionStatus status) {
    ExecutionRecord record = *store_->get_execution(id);
    ExecutionWrite write = write_to(id, record.next_index);
    write.status = status;
    store_->commit(writes({write}));
  }

  ExecutionRecord record(const std::string& id) {
    auto found = store_->get_execution(id);
    EXPECT_TRUE(found.has_value()) << id;
    return found.value_or(ExecutionRecord{});
  }

  std::vector<std::string> list_ids(ListQuery query) {
    std::vector<std::string> ids;
    for (const ExecutionRecord& r : store_->list_executions(query).executions) ids.push_back(r.id);
    return ids;
  }

  TempDir dir_;
  std::shared_ptr<JournalStore> store_;
};

// --- creation ---------------------------------------------------------------------------------

TEST_P(StoreContract, CreateStoresTheRowAndAStartedEvent) {
  CommitResult result = store_->commit(creates({new_execution("a", "greet", R"({"n":1})", at(3))}));
  ASSERT_EQ(result.created, std::vector<bool>{true});

  ExecutionRecord r = record("a");
  EXPECT_EQ(r.workflow, "greet");
  EXPECT_EQ(r.input, R"({"n":1})");
  EXPECT_EQ(r.status, ExecutionStatus::kRunning);
  EXPECT_EQ(r.next_index, 1);
  EXPECT_FALSE(r.cancel_requested);
  EXPECT_EQ(r.created_at, at(3));
  EXPECT_EQ(r.updated_at, at(3));

  std::vector<Event> events = store_->load_events("a", 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].index, 0);
  EXPECT_EQ(events[0].type, EventType::kStarted);
  EXPECT_EQ(events[0].op, -1);
  EXPECT_EQ(events[0].time, at(3));
  EXPECT_EQ(nlohmann::json::parse(events[0].data),
            (nlohmann::json{{"workflow", "greet"}, {"input", {{"n", 1}}}}));
}

TEST_P(StoreContract, CreatingAnExistingExecutionAgainChangesNothing) {
  create("a", 2);
  CommitResult again = store_->commit(creates({new_execution("a", "other", R"({"n":2})", at(9))}));
  EXPECT_EQ(again.created, std::vector<bool>{false});

  ExecutionRecord r = record("a");
  EXPECT_EQ(r.workflow, "wf");
  EXPECT_EQ(r.input, R"({"n":1})");
  EXPECT_EQ(r.next_index, 3);
  EXPECT_EQ(r.created_at, at(0));
  EXPECT_EQ(store_->load_events("a", 0).size(), 3u);
}

TEST_P(StoreContract, DuplicateCreatesInOneBatchCreateOnce) {
  CommitResult result = store_->commit(
      creates({new_execution("a", "wf", "1"), new_execution("a", "wf", "2"), new_execution("b")}));
  EXPECT_EQ(result.created, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(record("a").input, "1");
  EXPECT_EQ(store_->load_events("a", 0).size(), 1u);
}

TEST_P(StoreContract, CreateWithInputThatIsNotJsonIsRefusedAndChangesNothing) {
  EXPECT_THROW(store_->commit(creates({new_execution("good"), new_execution("bad", "wf", "{x")})),
               StoreError);
  EXPECT_FALSE(store_->get_execution("good"));
  EXPECT_FALSE(store_->get_execution("bad"));
}

// A serialiser's input is taken as it is; the started event is byte for byte what the store would
// have written after parsing it.
TEST_P(StoreContract, SerialisedInputMakesTheSameStartedEventAsParsedInput) {
  const std::string input = nlohmann::json{{"b", {1.5, "x\n\u00e9"}}, {"a", nullptr}}.dump();
  NewExecution vouched = new_execution("vouched", "wf", input);
  vouched.input_is_serialized_json = true;
  store_->commit(creates({new_execution("parsed", "wf", input), vouched}));
  std::vector<Event> parsed = store_->load_events("parsed", 0);
  std::vector<Event> taken = store_->load_events("vouched", 0);
  ASSERT_EQ(parsed.size(), 1u);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].data, parsed[0].data);
  EXPECT_EQ(record("vouched").input, input);
}

// --- commit -----------------------------------------------------------------------------------

TEST_P(StoreContract, EventsAreNumberedWithoutGapsAcrossCommits) {
  create("a");
  store_->commit(writes({append("a", 1, 3)}));
  store_->commit(writes({append("a", 4, 2)}));

  std::vector<Event> events = store_->load_events("a", 0);
  ASSERT_EQ(events.size(), 6u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].index, std::int64_t(i));
  EXPECT_EQ(record("a").next_index, 6);
}

TEST_P(StoreContract, CommittedEventsReadBackFieldForField) {
  create("a");
  ExecutionWrite write = write_to("a", 1);
  write.events.push_back(charge_card_completed(1, R"({"value":"ok"})"));
  write.events.push_back(Event{.index = 2,
                               .type = EventType::kTimerFired,
                               .op = 8,
                               .name = "cool-down",
                               .data = "",
                               .time = at(43)});
  store_->commit(writes({write}));

  std::vector<Event> events = store_->load_events("a", 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].index, 1);
  EXPECT_EQ(events[0].type, EventType::kActivityCompleted);
  EXPECT_EQ(events[0].op, 7);
  EXPECT_EQ(events[0].name, "charge card");
  EXPECT_EQ(events[0].data, R"({"value":"ok"})");
  EXPECT_EQ(events[0].time, at(42));
  EXPECT_EQ(events[1].type, EventType::kTimerFired);
  EXPECT_EQ(events[1].data, "");
}

TEST_P(StoreContract, ACommitConsumingStoresWhatACommitWouldAndKeepsTheBatchShape) {
  create("a");
  ExecutionWrite write = write_to("a", 1);
  write.events.push_back(
      charge_card_completed(1, R"({"value":"a result longer than any short string"})"));
  write.events.push_back(event(2, EventType::kTimerFired, 8, ""));
  write.status = ExecutionStatus::kCompleted;
  write.result = R"("done")";
  CommitBatch batch = creates({new_execution("b")});
  batch.writes.push_back(write);
  batch.writes.push_back(append("b", 1, 2));
  const CommitBatch before = batch;

  CommitResult result = store_->commit_consuming(batch);

  EXPECT_EQ(result.created, std::vector<bool>{true});
  for (const ExecutionWrite& sent : before.writes) {
    std::vector<Event> stored = store_->load_events(sent.execution_id, 1);
    ASSERT_EQ(stored.size(), sent.events.size()) << sent.execution_id;
    for (std::size_t i = 0; i < stored.size(); ++i) {
      EXPECT_EQ(stored[i].index, sent.events[i].index);
      EXPECT_EQ(stored[i].type, sent.events[i].type);
      EXPECT_EQ(stored[i].op, sent.events[i].op);
      EXPECT_EQ(stored[i].name, sent.events[i].name) << sent.execution_id << " " << i;
      EXPECT_EQ(stored[i].data, sent.events[i].data) << sent.execution_id << " " << i;
      EXPECT_EQ(stored[i].time, sent.events[i].time);
    }
  }
  EXPECT_EQ(record("a").status, ExecutionStatus::kCompleted);
  EXPECT_EQ(record("a").result, R"("done")");
  // The shape the engine counts after the commit is kept.
  ASSERT_EQ(batch.writes.size(), before.writes.size());
  for (std::size_t w = 0; w < batch.writes.size(); ++w) {
    ASSERT_EQ(batch.writes[w].events.size(), before.writes[w].events.size());
    for (std::size_t i = 0; i < batch.writes[w].events.size(); ++i) {
      EXPECT_EQ(batch.writes[w].events[i].index, before.writes[w].events[i].index);
    }
  }
}

TEST_P(StoreContract, ARefusedCommitConsumingTakesNothingFromTheBatch) {
  create("a");
  create("b", 1);
  CommitBatch batch = writes({append("a", 1, 2), append("b", 1, 1)});  // b is at 2: stale
  batch.writes[0].events[0].data = R"({"value":"a text long enough to live on the heap"})";
  const CommitBatch before = batch;

  EXPECT_THROW(store_->commit_consuming(batch), StaleWriteError);

  ASSERT_EQ(batch.writes.size(), before.writes.size());
  for (std::size_t w = 0; w < batch.writes.size(); ++w) {
    ASSERT_EQ(batch.writes[w].events.size(), before.writes[w].events.size());
    for (std::size_t i = 0; i < batch.writes[w].events.size(); ++i) {
      EXPECT_EQ(batch.writes[w].events[i].name, before.writes[w].events[i].name);
      EXPECT_EQ(batch.writes[w].events[i].data, before.writes[w].events[i].data);
    }
  }
  EXPECT_EQ(record("a").next_index, 1);
  // The batch, given back whole, commits once the stale write is dropped.
  batch.writes.pop_back();
  store_->commit_consuming(batch);
  EXPECT_EQ(store_->load_events("a", 1).at(0).data, before.writes[0].events[0].data);
}

TEST_P(StoreContract, LoadEventsReturnsTheTailFromAnIndex) {
  create("a", 4);
  std::vector<Event> tail = store_->load_events("a", 3);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].index, 3);
  EXPECT_EQ(tail[1].index, 4);
  EXPECT_TRUE(store_->load_events("a", 5).empty());
  EXPECT_TRUE(store_->load_events("missing", 0).empty());
}

TEST_P(StoreContract, WriteMayNameAnExecutionCreatedInTheSameBatch) {
  CommitBatch batch = creates({new_execution("a")});
  batch.writes.push_back(append("a", 1, 2));
  store_->commit(batch);
  EXPECT_EQ(record("a").next_index, 3);
}

TEST_P(StoreContract, AWriteThatRequiresItsCreateAppliesWhenTheBatchCreatesTheExecution) {
  CommitBatch batch = creates({new_execution("a")});
  batch.writes.push_back(append("a", 1, 2));
  batch.writes.back().requires_create = true;
  CommitResult result = store_->commit(batch);
  EXPECT_TRUE(result.created.at(0));
  EXPECT_EQ(record("a").next_index, 3);
}

TEST_P(StoreContract, AWriteThatRequiresItsCreateIsStaleWhenTheExecutionExistedAlready) {
  // Another writer created "a" first; a write made for the create of this batch, which does not
  // happen, must not land on that execution although its index (1) matches.
  store_->commit(creates({new_execution("a", "wf", R"({"n":2})")}));
  CommitBatch batch = creates({new_execution("a"), new_execution("b")});
  batch.writes.push_back(append("a", 1, 2));
  batch.writes.back().requires_create = true;
  try {
    store_->commit(batch);
    FAIL() << "a write for a create that did not happen was accepted";
  } catch (const StaleWriteError& e) {
    EXPECT_EQ(e.execution_id(), "a");
  }
  EXPECT_EQ(record("a").next_index, 1);
  EXPECT_EQ(record("a").input, R"({"n":2})");
  EXPECT_FALSE(store_->get_execution("b")) << "a refused batch created another execution";
}

TEST_P(StoreContract, TwoWritesToOneExecutionInABatchChain) {
  create("a");
  store_->commit(writes({append("a", 1, 1), append("a", 2, 2)}));
  EXPECT_EQ(record("a").next_index, 4);
}

TEST_P(StoreContract, StaleWriterIsRefusedAndChangesNothing) {
  create("a", 2);
  try {
    store_->commit(writes({append("a", 1, 1)}));
    FAIL() << "a stale write was accepted";
  } catch (const StaleWriteError& e) {
    EXPECT_EQ(e.execution_id(), "a");
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(record("a").next_index, 3);
  EXPECT_EQ(store_->load_events("a", 0).size(), 3u);
}

TEST_P(StoreContract, WriteToAnUnknownExecutionIsRefusedAsStale) {
  try {
    store_->commit(writes({append("ghost", 1)}));
    FAIL() << "a write to an unknown execution was accepted";
  } catch (const StaleWriteError& e) {
    EXPECT_EQ(e.execution_id(), "ghost");
  }
  EXPECT_FALSE(store_->get_execution("ghost"));
}

TEST_P(StoreContract, OneBadWriteLeavesTheRestOfTheBatchUnapplied) {
  create("a");
  create("b", 1);
  CommitBatch batch = creates({new_execution("c")});
  ExecutionWrite good = append("a", 1, 2);
  good.status = ExecutionStatus::kWaiting;
  good.waiting_on = "timer t";
  good.set_timers.push_back(TimerEntry{.execution_id = "", .op = 0, .due = at(5)});
  batch.writes.push_back(good);
  batch.writes.push_back(append("b", 1, 1));  // stale: b is at 2

  EXPECT_THROW(store_->commit(batch), StaleWriteError);
  EXPECT_FALSE(store_->get_execution("c"));
  ExecutionRecord a = record("a");
  EXPECT_EQ(a.next_index, 1);
  EXPECT_EQ(a.status, ExecutionStatus::kRunning);
  EXPECT_TRUE(store_->due_timers(at(100), 10).empty());
  EXPECT_EQ(record("b").next_index, 2);
}

TEST_P(StoreContract, MisnumberedEventsAreRefusedNamingTheExecution) {
  create("a");
  ExecutionWrite write = append("a", 1, 2);
  write.events[1].index = 5;
  try {
    store_->commit(writes({write}));
    FAIL() << "a gap in event numbering was accepted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("execution a"), std::string::npos) << e.what();
  }
  EXPECT_EQ(record("a").next_index, 1);
}

TEST_P(StoreContract, EventDataThatIsNotJsonIsRefused) {
  create("a");
  ExecutionWrite write = append("a", 1, 1);
  write.events[0].data = "{not json";
  EXPECT_THROW(store_->commit(writes({write})), StoreError);
  EXPECT_EQ(record("a").next_index, 1);
}

TEST_P(StoreContract, StatusReplacesWaitingOnResultAndError) {
  create("a");
  ExecutionWrite wait = append("a", 1);
  wait.status = ExecutionStatus::kWaiting;
  wait.waiting_on = "deferred approval";
  store_->commit(writes({wait}));
  EXPECT_EQ(record("a").status, ExecutionStatus::kWaiting);
  EXPECT_EQ(record("a").waiting_on, "deferred approval");

  ExecutionWrite done = append("a", 2);
  done.status = ExecutionStatus::kCompleted;
  done.result = R"("published")";
  store_->commit(writes({done}));
  ExecutionRecord r = record("a");
  EXPECT_EQ(r.status, ExecutionStatus::kCompleted);
  EXPECT_EQ(r.waiting_on, "");
  EXPECT_EQ(r.result, R"("published")");
  EXPECT_EQ(r.error, "");
}

TEST_P(StoreContract, WriteWithoutStatusKeepsTheStatus) {
  create("a");
  ExecutionWrite fail = write_to("a", 1);
  fail.status = ExecutionStatus::kNeedsAttention;
  fail.error = R"({"type":"nondeterminism","message":"op 3"})";
  store_->commit(writes({fail}));
  store_->commit(writes({append("a", 1)}));
  ExecutionRecord r = record("a");
  EXPECT_EQ(r.status, ExecutionStatus::kNeedsAttention);
  EXPECT_EQ(r.error, R"({"type":"nondeterminism","message":"op 3"})");
}

TEST_P(StoreContract, UpdatedAtFollowsTheLatestEventAndStatusChange) {
  create("a");
  ExecutionWrite write = append("a", 1, 2);
  write.events[0].time = at(10);
  write.events[1].time = at(20);
  store_->commit(writes({write}));
  EXPECT_EQ(record("a").updated_at, at(20));
  ExecutionWrite more = append("a", 3, 1);
  more.events[0].time = at(30);
  store_->commit(writes({more}));
  EXPECT_EQ(record("a").updated_at, at(30)) << "progress alone moves updated_at";
  ExecutionWrite finish = append("a", 4, 1);
  finish.events[0].time = at(40);
  finish.status = ExecutionStatus::kCompleted;
  store_->commit(writes({finish}));
  EXPECT_EQ(record("a").updated_at, at(40));
  EXPECT_EQ(record("a").next_index, 5);
  EXPECT_EQ(record("a").created_at, at(0));
}

// --- timers -----------------------------------------------------------------------------------

TEST_P(StoreContract, DueTimersComeEarliestFirstUpToTheLimit) {
  create("a");
  create("b");
  ExecutionWrite a = write_to("a", 1);
  a.set_timers = {{.execution_id = "", .op = 1, .due = at(30)}, {"", 2, at(10)}, {"", 3, at(90)}};
  ExecutionWrite b = write_to("b", 1);
  b.set_timers = {{.execution_id = "b", .op = 0, .due = at(20)}};
  store_->commit(writes({a, b}));

  std::vector<TimerEntry> due = store_->due_timers(at(30), 10);
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].execution_id, "a");
  EXPECT_EQ(due[0].op, 2);
  EXPECT_EQ(due[0].due, at(10));
  EXPECT_EQ(due[1].execution_id, "b");
  EXPECT_EQ(due[2].op, 1);
  EXPECT_EQ(due[2].due, at(30));

  std::vector<TimerEntry> first = store_->due_timers(at(100), 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].execution_id, "b");
  EXPECT_TRUE(store_->due_timers(at(9), 10).empty());
}

TEST_P(StoreContract, SettingATimerAgainMovesIt) {
  create("a");
  ExecutionWrite first = write_to("a", 1);
  first.set_timers = {{.execution_id = "", .op = 4, .due = at(50)}};
  store_->commit(writes({first}));
  ExecutionWrite moved = write_to("a", 1);
  moved.set_timers = {{.execution_id = "", .op = 4, .due = at(5)}};
  store_->commit(writes({moved}));

  std::vector<TimerEntry> due = store_->due_timers(at(100), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].due, at(5));
}

TEST_P(StoreContract, ClearedTimersAreNoLongerDue) {
  create("a");
  ExecutionWrite set = write_to("a", 1);
  set.set_timers = {{.execution_id = "", .op = 1, .due = at(5)}, {"", 2, at(6)}};
  store_->commit(writes({set}));
  ExecutionWrite fired = append("a", 1);
  fired.clear_timers = {1, 99};  // clearing a timer that does not exist is not an error
  store_->commit(writes({fired}));

  std::vector<TimerEntry> due = store_->due_timers(at(100), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].op, 2);
}

// --- deferreds and wake-ups -------------------------------------------------------------------

TEST_P(StoreContract, ResolutionBeforeAnyoneWaitsIsKeptAndWakesTheExecutionOnce) {
  create("a");
  EXPECT_EQ(store_->resolve_deferred("a", "approval", R"({"ok":true})", at(7)),
            ResolveOutcome::kResolved);

  std::optional<DeferredRecord> d = store_->get_deferred("a", "approval");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->execution_id, "a");
  EXPECT_EQ(d->name, "approval");
  EXPECT_EQ(d->state, DeferredState::kResolved);
  EXPECT_EQ(d->value, R"({"ok":true})");
  EXPECT_EQ(d->at, at(7));

  EXPECT_EQ(store_->take_runnable(10), std::vector<std::string>{"a"});
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, UnresolvedDeferredIsAbsent) {
  create("a");
  EXPECT_FALSE(store_->get_deferred("a", "approval"));
}

TEST_P(StoreContract, FirstResolutionWins) {
  create("a");
  ASSERT_EQ(store_->resolve_deferred("a", "d", "1", at(1)), ResolveOutcome::kResolved);
  EXPECT_EQ(store_->resolve_deferred("a", "d", "2", at(2)), ResolveOutcome::kAlreadyResolved);
  EXPECT_EQ(store_->get_deferred("a", "d")->value, "1");
  EXPECT_EQ(store_->get_deferred("a", "d")->at, at(1));
}

TEST_P(StoreContract, DeferredsAreNamedPerExecution) {
  create("a");
  create("b");
  ASSERT_EQ(store_->resolve_deferred("a", "d", "1", at(1)), ResolveOutcome::kResolved);
  EXPECT_EQ(store_->resolve_deferred("b", "d", "2", at(1)), ResolveOutcome::kResolved);
  EXPECT_EQ(store_->resolve_deferred("a", "e", "3", at(1)), ResolveOutcome::kResolved);
  EXPECT_EQ(store_->get_deferred("b", "d")->value, "2");
}

TEST_P(StoreContract, CloseAfterAResolutionReturnsTheResolution) {
  create("a");
  store_->resolve_deferred("a", "d", "1", at(1));
  DeferredRecord closed = store_->close_deferred("a", "d", at(9));
  EXPECT_EQ(closed.state, DeferredState::kResolved);
  EXPECT_EQ(closed.value, "1");
  EXPECT_EQ(closed.at, at(1));
}

TEST_P(StoreContract, ResolutionAfterCloseReportsTimedOutAndChangesNothing) {
  create("a");
  DeferredRecord closed = store_->close_deferred("a", "d", at(9));
  EXPECT_EQ(closed.state, DeferredState::kTimedOut);
  EXPECT_EQ(closed.at, at(9));

  EXPECT_EQ(store_->resolve_deferred("a", "d", "1", at(10)), ResolveOutcome::kTimedOut);
  EXPECT_EQ(store_->get_deferred("a", "d")->state, DeferredState::kTimedOut);
  EXPECT_TRUE(store_->take_runnable(10).empty());
  EXPECT_EQ(store_->close_deferred("a", "d", at(11)).at, at(9));
}

TEST_P(StoreContract, CloseOnAnUnknownExecutionThrows) {
  EXPECT_THROW(store_->close_deferred("ghost", "d", at(1)), NoSuchExecution);
}

TEST_P(StoreContract, ResolutionOfAFinishedExecutionChangesNothing) {
  create("a");
  set_status("a", ExecutionStatus::kCompleted);
  EXPECT_EQ(store_->resolve_deferred("a", "d", "1", at(1)), ResolveOutcome::kExecutionFinished);
  EXPECT_FALSE(store_->get_deferred("a", "d"));
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, ResolutionOfAnUnknownExecutionReportsIt) {
  EXPECT_EQ(store_->resolve_deferred("ghost", "d", "1", at(1)), ResolveOutcome::kNoSuchExecution);
  EXPECT_FALSE(store_->get_deferred("ghost", "d"));
}

TEST_P(StoreContract, CancelRequestIsDurableAndWakesTheExecution) {
  create("a");
  EXPECT_EQ(store_->request_cancel("a"), CancelOutcome::kRequested);
  EXPECT_TRUE(record("a").cancel_requested);
  EXPECT_EQ(store_->take_runnable(10), std::vector<std::string>{"a"});

  EXPECT_EQ(store_->request_cancel("a"), CancelOutcome::kAlreadyRequested);
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, CancelOfAFinishedOrUnknownExecutionChangesNothing) {
  create("a");
  set_status("a", ExecutionStatus::kFailed);
  EXPECT_EQ(store_->request_cancel("a"), CancelOutcome::kExecutionFinished);
  EXPECT_FALSE(record("a").cancel_requested);
  EXPECT_EQ(store_->request_cancel("ghost"), CancelOutcome::kNoSuchExecution);
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, CreationDoesNotMarkRunnable) {
  create("a");
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, MarkRunnableOnAnUnknownExecutionReturnsFalse) {
  EXPECT_FALSE(store_->mark_runnable("ghost"));
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, RunnableMarksAreTakenOnceAndBoundedByTheLimit) {
  for (const char* id : {"a", "b", "c"}) {
    create(id);
    ASSERT_TRUE(store_->mark_runnable(id));
  }
  ASSERT_TRUE(store_->mark_runnable("b"));  // a second mark is the same mark

  std::vector<std::string> first = store_->take_runnable(2);
  std::vector<std::string> second = store_->take_runnable(2);
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(second.size(), 1u);
  std::multiset<std::string> all(first.begin(), first.end());
  all.insert(second.begin(), second.end());
  EXPECT_EQ(all, (std::multiset<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(store_->take_runnable(2).empty());

  ASSERT_TRUE(store_->mark_runnable("a"));  // taken marks can be set again
  EXPECT_EQ(store_->take_runnable(2), std::vector<std::string>{"a"});
}

// --- listing ----------------------------------------------------------------------------------

TEST_P(StoreContract, ListingIsOrderedByCreationTimeThenId) {
  create("c", 0, at(1));
  create("b", 0, at(2));
  create("a", 0, at(2));
  create("d", 0, at(0));
  EXPECT_EQ(list_ids(Query()), (std::vector<std::string>{"d", "c", "a", "b"}));
}

TEST_P(StoreContract, ListingFiltersByWorkflow) {
  create("a", 0, at(0), "publish");
  create("b", 0, at(1), "ingest");
  create("c", 0, at(2), "publish");
  EXPECT_EQ(list_ids(Query().workflow("publish")), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(list_ids(Query().workflow("none")).empty());
}

TEST_P(StoreContract, ListingFiltersByStatuses) {
  create("a", 0, at(0));
  create("b", 0, at(1));
  create("c", 0, at(2));
  set_status("b", ExecutionStatus::kCompleted);
  set_status("c", ExecutionStatus::kNeedsAttention);

  EXPECT_EQ(list_ids(Query().statuses({ExecutionStatus::kCompleted})),
            (std::vector<std::string>{"b"}));
  EXPECT_EQ(
      list_ids(Query().statuses({ExecutionStatus::kRunning, ExecutionStatus::kNeedsAttention})),
      (std::vector<std::string>{"a", "c"}));
  ListPage page = store_->list_executions(Query().statuses({ExecutionStatus::kCompleted}));
  ASSERT_EQ(page.executions.size(), 1u);
  EXPECT_EQ(page.executions[0].status, ExecutionStatus::kCompleted);
}

TEST_P(StoreContract, ListingFiltersByCreationRangeInclusiveExclusive) {
  for (int i = 0; i < 5; ++i) create("e" + std::to_string(i), 0, at(i));
  EXPECT_EQ(list_ids(Query().created_after(at(1)).created_before(at(3))),
            (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(list_ids(Query().created_after(at(3))), (std::vector<std::string>{"e3", "e4"}));
  EXPECT_EQ(list_ids(Query().created_before(at(1))), (std::vector<std::string>{"e0"}));
}

TEST_P(StoreContract, PagingVisitsEveryMatchOnceInOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 11; ++i) {
    // Pairs share a creation time, so the id must break ties across page boundaries.
    std::string id = "x" + std::to_string(10 + i);
    create(id, 0, at(i / 2), i % 3 == 0 ? "other" : "wf");
    if (i % 3 != 0) expected.push_back(id);
  }

  std::vector<std::string> seen;
  ListQuery query = Query().workflow("wf").limit(2);
  int pages = 0;
  do {
    ListPage page = store_->list_executions(query);
    EXPECT_LE(page.executions.size(), 2u);
    for (const ExecutionRecord& r : page.executions) seen.push_back(r.id);
    query.page_token = page.next_page_token;
    ASSERT_LT(++pages, 20) << "paging does not terminate";
  } while (!query.page_token.empty());

  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 4);  // 7 matches in pages of 2: the last page is not followed by an empty one
}

TEST_P(StoreContract, ListingLimitBelowOneActsAsOne) {
  create("a", 0, at(0));
  create("b", 0, at(1));
  ListPage page = store_->list_executions(Query().limit(0));
  EXPECT_EQ(page.executions.size(), 1u);
  EXPECT_FALSE(page.next_page_token.empty());
}

TEST_P(StoreContract, MalformedPageTokenIsRefused) {
  create("a");
  EXPECT_THROW(store_->list_executions(Query().page_token("garbage")), DurableError);
}

// --- queue items with leases -----------------------------------------------------------------

constexpr Duration kLease = std::chrono::seconds(30);

std::vector<std::string> keys_of(const std::vector<QueueItem>& items) {
  std::vector<std::string> keys;
  for (const QueueItem& item : items) keys.push_back(item.key);
  return keys;
}

TEST_P(StoreContract, EnqueueStoresAReadyItem) {
  create("w");
  EXPECT_EQ(store_->enqueue(awaited_item("emails", "k1", "w", "q:0", at(4))),
            EnqueueOutcome::kEnqueued);

  std::optional<QueueItem> item = store_->get_item("emails", "k1");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->queue, "emails");
  EXPECT_EQ(item->key, "k1");
  EXPECT_EQ(item->payload, R"({"job":1})");
  EXPECT_EQ(item->state, QueueItemState::kReady);
  EXPECT_EQ(item->attempts, 0);
  EXPECT_EQ(item->ready_at, at(4));
  EXPECT_EQ(item->lease_owner, "");
  EXPECT_EQ(item->result, "");
  EXPECT_EQ(item->error, "");
  EXPECT_EQ(item->waiter_execution_id, "w");
  EXPECT_EQ(item->waiter_deferred, "q:0");
  EXPECT_EQ(item->enqueued_at, at(4));
  EXPECT_EQ(item->updated_at, at(4));
  EXPECT_TRUE(store_->take_runnable(10).empty());  // enqueueing wakes nobody
}

TEST_P(StoreContract, UnknownItemIsAbsent) {
  EXPECT_FALSE(store_->get_item("emails", "nope"));
}

TEST_P(StoreContract, EnqueueIsIdempotentPerQueueAndKeyInAnyState) {
  ASSERT_EQ(store_->enqueue(queue_item("q", "k", at(1), "1")), EnqueueOutcome::kEnqueued);
  EXPECT_EQ(store_->enqueue(queue_item("q", "k", at(2), "2")), EnqueueOutcome::kAlreadyEnqueued);
  EXPECT_EQ(store_->get_item("q", "k")->payload, "1");
  EXPECT_EQ(store_->get_item("q", "k")->enqueued_at, at(1));

  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(3)).size(), 1u);
  ASSERT_TRUE(store_->complete_item("q", "k", "w1", true, "7", at(4)));
  EXPECT_EQ(store_->enqueue(queue_item("q", "k", at(5), "3")), EnqueueOutcome::kAlreadyEnqueued);
  std::optional<QueueItem> item = store_->get_item("q", "k");
  EXPECT_EQ(item->state, QueueItemState::kDone);
  EXPECT_EQ(item->payload, "1");
  EXPECT_TRUE(store_->lease_items("q", "w1", 10, kLease, at(100)).empty());
}

TEST_P(StoreContract, MalformedEnqueuesAreRefusedAndChangeNothing) {
  create("w");
  NewQueueItem half_waiter = queue_item("q", "half");
  half_waiter.waiter_execution_id = "w";
  for (const NewQueueItem& bad :
       {queue_item("", "k"), queue_item("q", ""), queue_item("q", "json", at(0), "{x"), half_waiter,
        awaited_item("q", "ghost", "no-such-execution", "d")}) {
    EXPECT_THROW(store_->enqueue(bad), StoreError) << bad.queue << "/" << bad.key;
    EXPECT_FALSE(store_->get_item(bad.queue, bad.key)) << bad.key;
  }
  EXPECT_EQ(store_->enqueue(queue_item("q", "empty payload", at(0), "")),
            EnqueueOutcome::kEnqueued);
}

TEST_P(StoreContract, EnqueueInACommitBatchIsAtomicWithTheJournalAndIdempotent) {
  // The shape of DurableQueue::process: the workflow's step, its item and its waiter in one commit.
  CommitBatch batch = creates({new_execution("w")});
  batch.writes.push_back(append("w", 1, 1));
  batch.enqueues = {awaited_item("q", "w:0", "w", "q:0", at(1)),
                    awaited_item("q", "w:0", "w", "other", at(1)),  // the same key again
                    queue_item("q", "plain", at(1))};
  CommitResult result = store_->commit(batch);
  EXPECT_EQ(result.created, std::vector<bool>{true});
  EXPECT_EQ(result.enqueued, (std::vector<EnqueueOutcome>{EnqueueOutcome::kEnqueued,
                                                          EnqueueOutcome::kAlreadyEnqueued,
                                                          EnqueueOutcome::kEnqueued}));
  EXPECT_EQ(record("w").next_index, 2);
  EXPECT_EQ(store_->get_item("q", "w:0")->waiter_deferred, "q:0");

  // A replay or retry enqueues again: nothing changes.
  CommitBatch again = writes({append("w", 2, 1)});
  again.enqueues = {awaited_item("q", "w:0", "w", "q:0", at(9))};
  EXPECT_EQ(store_->commit(again).enqueued,
            std::vector<EnqueueOutcome>{EnqueueOutcome::kAlreadyEnqueued});
  EXPECT_EQ(store_->get_item("q", "w:0")->enqueued_at, at(1));

  CommitBatch only_enqueues;
  only_enqueues.enqueues = {queue_item("q", "alone", at(2))};
  EXPECT_FALSE(only_enqueues.empty());
  EXPECT_EQ(store_->commit(only_enqueues).enqueued,
            std::vector<EnqueueOutcome>{EnqueueOutcome::kEnqueued});
}

TEST_P(StoreContract, ARefusedBatchEnqueuesNothing) {
  create("w", 1);
  CommitBatch stale = writes({append("w", 1, 1)});  // w is at 2
  stale.enqueues = {awaited_item("q", "k", "w", "d")};
  EXPECT_THROW(store_->commit(stale), StaleWriteError);
  EXPECT_FALSE(store_->get_item("q", "k"));

  // And a bad enqueue refuses the journal writes with it.
  CommitBatch bad_item = creates({new_execution("x")});
  bad_item.writes.push_back(append("w", 2, 1));
  bad_item.enqueues = {queue_item("q", "good"), queue_item("q", "bad", at(0), "{x")};
  EXPECT_THROW(store_->commit(bad_item), StoreError);
  EXPECT_FALSE(store_->get_execution("x"));
  EXPECT_EQ(record("w").next_index, 2);
  EXPECT_FALSE(store_->get_item("q", "good"));
  EXPECT_TRUE(store_->lease_items("q", "w1", 10, kLease, at(100)).empty());
}

TEST_P(StoreContract, BatchEnqueueWithAnUnknownWaiterIsRefused) {
  CommitBatch batch;
  batch.enqueues = {awaited_item("q", "k", "ghost", "d")};
  EXPECT_THROW(store_->commit(batch), StoreError);
  EXPECT_FALSE(store_->get_item("q", "k"));
}

TEST_P(StoreContract, LeaseHandsOutOldestFirstUpToTheLimit) {
  // Enqueue order differs from time order; equal times keep enqueue order.
  store_->enqueue(queue_item("q", "c", at(3)));
  store_->enqueue(queue_item("q", "a", at(1)));
  store_->enqueue(queue_item("q", "b2", at(2)));
  store_->enqueue(queue_item("q", "b1", at(2)));
  store_->enqueue(queue_item("q", "future", at(50)));

  std::vector<QueueItem> first = store_->lease_items("q", "w1", 3, kLease, at(10));
  EXPECT_EQ(keys_of(first), (std::vector<std::string>{"a", "b2", "b1"}));
  for (const QueueItem& item : first) {
    EXPECT_EQ(item.state, QueueItemState::kLeased);
    EXPECT_EQ(item.lease_owner, "w1");
    EXPECT_EQ(item.lease_until, at(40));
    EXPECT_EQ(item.attempts, 1);
    EXPECT_EQ(item.updated_at, at(10));
    EXPECT_EQ(item.payload, R"({"job":1})");
  }
  EXPECT_EQ(keys_of(store_->lease_items("q", "w1", 3, kLease, at(10))),
            std::vector<std::string>{"c"});  // "future" is not ready until at(50)
  EXPECT_TRUE(store_->lease_items("q", "w1", 0, kLease, at(100)).empty());

  std::optional<QueueItem> stored = store_->get_item("q", "a");
  EXPECT_EQ(stored->state, QueueItemState::kLeased);
  EXPECT_EQ(stored->lease_owner, "w1");
  EXPECT_EQ(stored->lease_until, at(40));
  EXPECT_EQ(stored->attempts, 1);
}

TEST_P(StoreContract, ALiveLeaseIsHeldByOneOwner) {
  store_->enqueue(queue_item("q", "k"));
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(1)).size(), 1u);
  EXPECT_TRUE(store_->lease_items("q", "w2", 10, kLease, at(1)).empty());
  EXPECT_TRUE(store_->lease_items("q", "w2", 10, kLease, at(30)).empty());  // live until at(31)
  EXPECT_FALSE(store_->renew_lease("q", "k", "w2", kLease, at(2)));
  EXPECT_FALSE(store_->release_item("q", "k", "w2", Duration{0}, at(2)));
  EXPECT_EQ(store_->get_item("q", "k")->lease_owner, "w1");
}

TEST_P(StoreContract, ItemsOfDifferentQueuesDoNotMix) {
  store_->enqueue(queue_item("emails", "k", at(1), R"("email")"));
  store_->enqueue(queue_item("images", "k", at(1), R"("image")"));
  store_->enqueue(queue_item("emails2", "x", at(0)));

  std::vector<QueueItem> emails = store_->lease_items("emails", "w1", 10, kLease, at(5));
  ASSERT_EQ(emails.size(), 1u);
  EXPECT_EQ(emails[0].queue, "emails");
  EXPECT_EQ(emails[0].payload, R"("email")");
  EXPECT_EQ(store_->get_item("images", "k")->state, QueueItemState::kReady);
  EXPECT_FALSE(store_->complete_item("images", "k", "w1", true, "1", at(6)));

  std::vector<QueueItem> images = store_->lease_items("images", "w2", 10, kLease, at(5));
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].payload, R"("image")");
  EXPECT_TRUE(store_->lease_items("nothing", "w1", 10, kLease, at(5)).empty());
}

TEST_P(StoreContract, AnExpiredLeaseIsHandedOutAgainAndTheOldOwnerLosesIt) {
  store_->enqueue(queue_item("q", "k"));
  ASSERT_EQ(store_->lease_items("q", "dead", 10, kLease, at(1)).size(), 1u);  // until at(31)

  std::vector<QueueItem> again = store_->lease_items("q", "w2", 10, kLease, at(31));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].lease_owner, "w2");
  EXPECT_EQ(again[0].lease_until, at(61));

  // The dead worker comes back: everything it tries is refused and changes nothing.
  EXPECT_FALSE(store_->renew_lease("q", "k", "dead", kLease, at(32)));
  EXPECT_FALSE(store_->release_item("q", "k", "dead", Duration{0}, at(32)));
  EXPECT_FALSE(store_->complete_item("q", "k", "dead", true, R"("late")", at(32)));
  std::optional<QueueItem> item = store_->get_item("q", "k");
  EXPECT_EQ(item->state, QueueItemState::kLeased);
  EXPECT_EQ(item->lease_owner, "w2");
  EXPECT_EQ(item->lease_until, at(61));
  EXPECT_EQ(item->result, "");
  EXPECT_TRUE(store_->complete_item("q", "k", "w2", true, R"("ok")", at(33)));
}

TEST_P(StoreContract, ExpiredLeasesAndReadyItemsAreLeasedInTheOrderTheyBecameAvailable) {
  store_->enqueue(queue_item("q", "early", at(0)));
  ASSERT_EQ(store_->lease_items("q", "dead", 1, kLease, at(0)).size(), 1u);  // expires at(30)
  store_->enqueue(queue_item("q", "before", at(20)));
  store_->enqueue(queue_item("q", "after", at(40)));
  EXPECT_EQ(keys_of(store_->lease_items("q", "w", 10, kLease, at(50))),
            (std::vector<std::string>{"before", "early", "after"}));
}

TEST_P(StoreContract, RenewKeepsTheLease) {
  store_->enqueue(queue_item("q", "k"));
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(0)).size(), 1u);  // until at(30)
  EXPECT_TRUE(store_->renew_lease("q", "k", "w1", kLease, at(20)));         // until at(50)
  EXPECT_EQ(store_->get_item("q", "k")->lease_until, at(50));
  EXPECT_EQ(store_->get_item("q", "k")->updated_at, at(20));
  EXPECT_TRUE(store_->lease_items("q", "w2", 10, kLease, at(45)).empty());
  EXPECT_EQ(store_->lease_items("q", "w2", 10, kLease, at(50)).size(), 1u);
}

TEST_P(StoreContract, AnExpiredLeaseNobodyTookIsStillTheOwners) {
  store_->enqueue(queue_item("q", "k"));
  ASSERT_EQ(store_->lease_items("q", "slow", 10, kLease, at(0)).size(), 1u);
  EXPECT_TRUE(store_->renew_lease("q", "k", "slow", kLease, at(35)));  // expired at(30)
  EXPECT_TRUE(store_->lease_items("q", "w2", 10, kLease, at(40)).empty());
  EXPECT_TRUE(store_->complete_item("q", "k", "slow", true, "1", at(90)));  // expired at(65)
  EXPECT_EQ(store_->get_item("q", "k")->state, QueueItemState::kDone);
}

TEST_P(StoreContract, CompletionStoresTheResultAndWakesTheWaiterAtOnce) {
  create("w");
  store_->enqueue(awaited_item("q", "k", "w", "q:3"));
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(1)).size(), 1u);
  EXPECT_TRUE(store_->get_deferred("w", "q:3") == std::nullopt);

  ASSERT_TRUE(store_->complete_item("q", "k", "w1", true, R"({"sent":true})", at(5)));
  std::optional<QueueItem> item = store_->get_item("q", "k");
  EXPECT_EQ(item->state, QueueItemState::kDone);
  EXPECT_EQ(item->result, R"({"sent":true})");
  EXPECT_EQ(item->error, "");
  EXPECT_EQ(item->lease_owner, "w1");
  EXPECT_EQ(item->updated_at, at(5));

  std::optional<DeferredRecord> d = store_->get_deferred("w", "q:3");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->state, DeferredState::kResolved);
  EXPECT_EQ(nlohmann::json::parse(d->value),
            (nlohmann::json{{"ok", true}, {"value", {{"sent", true}}}}));
  EXPECT_EQ(d->at, at(5));
  EXPECT_EQ(store_->take_runnable(10), std::vector<std::string>{"w"});

  // An ended item is never handed out again, and cannot be ended twice.
  EXPECT_TRUE(store_->lease_items("q", "w2", 10, kLease, at(1000)).empty());
  EXPECT_FALSE(store_->complete_item("q", "k", "w1", false, R"("again")", at(6)));
  EXPECT_FALSE(store_->release_item("q", "k", "w1", Duration{0}, at(6)));
  EXPECT_FALSE(store_->renew_lease("q", "k", "w1", kLease, at(6)));
  EXPECT_EQ(store_->get_item("q", "k")->state, QueueItemState::kDone);
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, FailureStoresTheErrorAndResolvesTheWaiterWithIt) {
  create("w");
  store_->enqueue(awaited_item("q", "k", "w", "d"));
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(1)).size(), 1u);
  ASSERT_TRUE(store_->complete_item("q", "k", "w1", false,
                                    R"({"type":"SmtpError","message":"refused"})", at(5)));
  std::optional<QueueItem> item = store_->get_item("q", "k");
  EXPECT_EQ(item->state, QueueItemState::kFailed);
  EXPECT_EQ(item->result, "");
  EXPECT_EQ(item->error, R"({"type":"SmtpError","message":"refused"})");
  EXPECT_EQ(
      nlohmann::json::parse(store_->get_deferred("w", "d")->value),
      (nlohmann::json{{"ok", false}, {"error", {{"type", "SmtpError"}, {"message", "refused"}}}}));
  EXPECT_EQ(store_->take_runnable(10), std::vector<std::string>{"w"});
}

TEST_P(StoreContract, AnEmptyResultResolvesTheWaiterWithNull) {
  create("w");
  store_->enqueue(awaited_item("q", "k", "w", "d"));
  store_->lease_items("q", "w1", 10, kLease, at(1));
  ASSERT_TRUE(store_->complete_item("q", "k", "w1", true, "", at(5)));
  EXPECT_EQ(nlohmann::json::parse(store_->get_deferred("w", "d")->value),
            (nlohmann::json{{"ok", true}, {"value", nullptr}}));
}

TEST_P(StoreContract, CompletionByANonOwnerChangesNothing) {
  create("w");
  store_->enqueue(awaited_item("q", "k", "w", "d"));
  EXPECT_FALSE(store_->complete_item("q", "k", "w1", true, "1", at(1)));  // never leased
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(1)).size(), 1u);
  EXPECT_FALSE(store_->complete_item("q", "k", "intruder", true, "1", at(2)));
  EXPECT_FALSE(store_->complete_item("q", "missing", "w1", true, "1", at(2)));

  std::optional<QueueItem> item = store_->get_item("q", "k");
  EXPECT_EQ(item->state, QueueItemState::kLeased);
  EXPECT_EQ(item->lease_owner, "w1");
  EXPECT_EQ(item->result, "");
  EXPECT_EQ(item->updated_at, at(1));
  EXPECT_FALSE(store_->get_deferred("w", "d"));
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, CompletionWithAResultThatIsNotJsonIsRefused) {
  store_->enqueue(queue_item("q", "k"));
  store_->lease_items("q", "w1", 10, kLease, at(1));
  EXPECT_THROW(store_->complete_item("q", "k", "w1", true, "{oops", at(2)), StoreError);
  EXPECT_EQ(store_->get_item("q", "k")->state, QueueItemState::kLeased);
}

TEST_P(StoreContract, CompletionEndsTheItemWhateverBecameOfTheWaiter) {
  create("finished");
  create("resolved");
  create("timed-out");
  set_status("finished", ExecutionStatus::kCancelled);
  ASSERT_EQ(store_->resolve_deferred("resolved", "d", R"("first")", at(0)),
            ResolveOutcome::kResolved);
  store_->close_deferred("timed-out", "d", at(0));
  store_->take_runnable(10);
  for (const char* waiter : {"finished", "resolved", "timed-out"}) {
    store_->enqueue(awaited_item("q", waiter, waiter, "d"));
  }
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(1)).size(), 3u);
  for (const char* waiter : {"finished", "resolved", "timed-out"}) {
    EXPECT_TRUE(store_->complete_item("q", waiter, "w1", true, "1", at(2))) << waiter;
    EXPECT_EQ(store_->get_item("q", waiter)->state, QueueItemState::kDone) << waiter;
  }
  EXPECT_FALSE(store_->get_deferred("finished", "d"));
  EXPECT_EQ(store_->get_deferred("resolved", "d")->value, R"("first")");  // first resolution wins
  EXPECT_EQ(store_->get_deferred("timed-out", "d")->state, DeferredState::kTimedOut);
  EXPECT_TRUE(store_->take_runnable(10).empty());
}

TEST_P(StoreContract, ReleaseDelaysRedelivery) {
  store_->enqueue(queue_item("q", "k"));
  ASSERT_EQ(store_->lease_items("q", "w1", 10, kLease, at(10)).size(), 1u);
  EXPECT_FALSE(store_->release_item("q", "k", "w2", Duration{0}, at(11)));
  ASSERT_TRUE(store_->release_item("q", "k", "w1", std::chrono::seconds(20), at(11)));

  std::optional<QueueItem> item = store_->get_item("q", "k");
  EXPECT_EQ(item->state, QueueItemState::kReady);
  EXPECT_EQ(item->ready_at, at(31));
  EXPECT_EQ(item->attempts, 1);
  EXPECT_EQ(item->updated_at, at(11));
  // Released: the former owner holds nothing.
  EXPECT_FALSE(store_->complete_item("q", "k", "w1", true, "1", at(12)));
  EXPECT_FALSE(store_->renew_lease("q", "k", "w1", kLease, at(12)));

  EXPECT_TRUE(store_->lease_items("q", "w2", 10, kLease, at(30)).empty());
  std::vector<QueueItem> again = store_->lease_items("q", "w2", 10, kLease, at(31));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].lease_owner, "w2");
}

TEST_P(StoreContract, ConcurrentLeasersEachItemGoesToOneOwner) {
  constexpr int kItems = 60;
  constexpr int kThreads = 4;
  for (int i = 0; i < kItems; ++i) store_->enqueue(queue_item("q", "k" + std::to_string(i)));

  std::vector<std::vector<QueueItem>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string owner = "worker-" + std::to_string(t);
      // Every lease stays live: time does not move, so nothing may be handed out twice.
      while (true) {
        std::vector<QueueItem> batch = store_->lease_items("q", owner, 3, kLease, at(1));
        if (batch.empty()) break;
        got[t].insert(got[t].end(), batch.begin(), batch.end());
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::multiset<std::string> leased;
  for (int t = 0; t < kThreads; ++t) {
    for (const QueueItem& item : got[t]) {
      leased.insert(item.key);
      EXPECT_EQ(item.lease_owner, "worker-" + std::to_string(t));
      EXPECT_EQ(store_->get_item("q", item.key)->lease_owner, item.lease_owner);
      EXPECT_EQ(item.attempts, 1);
    }
  }
  EXPECT_EQ(leased.size(), std::size_t{kItems});
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(leased.count("k" + std::to_string(i)), 1u) << i;
}

// --- token secret -----------------------------------------------------------------------------

TEST_P(StoreContract, TokenSecretIs32RandomBytesAndStable) {
  std::string secret = store_->token_secret();
  EXPECT_EQ(secret.size(), 32u);
  EXPECT_NE(secret, std::string(32, '\0'));
  EXPECT_EQ(store_->token_secret(), secret);
}

// --- concurrency ------------------------------------------------------------------------------

TEST_P(StoreContract, ConcurrentWritersToOneExecutionEachIndexIsWonOnce) {
  create("a");
  constexpr int kThreads = 4;
  constexpr int kAttempts = 25;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAttempts; ++i) {
        std::int64_t next = store_->get_execution("a")->next_index;
        try {
          store_->commit(writes({append("a", next)}));
          ++wins;
        } catch (const StaleWriteError&) {
          // Another writer took this index: the refusal is the behaviour under test.
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<Event> events = store_->load_events("a", 0);
  EXPECT_EQ(static_cast<int>(events.size()), 1 + wins.load());
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].index, std::int64_t(i));
}

TEST_P(StoreContract, ConcurrentCommitsToDistinctExecutionsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string id = "t" + std::to_string(t);
      create(id);
      for (int i = 0; i < kPerThread; ++i) store_->commit(writes({append(id, 1 + i)}));
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(record("t" + std::to_string(t)).next_index, 1 + kPerThread);
  }
}

// --- continue-as-new ------------------------------------------------------------------------

TEST_P(StoreContract, ContinueAsNewReplacesTheJournalTimersAndDeferredsKeepingTheId) {
  create("loop", 3, at(2));
  ExecutionWrite timer = write_to("loop", 4);
  timer.set_timers.push_back({.execution_id = "", .op = 0, .due = at(60)});
  store_->commit(writes({timer}));
  store_->resolve_deferred("loop", "approval", "true", at(3));
  store_->request_cancel("loop");

  ExecutionWrite next = write_to("loop", 4);
  next.events.push_back(event(4));
  next.continue_as_new = R"({"n":2})";
  next.continued_at = at(10);
  store_->commit(writes({next}));

  ExecutionRecord r = record("loop");
  EXPECT_EQ(r.run, 2);
  EXPECT_EQ(r.input, R"({"n":2})");
  EXPECT_EQ(r.next_index, 1);
  EXPECT_EQ(r.status, ExecutionStatus::kRunning);
  EXPECT_EQ(r.created_at, at(2));
  EXPECT_TRUE(r.cancel_requested) << "an undelivered cancel carries over";
  auto events = store_->load_events("loop", 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kStarted);
  EXPECT_EQ(events[0].time, at(10));
  EXPECT_EQ(nlohmann::json::parse(events[0].data),
            (nlohmann::json{{"workflow", "wf"}, {"input", {{"n", 2}}}, {"run", 2}}));
  EXPECT_TRUE(store_->due_timers(at(100), 10).empty());
  EXPECT_FALSE(store_->get_deferred("loop", "approval"));

  // The next run journals from index 1; a writer of the old run is stale.
  EXPECT_THROW(store_->commit(writes({append("loop", 5)})), StaleWriteError);
  store_->commit(writes({append("loop", 1)}));
  ExecutionWrite again = write_to("loop", 2);
  again.continue_as_new = R"({"n":3})";
  again.clear_cancel = true;
  store_->commit(writes({again}));
  EXPECT_EQ(record("loop").run, 3);
  EXPECT_FALSE(record("loop").cancel_requested);
}

TEST_P(StoreContract, ContinueAsNewWithInputThatIsNotJsonChangesNothing) {
  create("loop", 1);
  ExecutionWrite next = write_to("loop", 2);
  next.continue_as_new = "{not json";
  EXPECT_THROW(store_->commit(writes({next})), StoreError);
  EXPECT_EQ(record("loop").run, 1);
  EXPECT_EQ(store_->load_events("loop", 0).size(), 2u);
}

// --- fork (restart from a step) ----------------------------------------------------------------

// A finished execution with ops 0, 1, 2 (op 1 with two events) and an end event.
void make_finished_source(JournalStore& store) {
  store.commit(creates({new_execution("src", "wf", R"({"n":1})", at(1))}));
  ExecutionWrite w = write_to("src", 1);
  w.events = {event(1, EventType::kSideEffect, 0),
              event(2, EventType::kActivityStarted, 1, R"({"attempt":1})"),
              event(3, EventType::kActivityCompleted, 1, R"({"value":"x"})"),
              event(4, EventType::kSideEffect, 2), event(5, EventType::kCompleted, -1)};
  w.status = ExecutionStatus::kCompleted;
  w.result = "1";
  store.commit(writes({w}));
}

TEST_P(StoreContract, ForkCopiesTheEventsOfOperationsBeforeTheStep) {
  make_finished_source(*store_);
  ForkRequest request{.source_id = "src", .new_id = "copy", .from_step = 2, .created_at = at(9)};
  ForkResult result = store_->fork_execution(request);
  EXPECT_EQ(result.outcome, ForkOutcome::kForked);
  EXPECT_EQ(result.step_count, 3);

  ExecutionRecord r = record("copy");
  EXPECT_EQ(r.workflow, "wf");
  EXPECT_EQ(r.input, R"({"n":1})");
  EXPECT_EQ(r.status, ExecutionStatus::kRunning);
  EXPECT_EQ(r.forked_from, "src");
  EXPECT_EQ(r.run, 1);
  EXPECT_EQ(r.created_at, at(9));
  EXPECT_EQ(r.next_index, 4);
  auto events = store_->load_events("copy", 0);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(events[0].data).at("forked_from"), "src");
  EXPECT_EQ(nlohmann::json::parse(events[0].data).at("from_step"), 2);
  EXPECT_EQ(events[1].op, 0);
  EXPECT_EQ(events[2].type, EventType::kActivityStarted);
  EXPECT_EQ(events[3].type, EventType::kActivityCompleted);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].index, (std::int64_t)i);
  auto stream = store_->read_stream("copy", 0, 10);
  ASSERT_EQ(stream.size(), 1u) << "a stream of its own, started afresh";
  EXPECT_EQ(stream[0].kind, "status");
  EXPECT_EQ(
      nlohmann::json::parse(stream[0].data),
      (nlohmann::json{
          {"status", "started"}, {"workflow", "wf"}, {"forked_from", "src"}, {"from_step", 2}}));
  EXPECT_EQ(store_->take_runnable(10), std::vector<std::string>{"copy"});
  EXPECT_EQ(record("src").status, ExecutionStatus::kCompleted) << "the source is unchanged";
  EXPECT_EQ(store_->load_events("src", 0).size(), 6u);
}

TEST_P(StoreContract, ForkFromStepZeroAndFromTheEndAreInRange) {
  make_finished_source(*store_);
  ForkRequest first{.source_id = "src", .new_id = "zero", .from_step = 0, .created_at = at(9)};
  EXPECT_EQ(store_->fork_execution(first).outcome, ForkOutcome::kForked);
  EXPECT_EQ(store_->load_events("zero", 0).size(), 1u);
  ForkRequest last{.source_id = "src", .new_id = "end", .from_step = 3, .created_at = at(9)};
  EXPECT_EQ(store_->fork_execution(last).outcome, ForkOutcome::kForked);
  EXPECT_EQ(store_->load_events("end", 0).size(), 5u) << "every op event, not the end event";
}

TEST_P(StoreContract, ForkIsRefusedForABadSourceStepOrIdAndChangesNothing) {
  make_finished_source(*store_);
  create("busy", 1);
  auto fork = [&](std::string source, std::string id, std::int32_t step) {
    return store_->fork_execution(
        ForkRequest{.source_id = source, .new_id = id, .from_step = step, .created_at = at(9)});
  };
  EXPECT_EQ(fork("nope", "x", 0).outcome, ForkOutcome::kNoSuchSource);
  EXPECT_EQ(fork("busy", "x", 0).outcome, ForkOutcome::kSourceUnfinished);
  ForkResult out = fork("src", "x", 4);
  EXPECT_EQ(out.outcome, ForkOutcome::kStepOutOfRange);
  EXPECT_EQ(out.step_count, 3);
  EXPECT_EQ(fork("src", "x", -1).outcome, ForkOutcome::kStepOutOfRange);
  EXPECT_EQ(fork("src", "busy", 1).outcome, ForkOutcome::kIdTaken);
  EXPECT_FALSE(store_->get_execution("x"));
  EXPECT_EQ(store_->load_events("busy", 0).size(), 2u);
  set_status("busy", ExecutionStatus::kNeedsAttention);
  EXPECT_EQ(fork("busy", "x", 1).outcome, ForkOutcome::kForked) << "a parked source may fork";
}

// --- retention --------------------------------------------------------------------------------

// A store that remembers where journals end must forget a deleted one: the id created again
// starts at index 1, and a writer still holding the old end is stale.
TEST_P(StoreContract, AnIdDeletedAndCreatedAgainStartsItsJournalAfresh) {
  create("again", 3);
  ExecutionWrite done = write_to("again", 4);
  done.events.push_back(event(4, EventType::kCompleted, -1, "{}", at(10)));
  done.status = ExecutionStatus::kCompleted;
  store_->commit(writes({done}));
  ASSERT_EQ(store_->delete_finished(at(50), 10), 1u);

  create("again");
  EXPECT_EQ(record("again").next_index, 1);
  EXPECT_THROW(store_->commit(writes({append("again", 5)})), StaleWriteError);
  store_->commit(writes({append("again", 1, 2)}));
  EXPECT_EQ(store_->load_events("again", 0).size(), 3u);
}

TEST_P(StoreContract, DeleteFinishedRemovesOnlyOldFinishedExecutionsWithTheirRows) {
  for (const char* id : {"old-done", "old-failed", "old-waiting", "old-parked", "new-done"}) {
    create(id, 1);
  }
  auto finish = [&](const std::string& id, ExecutionStatus status, TimePoint when) {
    ExecutionWrite w = write_to(id, record(id).next_index);
    w.events.push_back(event(w.expected_next_index, EventType::kCompleted, -1, "{}", when));
    w.status = status;
    store_->commit(writes({w}));
  };
  finish("old-done", ExecutionStatus::kCompleted, at(10));
  finish("old-failed", ExecutionStatus::kFailed, at(11));
  finish("old-waiting", ExecutionStatus::kWaiting, at(10));
  finish("old-parked", ExecutionStatus::kNeedsAttention, at(10));
  finish("new-done", ExecutionStatus::kCompleted, at(100));
  ExecutionWrite timer = write_to("old-done", record("old-done").next_index);
  timer.set_timers.push_back({.execution_id = "", .op = 0, .due = at(60)});
  store_->commit(writes({timer}));
  ASSERT_EQ(store_->enqueue(awaited_item("q", "k", "old-done", "q:1")), EnqueueOutcome::kEnqueued);
  ASSERT_EQ(store_->lease_items("q", "w", 1, std::chrono::seconds(5), at(5)).size(), 1u);
  ASSERT_TRUE(store_->complete_item("q", "k", "w", true, "1", at(6)));  // resolves + marks
  ASSERT_EQ(store_->enqueue(awaited_item("q", "live", "old-waiting", "q:2")),
            EnqueueOutcome::kEnqueued);

  EXPECT_EQ(store_->delete_finished(at(50), 1), 1u) << "the limit holds";
  EXPECT_FALSE(store_->get_execution("old-done")) << "oldest finish first";
  EXPECT_EQ(store_->delete_finished(at(50), 10), 1u);
  EXPECT_FALSE(store_->get_execution("old-failed"));
  EXPECT_EQ(store_->delete_finished(at(50), 10), 0u);

  EXPECT_TRUE(store_->load_events("old-done", 0).empty());
  EXPECT_TRUE(store_->read_stream("old-done", 0, 10).empty()) << "its event stream goes too";
  EXPECT_FALSE(store_->read_stream("new-done", 0, 10).empty());
  EXPECT_TRUE(store_->due_timers(at(100), 10).empty());
  EXPECT_FALSE(store_->get_deferred("old-done", "q:1"));
  EXPECT_FALSE(store_->get_item("q", "k")) << "the ended item it awaited goes too";
  EXPECT_TRUE(store_->get_item("q", "live")) << "another execution's item stays";
  EXPECT_TRUE(store_->take_runnable(10).empty()) << "its runnable mark goes too";
  for (const char* id : {"old-waiting", "old-parked", "new-done"}) {
    EXPECT_TRUE(store_->get_execution(id)) << id;
    EXPECT_EQ(store_->load_events(id, 0).size(), 3u) << id;
  }
  EXPECT_EQ(list_ids(Query()), (std::vector<std::string>{"new-done", "old-parked", "old-waiting"}));
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreContract,
    ::testing::Values(
        StoreFactory{"Memory", [](const TempDir&) { return std::make_shared<MemoryStore>(); }},
        StoreFactory{"Sqlite",
                     [](const TempDir& dir) { return SqliteStore::open(dir.file("store.db")); }},
        StoreFactory{"SqliteSyncNormal",
                     [](const TempDir& dir) {
                       return SqliteStore::open(dir.file("store.db"),
                                                {.sync = SqliteOptions::Sync::kNormal});
                     }}),
    factory_name);

}  // namespace
}  // namespace durable::testing
