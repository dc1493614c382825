// Durable sleeps: no thread held, survive restarts, fire at or after their due time.
#include <gtest/gtest.h>

#include <atomic>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

class SleepTest : public EngineTest {};

const Workflow<std::int64_t(int)> kNap{"nap",
                                       [](WorkflowContext& ctx, int hours) -> Task<std::int64_t> {
                                         TimePoint start = ctx.now();
                                         co_await ctx.sleep("nap", std::chrono::hours(hours));
                                         co_return (ctx.now() - start).count();
                                       }};

TEST_F(SleepTest, AFortyEightHourSleepFiresOnlyOnceItsTimeHasCome) {
  Engine& engine = boot();
  auto h = engine.start(kNap, 48);
  engine.wait_idle();
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
  EXPECT_NE(engine.describe(h.id())->waiting_on.find("timer 'nap'"), std::string::npos);
  clock_.advance(48h - 1ms);
  engine.wait_idle();
  EXPECT_FALSE(h.poll()) << "fired before its due time";
  clock_.advance(1ms);
  EXPECT_EQ(h.get(), std::chrono::milliseconds(48h).count());
  auto scheduled = events_of(h.id(), EventType::kTimerScheduled);
  auto fired = events_of(h.id(), EventType::kTimerFired);
  ASSERT_EQ(scheduled.size(), 1u);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_GE(fired[0].time, scheduled[0].time + 48h);
}

TEST_F(SleepTest, EveryEventIsStampedWithTheClockTimeOfTheRoundThatMadeIt) {
  // The scheduler reads the clock once per phase of a round, not per event: the stamps must
  // still follow the clock from one round to the next, exactly.
  const Activity<int(int)> twice{"twice", [](int x) { return 2 * x; }};
  const Workflow<int(int)> wf{"step_nap_step", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                int y = co_await ctx.run(twice, x);
                                co_await ctx.sleep("nap", 1h);
                                co_return co_await ctx.run(twice, y);
                              }};
  Engine& engine = boot();
  const TimePoint t0 = clock_.now();
  auto h = engine.start(wf, 3);
  engine.wait_idle();
  ASSERT_EQ(h.status(), ExecutionStatus::kWaiting);
  clock_.advance(1h);
  EXPECT_EQ(h.get(), 12);
  auto events = store_->load_events(h.id(), 0);
  ASSERT_FALSE(events.empty());
  std::size_t fired = events.size();
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].type == EventType::kTimerFired) fired = i;
  }
  ASSERT_LT(fired, events.size()) << "the sleep never fired";
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].time, i < fired ? t0 : t0 + 1h)
        << "event " << i << " (" << to_string(events[i].type) << ")";
  }
}

TEST_F(SleepTest, ATimerSurvivesARestartAndKeepsItsOriginalDueTime) {
  auto setup = [](Engine& e) { e.add(kNap); };
  Engine& first = boot(setup);
  auto h = first.start(kNap, 10);
  first.wait_idle();
  clock_.advance(6h);
  first.wait_idle();
  crash();
  Engine& second = boot(setup);
  second.wait_idle();
  EXPECT_EQ(second.describe(h.id())->status, ExecutionStatus::kWaiting);
  clock_.advance(4h);  // 10 h after the sleep began, not 10 h after the restart
  EXPECT_EQ(second.handle<std::int64_t>(h.id()).get(), std::chrono::milliseconds(10h).count());
}

TEST_F(SleepTest, SleepingExecutionsHoldNoThread) {
  // One worker thread, a hundred sleepers: an activity workflow still runs to completion.
  auto o = options();
  o.activity_threads = 1;
  Engine engine(store_, o);
  const Activity<int(int)> inc{"inc", [](int x) { return x + 1; }};
  const Workflow<int(int)> busy{"busy", [&](WorkflowContext& ctx, int n) -> Task<int> {
                                  int x = 0;
                                  for (int i = 0; i < n; ++i) x = co_await ctx.run(inc, x);
                                  co_return x;
                                }};
  engine.start();
  std::vector<ExecutionHandle<std::int64_t>> sleepers;
  for (int i = 0; i < 100; ++i) sleepers.push_back(engine.start(kNap, 1));
  EXPECT_EQ(engine.execute(busy, 20), 20);
  for (auto& s : sleepers) EXPECT_EQ(s.status(), ExecutionStatus::kWaiting);
  clock_.advance(1h);
  for (auto& s : sleepers) EXPECT_EQ(s.get(), std::chrono::milliseconds(1h).count());
}

TEST_F(SleepTest, SleepUntilAPastTimeFiresAtOnce) {
  const Workflow<int(int)> wf{"past", [&](WorkflowContext& ctx, int) -> Task<int> {
                                co_await ctx.sleep_until("already", ctx.now() - 1h);
                                co_return 1;
                              }};
  Engine& engine = boot();
  EXPECT_EQ(engine.execute(wf, 0), 1);
}

}  // namespace
}  // namespace durable
