// Event streams through the engine: workflow emits and progress, status entries, activity emits,
// subscriptions (live, from an offset, across engines sharing a SQLite file), and exactly-once
// appends across replays and retried store calls.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "contract/store_fixtures.hpp"
#include "crash/faulty_store.hpp"
#include "durable/sqlite_store.hpp"
#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

constexpr Duration kPatience = 20s;  // generous: only reached when a test fails

// A gate an activity waits at until the test opens it (or the attempt is cancelled).
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Returns false if the attempt was cancelled first.
  bool wait(ActivityContext& actx) {
    std::unique_lock lock(mutex_);
    while (!open_) {
      if (actx.cancelled()) return false;
      cv_.wait_for(lock, 2ms);
    }
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

Json data_of(const StreamEntry& e) {
  return e.data.empty() ? Json(nullptr) : Json::parse(e.data);
}

// Reads the subscription until it ends (or `max` entries), failing on a stall.
std::vector<StreamEntry> read_to_end(StreamSubscription& sub, std::size_t max = 1000) {
  std::vector<StreamEntry> out;
  while (out.size() < max) {
    auto e = sub.next(kPatience);
    if (!e) {
      EXPECT_TRUE(sub.ended()) << "the subscription stalled at offset " << sub.next_offset();
      break;
    }
    out.push_back(std::move(*e));
  }
  return out;
}

// Reads until an entry satisfies `match`; fails on a stall.
StreamEntry read_until(StreamSubscription& sub,
                       const std::function<bool(const StreamEntry&)>& match) {
  for (;;) {
    auto e = sub.next(kPatience);
    if (!e) {
      ADD_FAILURE() << "no matching entry; stopped at offset " << sub.next_offset();
      return {};
    }
    if (match(*e)) return *e;
  }
}

std::vector<std::string> statuses(const std::vector<StreamEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (e.kind != "status") continue;
    Json d = data_of(e);
    std::string s = d["status"];
    if (d.contains("waiting_on")) s += " " + d["waiting_on"].get<std::string>();
    out.push_back(s);
  }
  return out;
}

std::vector<Json> of_kind(const std::vector<StreamEntry>& entries, const std::string& kind) {
  std::vector<Json> out;
  for (const auto& e : entries) {
    if (e.kind == kind) out.push_back(data_of(e));
  }
  return out;
}

class EventStreamTest : public EngineTest {
 protected:
  std::vector<StreamEntry> stream(const std::string& id) {
    return store_->read_stream(id, 0, 10'000);
  }
};

const DurableDeferred<int> kApproval{"approval"};

const Workflow<int(int)> kSteps{"steps", [](WorkflowContext& ctx, int n) -> Task<int> {
                                  for (int i = 1; i <= n; ++i) {
                                    ctx.report_progress({{"done", i}, {"of", n}});
                                    co_await ctx.sleep("tick", 1h);
                                  }
                                  ctx.emit("log", {{"line", "all done"}});
                                  co_return n;
                                }};

TEST_F(EventStreamTest, ProgressReachesALiveSubscriberWithoutWaitingForAPoll) {
  auto o = options();
  o.store_poll_interval = 1h;  // only the engine's own wake-up can deliver in time
  engine_ = std::make_unique<Engine>(store_, o);
  engine_->start();
  auto h = engine_->start(kSteps, 2);
  auto sub = engine_->subscribe(h.id());
  auto first = read_until(sub, [](const StreamEntry& e) { return e.kind == "progress"; });
  EXPECT_EQ(data_of(first), (Json{{"done", 1}, {"of", 2}}));

  // A reader blocked in next() is woken by the commit that carries the next progress entry.
  std::optional<StreamEntry> second;
  std::thread reader(
      [&] { second = read_until(sub, [](const StreamEntry& e) { return e.kind == "progress"; }); });
  engine_->wait_idle();
  clock_.advance(1h);
  reader.join();
  ASSERT_TRUE(second);
  EXPECT_EQ(data_of(*second), (Json{{"done", 2}, {"of", 2}}));
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 2);
  auto rest = read_to_end(sub);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(of_kind(rest, "log"), (std::vector<Json>{Json{{"line", "all done"}}}));
  EXPECT_EQ(statuses(rest).back(), "completed");
  EXPECT_TRUE(sub.ended());
  EXPECT_FALSE(sub.next(10ms));
}

