// EngineOptions::max_cached_waiting: executions waiting on durable sleeps and deferreds beyond the
// limit are dropped from memory and loaded again by replay when their timer fires or their deferred
// is resolved; nothing they did before is done twice, and executions with work in this engine
// (activities, children) are never dropped.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

std::atomic<int> g_prepared{0};
const Activity<int(int)> kPrepare{"prepare", [](int n) {
                                    g_prepared.fetch_add(1);
                                    return n * 10;
                                  }};

// Runs an activity, then sleeps `naps` times; the result needs the activity's journaled value.
const Workflow<int(int)> kNapper{"napper", [](WorkflowContext& ctx, int naps) -> Task<int> {
                                   int base = co_await ctx.run(kPrepare, naps);
                                   for (int i = 0; i < naps; ++i) {
                                     co_await ctx.sleep("nap", 1h);
                                     base += 1;
                                   }
                                   co_return base;
                                 }};

const DurableDeferred<int> kGo{"go"};
std::mutex g_tokens_mutex;
std::map<int, std::string> g_tokens;  // workflow input -> token, written by workflow code

void keep_token(int n, std::string token) {
  std::lock_guard lock(g_tokens_mutex);
  g_tokens[n] = std::move(token);
}
std::string token_of(int n) {
  std::lock_guard lock(g_tokens_mutex);
  return g_tokens.at(n);
}

// Waits for kGo, up to an hour when `n` is negative.
const Workflow<int(int)> kWaiter{"waiter", [](WorkflowContext& ctx, int n) -> Task<int> {
                                   int base = co_await ctx.run(kPrepare, n);
                                   keep_token(n, ctx.token(kGo));
                                   if (n < 0) {
                                     std::optional<int> v = co_await ctx.await(kGo, 1h);
                                     co_return v ? base + *v : -1;
                                   }
                                   co_return base + co_await ctx.await(kGo);
                                 }};

const Workflow<int(int)> kParent{"parent", [](WorkflowContext& ctx, int n) -> Task<int> {
                                   co_return 1 + co_await ctx.child(kWaiter, n);
                                 }};

class UnloadTest : public EngineTest {
 protected:
  void SetUp() override { g_prepared = 0; }

  Engine& up(std::size_t max_cached_waiting) {
    EngineOptions o = options();
    o.max_cached_waiting = max_cached_waiting;
    engine_ = std::make_unique<Engine>(store_, o);
    engine_->add(kNapper);
    engine_->add(kWaiter);
    engine_->add(kParent);
    engine_->add(kGo);
    engine_->start();
    return *engine_;
  }

  // Starts `workflow` on an engine that unloads every wait (up(0)) and lets it reach its wait.
  ExecutionHandle<int> start_unloaded(const Workflow<int(int)>& workflow, int n) {
    auto h = engine_->start(workflow, n);
    engine_->wait_idle();
    EXPECT_EQ(engine_->stats().executions_unloaded, 1u) << "the execution was not unloaded";
    return h;
  }
};

TEST_F(UnloadTest, WaitingExecutionsBeyondTheLimitAreUnloadedAndWakeOnTheirTimers) {
  Engine& engine = up(1);
  auto a = engine.start(kNapper, 1);
  auto b = engine.start(kNapper, 1);
  auto c = engine.start(kNapper, 1);
  engine.wait_idle();
  EXPECT_EQ(engine.stats().executions_unloaded, 2u);
  EXPECT_EQ(engine.describe(a.id())->status, ExecutionStatus::kWaiting);

  clock_.advance(1h);
  EXPECT_EQ(a.get(), 11);
  EXPECT_EQ(b.get(), 11);
  EXPECT_EQ(c.get(), 11);
  EXPECT_EQ(g_prepared.load(), 3) << "a reloaded execution ran its activity again";
  EXPECT_EQ(engine.stats().executions_loaded, 2u);
}

TEST_F(UnloadTest, WithinTheLimitNothingIsUnloaded) {
  Engine& engine = up(10);
  auto a = engine.start(kNapper, 1);
  auto b = engine.start(kNapper, 1);
  engine.wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(a.get(), 11);
  EXPECT_EQ(b.get(), 11);
  EXPECT_EQ(engine.stats().executions_unloaded, 0u);
  EXPECT_EQ(engine.stats().executions_loaded, 0u);
}

