// Continue-as-new: a loop restarts itself with a new input and an empty history, keeping its id;
// history stays bounded; restarts mid-loop and power cuts at every commit leave either the old
// run or the new one, never a mix; a token of an earlier run resolves nothing in a later one.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "contract/store_fixtures.hpp"
#include "crash/faulty_store.hpp"
#include "durable/sqlite_store.hpp"
#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;
using testing::FaultyStore;
using testing::PowerCut;
using testing::TokenBox;

constexpr auto kBound = 20s;

struct Loop {
  int i = 0;
  int limit = 0;
  int total = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Loop, i, limit, total)

std::atomic<int> g_adds{0};
const Activity<int(int)> kAdd{"add", [](int x) {
                                ++g_adds;
                                return x;
                              }};

// Each run adds i with an activity, then continues with i + 1 until the limit.
const Workflow<int(Loop)> kSum{
    "sum", [](WorkflowContext& ctx, Loop s) -> Task<int> {
      int v = co_await ctx.run(kAdd, s.i);
      if (s.i >= s.limit) co_return s.total + v;
      co_return co_await ctx.continue_as_new(Loop{s.i + 1, s.limit, s.total + v});
    }};

// The same, with a durable sleep in every run (so an engine can stop between runs).
const Workflow<int(Loop)> kTicker{
    "ticker", [](WorkflowContext& ctx, Loop s) -> Task<int> {
      co_await ctx.sleep("tick", 1s);
      int v = co_await ctx.run(kAdd, s.i);
      if (s.i >= s.limit) co_return s.total + v;
      co_await ctx.continue_as_new(Loop{s.i + 1, s.limit, s.total + v});
      ADD_FAILURE() << "code after continue_as_new ran";
      co_return -1;
    }};

TokenBox g_box;
const DurableDeferred<int> kGo{"go"};
const Activity<void(std::string)> kPublish{"publish",
                                           [](std::string token) { g_box.put(std::move(token)); }};
// Every run publishes a token for "go" and waits for it.
const Workflow<int(int)> kWaiter{"waiter", [](WorkflowContext& ctx, int run) -> Task<int> {
                                   co_await ctx.run(kPublish, ctx.token(kGo));
                                   int got = co_await ctx.await(kGo);
                                   if (run >= 2) co_return got;
                                   co_return co_await ctx.continue_as_new(run + 1);
                                 }};

// Run 1 races a long sleep against a short one and continues when the short one wins; run 2
// sleeps longer at the same operation index as run 1's abandoned long sleep.
const Workflow<int(int)> kRacer{"racer", [](WorkflowContext& ctx, int run) -> Task<int> {
                                  if (run == 1) {
                                    co_await race(ctx.sleep("long", 1h), ctx.sleep("short", 1s));
                                    co_return co_await ctx.continue_as_new(2);
                                  }
                                  co_await ctx.sleep("longer", 2h);
                                  co_return run;
                                }};

// Every run reports its progress, has a queue item processed under the default key, and
// continues until the limit: each run's progress and each run's item are its own.
const DurableQueue<int, int> kSquarer{"squarer"};
const Workflow<int(Loop)> kReporter{
    "reporter", [](WorkflowContext& ctx, Loop s) -> Task<int> {
      ctx.report_progress({{"i", s.i}});
      int v = co_await kSquarer.process(ctx, s.i);
      if (s.i >= s.limit) co_return s.total + v;
      co_return co_await ctx.continue_as_new(Loop{s.i + 1, s.limit, s.total + v});
    }};

const Workflow<int(std::string)> kWrongType{
    "wrong-type", [](WorkflowContext& ctx, std::string) -> Task<int> {
      co_return co_await ctx.continue_as_new(42);  // an int for a string workflow
    }};

class ContinueAsNewTest : public EngineTest {
 protected:
  void SetUp() override { g_adds = 0; }
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kSum);
      e.add(kTicker);
      e.add(kWaiter);
      e.add(kWrongType);
      e.add(kRacer);
      e.add(kReporter);
      e.add(kGo);
    });
  }
};