TEST_F(EventStreamTest, StatusChangesAppearInOrderWithWhatTheExecutionWaitsOn) {
  testing::TokenBox box;
  const Activity<int(int)> twice{"twice", [](int x) { return 2 * x; }};
  const Workflow<int(int)> wf{"gated", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                box.put(ctx.token(kApproval));
                                int v = co_await ctx.await(kApproval);
                                co_await ctx.sleep("cool-off", 1h);
                                co_return co_await ctx.run(twice, v + x);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 1);
  engine.wait_idle();
  EXPECT_EQ(engine.resolve(kApproval, box.get(), 20), ResolveOutcome::kResolved);
  engine.wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 42);
  EXPECT_EQ(statuses(stream(h.id())),
            (std::vector<std::string>{"started", "waiting deferred 'approval'", "running",
                                      "waiting timer 'cool-off'", "running", "completed"}));
}

TEST_F(EventStreamTest, FailureAndCancellationEndTheStreamWithTheirStatusAndError) {
  const Workflow<int(int)> fails{"fails", [](WorkflowContext&, int) -> Task<int> {
                                   throw std::runtime_error("boom");
                                   co_return 0;
                                 }};
  Engine& engine = boot();
  auto f = engine.start(fails, 0);
  EXPECT_THROW(f.get(), WorkflowFailed);
  auto failed = stream(f.id());
  ASSERT_FALSE(failed.empty());
  Json last = data_of(failed.back());
  EXPECT_EQ(last["status"], "failed");
  EXPECT_NE(last["error"].dump().find("boom"), std::string::npos) << last.dump();

  auto c = engine.start(kSteps, 3);
  engine.wait_idle();
  engine.cancel(c.id());
  EXPECT_THROW(c.get(), Cancelled);
  EXPECT_EQ(statuses(stream(c.id())).back(), "cancelled");
  // Nothing lands after the final status.
  EXPECT_EQ(store_->append_stream(
                c.id(), {NewStreamEntry{.kind = "log", .data = "{}", .time = {}, .key = {}}}),
            std::vector<std::int64_t>{-1});
}

TEST_F(EventStreamTest, ReplayAfterACrashDoesNotAppendWorkflowEntriesAgain) {
  auto setup = [](Engine& e) { e.add(kSteps); };
  Engine& first = boot(setup);
  auto h = first.start(kSteps, 3);
  first.wait_idle();
  clock_.advance(1h);
  first.wait_idle();
  crash();  // two progress entries are durable; the execution sleeps in its second tick
  Engine& second = boot(setup);
  second.wait_idle();
  clock_.advance(1h);
  second.wait_idle();
  crash();
  Engine& third = boot(setup);
  clock_.advance(1h);
  EXPECT_EQ(third.handle<int>(h.id()).get(), 3);
  auto entries = stream(h.id());
  EXPECT_EQ(of_kind(entries, "progress"),
            (std::vector<Json>{
                {{"done", 1}, {"of", 3}}, {{"done", 2}, {"of", 3}}, {{"done", 3}, {"of", 3}}}));
  EXPECT_EQ(of_kind(entries, "log").size(), 1u);
  // Restarts of a waiting execution add no status entries of their own.
  EXPECT_EQ(statuses(entries),
            (std::vector<std::string>{"started", "waiting timer 'tick'", "running",
                                      "waiting timer 'tick'", "running", "waiting timer 'tick'",
                                      "running", "completed"}));
  for (std::size_t i = 0; i < entries.size(); ++i)
    EXPECT_EQ(entries[i].offset, static_cast<std::int64_t>(i));
}

TEST_F(EventStreamTest, AnEmitCommittedAfterTheLastJournaledStepIsNotDuplicatedByReplay) {
  // The emit after `a` is committed with no journal event of its own (b is already running), so
  // replay cannot tell from the journal that it happened: its key does.
  auto gate = std::make_shared<Gate>();
  const Activity<int(int)> quick{"quick", [](int x) { return x; }};
  const Activity<int(int)> slow{"slow", [gate](ActivityContext& actx, int x) {
                                  if (!gate->wait(actx)) throw std::runtime_error("cancelled");
                                  return x;
                                }};
  const Workflow<int(int)> wf{"overlap", [&](WorkflowContext& ctx, int) -> Task<int> {
                                auto a = ctx.run(quick, 1);
                                auto b = ctx.run(slow, 2);
                                int x = co_await a;
                                ctx.emit("log", {{"after", "a"}});
                                int y = co_await b;
                                co_return x + y;
                              }};
  auto setup = [&](Engine& e) { e.add(wf); };
  Engine& first = boot(setup);
  auto h = first.start(wf, 0);
  auto sub = first.subscribe(h.id());
  read_until(sub, [](const StreamEntry& e) { return e.kind == "log"; });
  crash();
  Engine& second = boot(setup);
  gate->open();
  EXPECT_EQ(second.handle<int>(h.id()).get(), 3);
  EXPECT_EQ(of_kind(stream(h.id()), "log").size(), 1u);
}