TEST_F(UnloadTest, AnExecutionThatWaitsAgainAndAgainIsUnloadedAndReloadedEachTime) {
  Engine& engine = up(0);
  auto h = engine.start(kNapper, 4);
  for (int i = 0; i < 4; ++i) {
    engine.wait_idle();
    EXPECT_EQ(engine.stats().executions_unloaded, static_cast<std::uint64_t>(i + 1));
    clock_.advance(1h);
  }
  EXPECT_EQ(h.get(), 44);
  EXPECT_EQ(g_prepared.load(), 1);
  EXPECT_EQ(engine.stats().executions_loaded, 4u);
  EXPECT_EQ(events_of(h.id(), EventType::kTimerFired).size(), 4u);
}

TEST_F(UnloadTest, AnUnloadedExecutionWakesWhenItsDeferredIsResolved) {
  Engine& engine = up(0);
  auto h = start_unloaded(kWaiter, 7);
  EXPECT_EQ(engine.resolve(kGo, token_of(7), 5), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), 75);
  EXPECT_EQ(g_prepared.load(), 1);
}

TEST_F(UnloadTest, AnUnloadedExecutionWakesWhenAnotherEngineResolvesItsDeferred) {
  up(0);
  auto h = start_unloaded(kWaiter, 8);
  // Another process sharing the store: its resolution reaches this engine only through the
  // store's runnable mark, found by polling.
  Engine other(store_, options());
  EXPECT_EQ(other.resolve(kGo, token_of(8), 2), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), 82);
  EXPECT_EQ(g_prepared.load(), 1);
}

TEST_F(UnloadTest, AnUnloadedExecutionCanBeCancelled) {
  Engine& engine = up(0);
  auto h = start_unloaded(kNapper, 2);
  EXPECT_EQ(engine.cancel(h.id()), CancelOutcome::kRequested);
  auto record = engine.wait(h.id(), 20s);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->status, ExecutionStatus::kCancelled);
  EXPECT_TRUE(events_of(h.id(), EventType::kTimerFired).empty());
}

const Activity<int(int)> kTimedPrepare{
    "timed_prepare", [](int n) { return n; }, {.retry = {}, .timeout = 10min}};
const Workflow<int(int)> kTimedNapper{"timed_napper", [](WorkflowContext& ctx, int n) -> Task<int> {
                                        int v = co_await ctx.run(kTimedPrepare, n);
                                        co_await ctx.sleep("nap", 1h);
                                        co_return v;
                                      }};

TEST_F(UnloadTest, AFinishedActivitysTimeoutDoesNotLoadAnUnloadedExecution) {
  Engine& engine = up(0);
  engine.add(kTimedNapper);
  auto h = start_unloaded(kTimedNapper, 4);
  clock_.advance(11min);  // the attempt's timeout entry comes due, long after the attempt ended
  engine.wait_idle();
  EXPECT_EQ(engine.stats().executions_loaded, 0u);
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 4);
  EXPECT_EQ(engine.stats().executions_loaded, 1u);
}

TEST_F(UnloadTest, AnUnloadedExecutionsDeadlineStillPasses) {
  Engine& engine = up(0);
  auto h = start_unloaded(kWaiter, -3);
  clock_.advance(2h);
  EXPECT_EQ(h.get(), -1);
  EXPECT_EQ(events_of(h.id(), EventType::kDeferredTimedOut).size(), 1u);
  EXPECT_EQ(engine.stats().executions_loaded, 1u);
}

TEST_F(UnloadTest, AParentWaitingOnItsChildStaysLoaded) {
  Engine& engine = up(0);
  auto h = engine.start(kParent, 2);
  engine.wait_idle();
  // Only the child, which waits on a deferred, is unloaded; the parent watches it from here.
  EXPECT_EQ(engine.stats().executions_unloaded, 1u);
  EXPECT_EQ(engine.resolve(kGo, token_of(2), 3), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), 24);
  EXPECT_EQ(engine.stats().executions_unloaded, 1u);
}

}  // namespace
}  // namespace durable
