// The Engine's public API: idempotent starts, execute/start/poll/status, describe and history,
// failures as handles report them, waits with a timeout, unknown ids, and resolving a deferred
// by token from outside the workflow.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;
using testing::TokenBox;

class EngineApiTest : public EngineTest {
 protected:
  std::size_t executions_of(const std::string& workflow) {
    ListQuery query;
    query.workflow = workflow;
    query.limit = 1000;
    return store_->list_executions(query).executions.size();
  }
};

TEST_F(EngineApiTest, SameIdempotencyKeyFromWorkflowOptionsStartsOneExecution) {
  std::atomic<int> runs{0};
  const Workflow<std::string(std::string)> wf{
      "keyed",
      [&](WorkflowContext& ctx, std::string topic) -> Task<std::string> {
        ++runs;
        co_await ctx.sleep("nap", 1h);
        co_return topic + "!";
      },
      {.idempotency_key = [](const std::string& topic) { return topic; }}};
  Engine& engine = boot();

  auto first = engine.start(wf, std::string("a"));
  auto again = engine.start(wf, std::string("a"));
  EXPECT_EQ(first.id(), again.id());
  auto other = engine.start(wf, std::string("b"));
  EXPECT_NE(first.id(), other.id());
  engine.wait_idle();
  EXPECT_EQ(executions_of("keyed"), 2u);
  EXPECT_EQ(runs.load(), 2);

  clock_.advance(1h);
  EXPECT_EQ(first.get(), "a!");
  EXPECT_EQ(other.get(), "b!");
  // A finished execution still owns its key: starting again finds it instead of re-running.
  auto after = engine.start(wf, std::string("a"));
  EXPECT_EQ(after.id(), first.id());
  EXPECT_EQ(after.get(), "a!");
  engine.wait_idle();
  EXPECT_EQ(runs.load(), 2);
  EXPECT_EQ(executions_of("keyed"), 2u);
}

TEST_F(EngineApiTest, StartOptionsKeyOverridesAndDeduplicates) {
  std::atomic<int> runs{0};
  const Workflow<int(int)> wf{"unkeyed", [&](WorkflowContext&, int x) -> Task<int> {
                                ++runs;
                                co_return x * 2;
                              }};
  Engine& engine = boot();

  auto a1 = engine.start(wf, 1, {.idempotency_key = "k1"});
  auto a2 = engine.start(wf, 1, {.idempotency_key = "k1"});
  auto b = engine.start(wf, 1, {.idempotency_key = "k2"});
  EXPECT_EQ(a1.id(), a2.id());
  EXPECT_NE(a1.id(), b.id());
  EXPECT_EQ(a1.get(), 2);
  EXPECT_EQ(b.get(), 2);
  engine.wait_idle();
  EXPECT_EQ(runs.load(), 2);
  EXPECT_EQ(executions_of("unkeyed"), 2u);
}

TEST_F(EngineApiTest, StartOptionsKeyOverridesTheWorkflowsOwnKey) {
  const Workflow<int(int)> wf{"keyed_int",
                              [](WorkflowContext&, int x) -> Task<int> { co_return x; },
                              {.idempotency_key = [](const int&) { return std::string("same"); }}};
  Engine& engine = boot();
  auto by_workflow_key = engine.start(wf, 1);
  auto by_option_key = engine.start(wf, 1, {.idempotency_key = "other"});
  EXPECT_NE(by_workflow_key.id(), by_option_key.id());
  EXPECT_EQ(engine.start(wf, 2).id(), by_workflow_key.id());
}

TEST_F(EngineApiTest, WithoutAKeyEveryStartIsANewExecution) {
  std::atomic<int> runs{0};
  const Workflow<int(int)> wf{"fresh", [&](WorkflowContext&, int x) -> Task<int> {
                                ++runs;
                                co_return x;
                              }};
  Engine& engine = boot();
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.insert(engine.start(wf, 7).id());
  engine.wait_idle();
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(runs.load(), 3);
  EXPECT_EQ(executions_of("fresh"), 3u);
}