TEST_F(EventStreamTest, SubscribingFromAnOffsetSkipsWhatCameBefore) {
  Engine& engine = boot();
  auto h = engine.start(kSteps, 1);
  engine.wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 1);
  auto all = stream(h.id());
  ASSERT_GT(all.size(), 3u);
  auto sub = engine.subscribe(h.id(), 2);
  auto tail = read_to_end(sub);
  ASSERT_EQ(tail.size(), all.size() - 2);
  EXPECT_EQ(tail.front().offset, 2);
  EXPECT_EQ(tail.back().offset, all.back().offset);
  EXPECT_TRUE(engine.subscribe(h.id(), 1000).drain().empty());
  EXPECT_THROW(engine.subscribe("no-such-execution"), NoSuchExecution);
}

TEST_F(EventStreamTest, ActivityEmitsReachSubscribersWhileTheActivityRuns) {
  auto gate = std::make_shared<Gate>();
  const Activity<int(int)> work{"work", [gate](ActivityContext& actx, int n) {
                                  actx.report_progress({{"phase", "fetched"}});
                                  if (!gate->wait(actx)) throw std::runtime_error("cancelled");
                                  actx.emit("log", {{"line", "finishing"}});
                                  return n;
                                }};
  const Workflow<int(int)> wf{"work-wf", [&](WorkflowContext& ctx, int n) -> Task<int> {
                                co_return co_await ctx.run(work, n);
                              }};
  auto o = options();
  o.store_poll_interval = 1h;
  engine_ = std::make_unique<Engine>(store_, o);
  auto h = engine_->start(wf, 5);
  auto sub = engine_->subscribe(h.id());
  auto progress = read_until(sub, [](const StreamEntry& e) { return e.kind == "progress"; });
  EXPECT_EQ(data_of(progress), (Json{{"phase", "fetched"}}));
  EXPECT_EQ(progress.key, "act:0:1:0");
  EXPECT_EQ(h.status(), ExecutionStatus::kRunning);  // the activity has not returned
  gate->open();
  EXPECT_EQ(h.get(), 5);
  EXPECT_EQ(of_kind(read_to_end(sub), "log").size(), 1u);
}

TEST_F(EventStreamTest, ARetriedAppendWhoseAckWasLostIsNotDuplicated) {
  auto faulty = testing::FaultyStore::wrap(store_);
  faulty->lose_next_append_acks(2);
  const Activity<int(int)> chatty{"chatty", [](ActivityContext& actx, int n) {
                                    for (int i = 0; i < n; ++i) actx.emit("log", {{"i", i}});
                                    return n;
                                  }};
  const Workflow<int(int)> wf{"chatty-wf", [&](WorkflowContext& ctx, int n) -> Task<int> {
                                co_return co_await ctx.run(chatty, n);
                              }};
  Engine engine(faulty, options());
  EXPECT_EQ(engine.execute(wf, 3), 3);
  auto page = store_->list_executions(ListQuery{});
  ASSERT_EQ(page.executions.size(), 1u);
  auto entries = stream(page.executions[0].id);
  EXPECT_EQ(of_kind(entries, "log"), (std::vector<Json>{{{"i", 0}}, {{"i", 1}}, {{"i", 2}}}));
  EXPECT_EQ(faulty->appends_attempted(), 5);  // 3 appends, 2 of them sent twice
}