TEST_F(ContinueAsNewTest, KeepsTheIdAndRunsEveryIterationOnce) {
  Engine& engine = up();
  auto h = engine.start(kSum, Loop{0, 5, 0});
  EXPECT_EQ(h.get(), 0 + 1 + 2 + 3 + 4 + 5);
  EXPECT_EQ(g_adds.load(), 6);
  ExecutionRecord r = *engine.describe(h.id());
  EXPECT_EQ(r.run, 6);
  EXPECT_EQ(r.status, ExecutionStatus::kCompleted);
  EXPECT_EQ(Json::parse(r.input), Json(Loop{5, 5, 10}));
  auto events = engine.history(h.id());
  ASSERT_EQ(events.size(), 4u) << "only the last run's journal remains";
  EXPECT_EQ(Json::parse(events[0].data).at("run"), 6);
  EXPECT_EQ(engine.list().executions.size(), 1u) << "no new executions";
}

TEST_F(ContinueAsNewTest, HistoryStaysBoundedOverManyIterations) {
  Engine& engine = up();
  auto h = engine.start(kSum, Loop{0, 300, 0});
  EXPECT_EQ(h.get(), 300 * 301 / 2);
  EXPECT_EQ(g_adds.load(), 301);
  EXPECT_EQ(engine.describe(h.id())->run, 301);
  EXPECT_LE(engine.history(h.id()).size(), 4u);
}

TEST_F(ContinueAsNewTest, SurvivesARestartMidLoop) {
  Engine* engine = &up();
  auto id = engine->start(kTicker, Loop{0, 4, 0}).id();
  for (int tick = 0; tick < 2; ++tick) {
    engine->wait_idle();
    clock_.advance(1s);
  }
  engine->wait_idle();
  std::int64_t run_before = engine->describe(id)->run;
  EXPECT_GE(run_before, 2);
  crash();
  engine = &up();
  for (int tick = 0; tick < 10 && engine->describe(id)->status != ExecutionStatus::kCompleted;
       ++tick) {
    engine->wait_idle();
    clock_.advance(1s);
  }
  auto done = engine->wait(id, kBound);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, ExecutionStatus::kCompleted);
  EXPECT_EQ(Json::parse(done->result), 0 + 1 + 2 + 3 + 4);
  EXPECT_EQ(done->run, 5);
  EXPECT_EQ(g_adds.load(), 5) << "each completed iteration ran once";
  EXPECT_TRUE(store_->due_timers(clock_.now() + 24h, 10).empty()) << "no timer leaked";
}

TEST_F(ContinueAsNewTest, ATokenOfAnEarlierRunResolvesNothingInTheNextRun) {
  Engine& engine = up();
  auto h = engine.start(kWaiter, 1);
  engine.wait_idle();
  std::string run1 = g_box.get();
  ASSERT_EQ(engine.resolve(run1, Json(7)), ResolveOutcome::kResolved);
  engine.wait_idle();
  ASSERT_EQ(engine.describe(h.id())->run, 2);
  std::string run2 = g_box.get();
  ASSERT_NE(run2, run1);
  EXPECT_EQ(engine.resolve(run1, Json(8)), ResolveOutcome::kExecutionFinished);
  EXPECT_EQ(engine.describe(h.id())->status, ExecutionStatus::kWaiting);
  EXPECT_EQ(engine.resolve(kGo, run2, 9), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), 9);
}

TEST_F(ContinueAsNewTest, ATimerOfAnEarlierRunNeverFiresInTheNextRun) {
  Engine& engine = up();
  auto h = engine.start(kRacer, 1);
  engine.wait_idle();
  clock_.advance(1s);
  engine.wait_idle();
  ASSERT_EQ(engine.describe(h.id())->run, 2);
  clock_.advance(1h);  // run 1's abandoned "long" sleep (operation 0) falls due
  engine.wait_idle();
  EXPECT_EQ(engine.describe(h.id())->status, ExecutionStatus::kWaiting)
      << "run 2's sleep at operation 0 is not woken by run 1's timer";
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 2);
}