TEST_F(EngineApiTest, ExecuteReturnsTheResult) {
  const Activity<int(int)> square{"square", [](int x) { return x * x; }};
  const Workflow<int(int)> wf{"squares", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                int s = co_await ctx.run(square, x);
                                co_return s + 1;
                              }};
  Engine& engine = boot();
  EXPECT_EQ(engine.execute(wf, 6), 6 * 6 + 1);
}

// top, gdb and perf show which threads are the engine's and what each does.
TEST_F(EngineApiTest, WorkflowCodeAndActivitiesRunOnNamedThreads) {
  auto thread_name = [] {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    return std::string(name);
  };
  const Activity<std::string(int)> where{"where", [&](int) { return thread_name(); }};
  const Workflow<std::string(int)> wf{"names", [&](WorkflowContext& ctx, int) -> Task<std::string> {
                                        std::string workflow_thread = thread_name();
                                        std::string activity_thread = co_await ctx.run(where, 0);
                                        co_return workflow_thread + " " + activity_thread;
                                      }};
  Engine& engine = boot();
  EXPECT_EQ(engine.execute(wf, 0), "durable-sched durable-act");
}

TEST_F(EngineApiTest, ANewExecutionsCreateAndItsFirstEventsShareOneCommit) {
  const DurableDeferred<int> go{"go"};
  const Workflow<int(int)> wf{"waits_at_once", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                co_return x + co_await ctx.await(go);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 1);
  // start() returns once the create is durable; the wait it reached first is journaled with it.
  EXPECT_EQ(events_of(h.id(), EventType::kDeferredAwaited).size(), 1u);
  engine.wait_idle();
  EXPECT_EQ(engine.stats().commits, 1u);
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
}

TEST_F(EngineApiTest, AOneActivityWorkflowTakesThreeCommits) {
  // create + activity_started, activity_completed, completed: a step's result reaches workflow
  // code only once it is durable, so the last two cannot share a commit.
  const Activity<int(int)> square{"square", [](int x) { return x * x; }};
  const Workflow<int(int)> wf{"one_step", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                co_return co_await ctx.run(square, x);
                              }};
  Engine& engine = boot();
  EXPECT_EQ(engine.execute(wf, 5), 25);
  engine.wait_idle();
  EXPECT_EQ(engine.stats().commits, 3u);
}

TEST_F(EngineApiTest, TwoStartsOfOneNewKeyAtOnceRunItOnce) {
  // Two starts of one id that reach the same scheduler round: one create happens, the other finds
  // it; the execution that ran in that round must survive the one that did not create it.
  std::mutex mutex;
  std::vector<int> attempts;
  const Activity<int(int)> step{"step", [&](ActivityContext& actx, int x) {
                                  std::lock_guard lock(mutex);
                                  attempts.push_back(actx.attempt());
                                  return x;
                                }};
  const Workflow<int(int)> wf{"twice_started", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                co_return co_await ctx.run(step, x);
                              }};
  Engine& engine = boot();
  constexpr int kKeys = 50;
  for (int k = 0; k < kKeys; ++k) {
    StartOptions keyed;
    keyed.idempotency_key = "key-" + std::to_string(k);
    std::latch go(2);
    std::string ids[2];
    auto start = [&](int i) {
      go.arrive_and_wait();
      ids[i] = engine.start(wf, k, keyed).id();
    };
    std::thread a(start, 0);
    std::thread b(start, 1);
    a.join();
    b.join();
    ASSERT_EQ(ids[0], ids[1]);
    EXPECT_EQ(engine.handle<int>(ids[0]).get(), k);
  }
  engine.wait_idle();
  std::lock_guard lock(mutex);
  EXPECT_EQ(attempts, std::vector<int>(kKeys, 1)) << "an execution's first attempt was lost";
  EXPECT_EQ(executions_of("twice_started"), static_cast<std::size_t>(kKeys));
  EXPECT_TRUE(faults().empty()) << faults().front();
}