TEST_F(EventStreamTest, EachAttemptsOutputAppearsUnderItsOwnAttempt) {
  const Activity<int(int)> flaky{"flaky",
                                 [](ActivityContext& actx, int n) {
                                   actx.emit("log", {{"attempt", actx.attempt()}});
                                   if (actx.attempt() == 1) throw std::runtime_error("transient");
                                   return n;
                                 },
                                 ActivityOptions{.retry = {.max_attempts = 3,
                                                           .initial_backoff = 1ms,
                                                           .multiplier = 1.0,
                                                           .max_backoff = 1ms},
                                                 .timeout = Duration{0}}};
  const Workflow<int(int)> wf{"flaky-wf", [&](WorkflowContext& ctx, int n) -> Task<int> {
                                co_return co_await ctx.run(flaky, n);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 7);
  engine.wait_idle();
  clock_.advance(1ms);
  EXPECT_EQ(h.get(), 7);
  std::vector<std::string> keys;
  for (const auto& e : stream(h.id())) {
    if (e.kind == "log") keys.push_back(e.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"act:0:1:0", "act:0:2:0"}));
}

TEST_F(EventStreamTest, ASubscriptionOnASecondEngineFollowsBySqliteFilePolling) {
  testing::TempDir dir;
  auto writer_store = SqliteStore::open(dir.file("j.db"));
  auto reader_store = SqliteStore::open(dir.file("j.db"));
  store_ = writer_store;
  Engine& writer = boot([](Engine& e) { e.add(kSteps); });
  Engine reader(reader_store, options());  // never started: it only reads
  auto h = writer.start(kSteps, 2);
  auto sub = reader.subscribe(h.id());
  EXPECT_EQ(data_of(read_until(sub, [](const StreamEntry& e) { return e.kind == "progress"; })),
            (Json{{"done", 1}, {"of", 2}}));
  writer.wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(data_of(read_until(sub, [](const StreamEntry& e) { return e.kind == "progress"; })),
            (Json{{"done", 2}, {"of", 2}}));
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 2);
  auto rest = read_to_end(sub);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(statuses(rest).back(), "completed");
}

TEST_F(EventStreamTest, CancellingABlockedSubscriptionWakesItAndItOutlivesTheEngine) {
  Engine& engine = boot();
  auto h = engine.start(kSteps, 1);
  engine.wait_idle();
  auto sub = engine.subscribe(h.id());
  auto is_waiting = [](const StreamEntry& e) {
    return e.kind == "status" && data_of(e)["status"] == "waiting";
  };
  read_until(sub, is_waiting);  // the last entry until the clock moves
  std::atomic<bool> returned{false};
  std::thread reader([&] {
    EXPECT_FALSE(sub.next());  // no timeout: only cancel() can end it
    returned = true;
  });
  sub.cancel();
  reader.join();
  EXPECT_TRUE(returned);
  EXPECT_TRUE(sub.ended());

  auto survivor = engine.subscribe(h.id());
  crash();  // the engine is gone; the subscription reads the store on its own
  auto waiting = read_until(survivor, is_waiting);
  EXPECT_EQ(waiting.kind, "status");
  EXPECT_FALSE(survivor.next(20ms));  // the execution is still waiting
  EXPECT_FALSE(survivor.ended());
}

TEST_F(EventStreamTest, FailedCommitsNeitherLoseNorDuplicateEntries) {
  auto faulty = testing::FaultyStore::wrap(store_);
  auto o = options();
  engine_ = std::make_unique<Engine>(faulty, o);
  engine_->start();
  auto h = engine_->start(kSteps, 2);
  engine_->wait_idle();
  faulty->fail_next_commits(3, testing::Fault::kBusy);
  clock_.advance(1h);
  ASSERT_TRUE(faulty->wait_for_failed_commits(3, kPatience));
  engine_->wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 2);
  auto entries = stream(h.id());
  EXPECT_EQ(of_kind(entries, "progress").size(), 2u);
  EXPECT_EQ(of_kind(entries, "log").size(), 1u);
  EXPECT_EQ(statuses(entries),
            (std::vector<std::string>{"started", "waiting timer 'tick'", "running",
                                      "waiting timer 'tick'", "running", "completed"}));
}

TEST_F(EventStreamTest, AnEmitWithoutAKindFailsTheWorkflowNamingTheExecution) {
  const Workflow<int(int)> wf{"nameless", [](WorkflowContext& ctx, int) -> Task<int> {
                                ctx.emit("", {{"x", 1}});
                                co_return 0;
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  try {
    h.get();
    FAIL() << "an emit without a kind was accepted";
  } catch (const WorkflowFailed& e) {
    EXPECT_NE(std::string(e.what()).find("needs a kind"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace durable