TEST_F(ContinueAsNewTest, EveryRunsProgressStaysOnTheOneEventStreamAndEachRunGetsItsOwnQueueItem) {
  Engine& engine = up();
  std::atomic<int> squared{0};
  WorkerOptions worker;
  worker.poll_interval = std::chrono::milliseconds(5);
  engine.add_worker(
      kSquarer,
      [&](int x) {
        ++squared;
        return x * x;
      },
      worker);
  auto h = engine.start(kReporter, Loop{1, 3, 0});
  EXPECT_EQ(h.get(), 1 + 4 + 9) << "run 2 and 3 did not join run 1's item (same operation index)";
  EXPECT_EQ(squared.load(), 3);
  EXPECT_EQ(engine.queue_item(kSquarer, h.id() + "/0")->result, "1");
  EXPECT_EQ(engine.queue_item(kSquarer, h.id() + "/run3/0")->result, "9");

  std::vector<int> progress;
  std::vector<std::string> statuses;
  for (const StreamEntry& entry : store_->read_stream(h.id(), 0, 1000)) {
    Json data = Json::parse(entry.data);
    if (entry.kind == "progress") progress.push_back(data.at("i").get<int>());
    if (entry.kind == "status") statuses.push_back(data.at("status").get<std::string>());
  }
  EXPECT_EQ(progress, (std::vector<int>{1, 2, 3})) << "same keys in every run, none deduplicated";
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.front(), "started");
  EXPECT_EQ(statuses.back(), "completed");
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "waiting"), 3)
      << "each run's wait on its item is on the stream";
}

TEST_F(ContinueAsNewTest, AnInputOfTheWrongTypeFailsTheWorkflow) {
  Engine& engine = up();
  auto h = engine.start(kWrongType, std::string("x"));
  EXPECT_THROW(h.get(), WorkflowFailed);
  EXPECT_EQ(engine.describe(h.id())->run, 1);
}

// A power cut at every commit of a three-run loop, before or after the commit lands: a new engine
// on what reached the disk finishes with the right result, on one run's journal.
void power_cuts_at_every_commit(const std::function<std::shared_ptr<JournalStore>(int)>& disk_for) {
  int cuts = 0;
  for (PowerCut where : {PowerCut::kBeforeCommit, PowerCut::kAfterCommit}) {
    for (int k = 1; k <= 12; ++k) {
      SCOPED_TRACE(::testing::Message()
                   << "commit " << k
                   << (where == PowerCut::kAfterCommit ? " (after it landed)"
                                                       : " (before it landed)"));
      std::shared_ptr<JournalStore> disk = disk_for(k);
      auto faulty = FaultyStore::wrap(disk);
      faulty->cut_power_at_commit(k, where);
      EngineOptions options;
      options.store_poll_interval = 5ms;
      {
        auto engine = std::make_unique<Engine>(faulty, options);
        engine->add(kSum);
        engine->start();
        // The start blocks while the power is out (its create never commits): start it aside.
        auto started = std::async(std::launch::async, [&] {
          try {
            return engine->start(kSum, Loop{0, 2, 0}, {.idempotency_key = "loop"}).id();
          } catch (const DurableError&) {
            return std::string();  // the engine stopped before the create was durable
          }
        });
        auto deadline = std::chrono::steady_clock::now() + kBound;
        while (!faulty->wait_for_power_cut(5ms) && std::chrono::steady_clock::now() < deadline) {
          auto id = started.wait_for(0ms) == std::future_status::ready ? started.get() : "";
          if (!id.empty()) {
            try {
              engine->wait(id, kBound);
            } catch (const StoreError&) {
              // The power went out while waiting.
            }
            break;
          }
        }
        cuts += faulty->power_is_cut() ? 1 : 0;
        engine.reset();  // the process is gone
      }
      std::string id;
      Engine engine(disk, options);
      engine.add(kSum);
      engine.start();
      id = engine.start(kSum, Loop{0, 2, 0}, {.idempotency_key = "loop"}).id();
      auto done = engine.wait(id, kBound);
      ASSERT_TRUE(done);
      ASSERT_EQ(done->status, ExecutionStatus::kCompleted) << done->error;
      EXPECT_EQ(Json::parse(done->result), 3);
      EXPECT_EQ(done->run, 3);
      auto events = disk->load_events(id, 0);
      ASSERT_FALSE(events.empty());
      EXPECT_EQ(Json::parse(events[0].data).value("run", 1), 3);
      for (const Event& e : events) EXPECT_LE(e.op, 0) << "only one run's ops: " << e.index;
    }
  }
  EXPECT_GE(cuts, 8) << "the power was cut at most of the loop's commits";
}

TEST(ContinueAsNewPowerCut, EitherTheOldRunOrTheNewOneOnTheMemoryStore) {
  power_cuts_at_every_commit([](int) { return std::make_shared<MemoryStore>(); });
}

TEST(ContinueAsNewPowerCut, EitherTheOldRunOrTheNewOneOnASqliteFile) {
  testing::TempDir dir;
  power_cuts_at_every_commit(
      [&](int k) { return SqliteStore::open(dir.file("cut" + std::to_string(k) + ".db")); });
}

}  // namespace
}  // namespace durable