TEST_F(EngineApiTest, HandlePollsNothingWhileWaitingAndTheValueAfter) {
  TokenBox box;
  const DurableDeferred<int> approval{"approval"};
  const Activity<void(std::string)> publish{"publish_token",
                                            [&](std::string token) { box.put(std::move(token)); }};
  const Workflow<int(int)> wf{"approve", [&](WorkflowContext& ctx, int base) -> Task<int> {
                                co_await ctx.run(publish, ctx.token(approval));
                                int extra = co_await ctx.await(approval);
                                co_return base + extra;
                              }};
  Engine& engine = boot([&](Engine& e) { e.add(approval); });
  auto h = engine.start(wf, 100);
  engine.wait_idle();

  EXPECT_EQ(h.poll(), std::nullopt);
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
  auto record = engine.describe(h.id());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->workflow, "approve");
  EXPECT_NE(record->waiting_on.find("approval"), std::string::npos) << record->waiting_on;

  ASSERT_FALSE(box.get().empty());
  EXPECT_EQ(engine.resolve(box.get(), Json(5)), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), 105);
  EXPECT_EQ(h.poll(), std::optional<int>(105));
  EXPECT_EQ(h.status(), ExecutionStatus::kCompleted);
  EXPECT_EQ(engine.resolve(box.get(), Json(6)), ResolveOutcome::kExecutionFinished);
}

TEST_F(EngineApiTest, PollIsEmptyDuringADurableSleep) {
  const Workflow<int(int)> wf{"sleeper", [](WorkflowContext& ctx, int x) -> Task<int> {
                                co_await ctx.sleep("nap", 10min);
                                co_return x;
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 3);
  engine.wait_idle();
  EXPECT_EQ(h.poll(), std::nullopt);
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
  clock_.advance(10min);
  EXPECT_EQ(h.get(), 3);
  EXPECT_EQ(h.status(), ExecutionStatus::kCompleted);
}

TEST_F(EngineApiTest, TypedResolveWorksWithATokenTakenInsideTheWorkflow) {
  TokenBox box;
  const DurableDeferred<std::string> name{"name"};
  const Workflow<std::string(int)> wf{"greet", [&](WorkflowContext& ctx, int) -> Task<std::string> {
                                        // The body is a side channel of its own: it runs on the
                                        // scheduler thread, and the box is thread-safe.
                                        box.put(ctx.token(name));
                                        std::string who = co_await ctx.await(name);
                                        co_return "hello " + who;
                                      }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  EXPECT_EQ(engine.resolve(name, box.get(), std::string("ada")), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), "hello ada");
}

TEST_F(EngineApiTest, DescribeAndHistoryShowTheJournalFromStartedToCompleted) {
  const Activity<int(int)> inc{"inc", [](int x) { return x + 1; }};
  const Workflow<int(int)> wf{"steps", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                int a = co_await ctx.run(inc, x);
                                co_await ctx.sleep("pause", 1s);
                                co_return co_await ctx.run(inc, a);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 40);
  engine.wait_idle();
  clock_.advance(1s);
  EXPECT_EQ(h.get(), 42);

  auto record = engine.describe(h.id());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->id, h.id());
  EXPECT_EQ(record->workflow, "steps");
  EXPECT_EQ(Json::parse(record->input), Json(40));
  EXPECT_EQ(Json::parse(record->result), Json(42));
  EXPECT_EQ(record->status, ExecutionStatus::kCompleted);

  auto events = engine.history(h.id());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(static_cast<std::int64_t>(events.size()), record->next_index);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].index, static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(events.front().type, EventType::kStarted);
  Json started = Json::parse(events.front().data);
  EXPECT_EQ(started.at("workflow"), "steps");
  EXPECT_EQ(started.at("input"), Json(40));
  EXPECT_EQ(events.back().type, EventType::kCompleted);
  EXPECT_EQ(Json::parse(events.back().data).at("value"), Json(42));
  EXPECT_EQ(events_of(h.id(), EventType::kActivityCompleted).size(), 2u);
  EXPECT_EQ(events_of(h.id(), EventType::kTimerFired).size(), 1u);
}

