// Replay: a crash (the engine destroyed mid-run) loses nothing and re-runs no finished step; a live
// execution is never replayed from the start on each step.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

class ReplayTest : public EngineTest {};

// Counts real runs of each step, across engines.
struct StepLog {
  std::mutex mutex;
  std::map<int, int> runs;
  void record(int step) {
    std::lock_guard lock(mutex);
    ++runs[step];
  }
  int count(int step) {
    std::lock_guard lock(mutex);
    return runs[step];
  }
};

TEST_F(ReplayTest, ANewEngineContinuesUnfinishedExecutionsWithoutRerunningFinishedSteps) {
  StepLog log;
  const Activity<int(int)> step{"step", [&](int i) {
                                  log.record(i);
                                  return i * i;
                                }};
  const DurableDeferred<int> go{"go"};
  std::mutex token_mutex;
  std::map<int, std::string> tokens;
  const Activity<void(int, std::string)> publish_token{"publish_token",
                                                       [&](int n, std::string token) {
                                                         std::lock_guard lock(token_mutex);
                                                         tokens[n] = token;
                                                       }};
  const Workflow<int(int)> wf{"sum_of_squares",
                              [&](WorkflowContext& ctx, int n) -> Task<int> {
                                int sum = 0;
                                for (int i = 0; i < 3; ++i) sum += co_await ctx.run(step, i);
                                co_await ctx.run(publish_token, n, ctx.token(go));
                                sum += co_await ctx.await(go);
                                for (int i = 3; i < 6; ++i) sum += co_await ctx.run(step, i);
                                co_return sum;
                              },
                              {.idempotency_key = [](const int& n) { return std::to_string(n); }}};
  auto setup = [&](Engine& e) { e.add(wf); };

  Engine& first = boot(setup);
  auto a = first.start(wf, 1);
  auto b = first.start(wf, 2);
  first.wait_idle();
  ASSERT_EQ(a.status(), ExecutionStatus::kWaiting);
  ASSERT_EQ(b.status(), ExecutionStatus::kWaiting);
  crash();

  Engine& second = boot(setup);
  std::map<int, std::string> copy;
  {
    std::lock_guard lock(token_mutex);
    copy = tokens;
  }
  EXPECT_EQ(second.resolve(copy.at(1), 100), ResolveOutcome::kResolved);
  EXPECT_EQ(second.resolve(copy.at(2), 200), ResolveOutcome::kResolved);
  int expected_squares = 0 + 1 + 4 + 9 + 16 + 25;
  EXPECT_EQ(second.handle<int>(a.id()).get(), expected_squares + 100);
  EXPECT_EQ(second.handle<int>(b.id()).get(), expected_squares + 200);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(log.count(i), 2) << "step " << i;  // once per execution
  EXPECT_EQ(second.stats().executions_loaded, 2u);
  EXPECT_GE(second.stats().ops_replayed, 2u * 4u);
}

TEST_F(ReplayTest, AnExecutionCrashedMidActivityRunsThatActivityAgainAsItsNextAttempt) {
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  const Activity<int()> slow{"slow",
                             [&](ActivityContext& ctx) {
                               ++runs;
                               while (!release && !ctx.cancelled()) std::this_thread::yield();
                               return ctx.attempt();
                             },
                             {.retry = {.max_attempts = 3}}};
  const Workflow<int(int)> wf{
      "wf", [&](WorkflowContext& ctx, int) -> Task<int> { co_return co_await ctx.run(slow); }};
  auto setup = [&](Engine& e) { e.add(wf); };
  Engine& first = boot(setup);
  auto h = first.start(wf, 0);
  while (runs.load() == 0) std::this_thread::yield();
  crash();  // attempt 1 is interrupted: its cancel flag is set, its result is dropped
  release = true;
  Engine& second = boot(setup);
  EXPECT_EQ(second.handle<int>(h.id()).get(), 2) << "the interrupted attempt counts";
  EXPECT_EQ(runs.load(), 2);
}

TEST_F(ReplayTest, ALiveExecutionIsNeverReplayedFromTheStart) {
  constexpr int kSteps = 300;
  std::atomic<int> body_entries{0};
  const Activity<int(int)> inc{"inc", [](int x) { return x + 1; }};
  const Workflow<int(int)> wf{"counter", [&](WorkflowContext& ctx, int n) -> Task<int> {
                                ++body_entries;
                                int x = 0;
                                for (int i = 0; i < n; ++i) x = co_await ctx.run(inc, x);
                                co_return x;
                              }};
  Engine& engine = boot();
  EXPECT_EQ(engine.execute(wf, kSteps), kSteps);
  EXPECT_EQ(body_entries.load(), 1);
  // No operation was answered from a replayed journal: each step cost the same, whatever its
  // position in the history.
  EXPECT_EQ(engine.stats().ops_replayed, 0u);
  EXPECT_EQ(engine.stats().executions_loaded, 0u);
}

}  // namespace
}  // namespace durable
