// all(...) and race(...) over activities, sleeps and deferreds, deterministic on replay.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

std::mutex g_mutex;
std::string g_token;
std::atomic<int> g_square_runs{0};

const Activity<int(int)> kSquare{"square", [](int x) {
                                   ++g_square_runs;
                                   return x * x;
                                 }};
const Activity<void(std::string)> kPublish{"publish", [](std::string t) {
                                             std::lock_guard lock(g_mutex);
                                             g_token = std::move(t);
                                           }};
const DurableDeferred<std::string> kReply{"reply"};

const Workflow<int(int)> kFanOut{"fan_out", [](WorkflowContext& ctx, int n) -> Task<int> {
                                   std::vector<Op<int>> ops;
                                   for (int i = 1; i <= n; ++i) ops.push_back(ctx.run(kSquare, i));
                                   auto squares = co_await all(std::move(ops));
                                   int sum = 0;
                                   for (int s : squares) sum += s;
                                   auto [a, b, slept] =
                                       co_await all(ctx.run(kSquare, 10), ctx.run(kSquare, 20),
                                                    ctx.sleep("s", 1h));
                                   (void)slept;
                                   co_return sum + a + b;
                                 }};

// Waits for a reply or one hour, whichever is first; then sleeps so a restart can happen after.
const Workflow<std::string(int)> kReplyOrTimeout{
    "reply_or_timeout", [](WorkflowContext& ctx, int) -> Task<std::string> {
      co_await ctx.run(kPublish, ctx.token(kReply));
      auto winner = co_await race(ctx.await(kReply), ctx.sleep("deadline", 1h));
      std::string result = winner.index() == 0 ? "reply: " + std::get<0>(winner) : "deadline";
      co_await ctx.sleep("after", 10h);
      co_return result;
    }};

class CombinatorsTest : public EngineTest {
 protected:
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kFanOut);
      e.add(kReplyOrTimeout);
    });
  }
  std::string token() {
    std::lock_guard lock(g_mutex);
    return g_token;
  }
};

TEST_F(CombinatorsTest, AllWaitsForEveryOperationAndKeepsArgumentOrder) {
  Engine& engine = up();
  auto h = engine.start(kFanOut, 4);
  engine.wait_idle();
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting) << "the sleep inside all() is still pending";
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 1 + 4 + 9 + 16 + 100 + 400);
}

TEST_F(CombinatorsTest, RaceReturnsTheFirstAndDropsTheOther) {
  Engine& engine = up();
  auto h = engine.start(kReplyOrTimeout, 0);
  engine.wait_idle();
  EXPECT_EQ(engine.resolve(token(), "hello"), ResolveOutcome::kResolved);
  engine.wait_idle();
  clock_.advance(10h);
  EXPECT_EQ(h.get(), "reply: hello");
  EXPECT_EQ(events_of(h.id(), EventType::kTimerFired).size(), 1u) << "only 'after' fired";
}

TEST_F(CombinatorsTest, RaceTimesOutWhenNothingArrives) {
  Engine& engine = up();
  auto h = engine.start(kReplyOrTimeout, 0);
  engine.wait_idle();
  clock_.advance(1h);
  engine.wait_idle();
  clock_.advance(10h);
  EXPECT_EQ(h.get(), "deadline");
}

TEST_F(CombinatorsTest, ARaceDecidedBeforeACrashIsDecidedTheSameWayOnReplay) {
  Engine& first = up();
  auto h = first.start(kReplyOrTimeout, 0);
  first.wait_idle();
  clock_.advance(1h);  // the deadline wins
  first.wait_idle();
  std::string t = token();
  crash();
  Engine& second = up();
  second.wait_idle();
  // A reply after the race was decided must not change the replayed decision.
  second.resolve(t, "too late");
  second.wait_idle();
  clock_.advance(10h);
  EXPECT_EQ(second.handle<std::string>(h.id()).get(), "deadline");
}

TEST_F(CombinatorsTest, AllIsReplayedWithoutRerunningItsActivities) {
  Engine& first = up();
  g_square_runs = 0;
  auto h = first.start(kFanOut, 3);
  first.wait_idle();
  int runs = g_square_runs.load();
  EXPECT_EQ(runs, 5);
  crash();
  Engine& second = up();
  second.wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(second.handle<int>(h.id()).get(), 1 + 4 + 9 + 100 + 400);
  EXPECT_EQ(g_square_runs.load(), runs);
}

}  // namespace
}  // namespace durable