TEST_F(EngineApiTest, AThrowingWorkflowFailsAndHandlesReportItsTypeAndMessage) {
  const Workflow<int(int)> wf{"throws", [](WorkflowContext&, int) -> Task<int> {
                                throw std::invalid_argument("order has no lines");
                                co_return 0;
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  try {
    h.get();
    ADD_FAILURE() << "get() returned for a failed execution";
  } catch (const WorkflowFailed& e) {
    EXPECT_EQ(e.type(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "order has no lines");
  }
  EXPECT_EQ(h.status(), ExecutionStatus::kFailed);
  EXPECT_THROW(h.poll(), WorkflowFailed);
  EXPECT_EQ(events_of(h.id(), EventType::kFailed).size(), 1u);
}

TEST_F(EngineApiTest, WaitWithATimeoutReturnsNothingWhileUnfinished) {
  const DurableDeferred<int> never{"never"};
  const Workflow<int(int)> wf{"stuck", [&](WorkflowContext& ctx, int) -> Task<int> {
                                co_return co_await ctx.await(never);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  EXPECT_EQ(engine.wait(h.id(), 20ms), std::nullopt);
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
}

TEST_F(EngineApiTest, WaitReturnsTheFinalRecord) {
  const Workflow<int(int)> wf{"quick",
                              [](WorkflowContext&, int x) -> Task<int> { co_return x + 1; }};
  Engine& engine = boot();
  auto h = engine.start(wf, 1);
  auto record = engine.wait(h.id(), 10s);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->status, ExecutionStatus::kCompleted);
  EXPECT_EQ(Json::parse(record->result), Json(2));
}

TEST_F(EngineApiTest, UnknownIdsAreReportedClearly) {
  Engine& engine = boot();
  const std::string id = "no-such-execution";
  EXPECT_EQ(engine.cancel(id), CancelOutcome::kNoSuchExecution);
  EXPECT_THROW(engine.resume(id), NoSuchExecution);
  EXPECT_EQ(engine.describe(id), std::nullopt);
  EXPECT_THROW(engine.history(id), NoSuchExecution);
  EXPECT_THROW(engine.wait(id, 10ms), NoSuchExecution);
  EXPECT_THROW(engine.handle<int>(id).poll(), NoSuchExecution);
  EXPECT_THROW(engine.handle<int>(id).status(), NoSuchExecution);
  EXPECT_THROW(engine.handle<int>(id).get(), NoSuchExecution);
  try {
    engine.resume(id);
  } catch (const NoSuchExecution& e) {
    EXPECT_NE(std::string(e.what()).find(id), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store_->list_executions(ListQuery{}).executions.empty());
}

TEST_F(EngineApiTest, ResumeRefusesAnExecutionThatDoesNotNeedAttention) {
  const DurableDeferred<int> never{"never"};
  const Workflow<int(int)> wf{"waits", [&](WorkflowContext& ctx, int) -> Task<int> {
                                co_return co_await ctx.await(never);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  try {
    engine.resume(h.id());
    ADD_FAILURE() << "resume accepted a waiting execution";
  } catch (const NoSuchExecution&) {
    ADD_FAILURE() << "the execution exists";
  } catch (const DurableError& e) {
    EXPECT_NE(std::string(e.what()).find(h.id()), std::string::npos) << e.what();
  }
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
}

TEST_F(EngineApiTest, CancellingAWaitingExecutionEndsItCancelled) {
  const DurableDeferred<int> never{"never"};
  const Workflow<int(int)> wf{"cancellable", [&](WorkflowContext& ctx, int) -> Task<int> {
                                co_return co_await ctx.await(never);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  EXPECT_EQ(engine.cancel(h.id()), CancelOutcome::kRequested);
  EXPECT_THROW(h.get(), Cancelled);
  EXPECT_EQ(h.status(), ExecutionStatus::kCancelled);
  EXPECT_EQ(engine.cancel(h.id()), CancelOutcome::kExecutionFinished);
}

}  // namespace
}  // namespace durable
