// DurableRateLimiter: executions over the limit sleep durably until the store lets them go on;
// each decision is journaled, so a replay takes the same path without asking the store again.
#include <gtest/gtest.h>

#include <map>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

const auto kPerMinute = DurableRateLimiter::fixed_window("api", 2, 1min);
const auto kBucket = DurableRateLimiter::token_bucket("bucket", 1, 10s);

// Returns the (journaled) time at which the permit was granted.
const Workflow<std::int64_t(int)> kCallsApi{"calls_api",
                                            [](WorkflowContext& ctx, int) -> Task<std::int64_t> {
                                              co_await kPerMinute.acquire(ctx);
                                              co_return ctx.now().time_since_epoch().count();
                                            }};

const Workflow<std::int64_t(int)> kUsesBucket{"uses_bucket",
                                              [](WorkflowContext& ctx, int) -> Task<std::int64_t> {
                                                co_await kBucket.acquire(ctx);
                                                co_return ctx.now().time_since_epoch().count();
                                              }};

// Takes a permit, then naps: a replay must not ask the store again for the permit it holds.
const Workflow<int(int)> kPermitThenNap{"permit_then_nap",
                                        [](WorkflowContext& ctx, int x) -> Task<int> {
                                          co_await kPerMinute.acquire(ctx);
                                          co_await ctx.sleep("nap", 1h);
                                          co_return x;
                                        }};

class RateLimiterTest : public EngineTest {
 protected:
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kCallsApi);
      e.add(kUsesBucket);
      e.add(kPermitThenNap);
    });
  }
  std::int64_t ms(TimePoint t) { return t.time_since_epoch().count(); }
  int count_completed(Engine& engine, const std::vector<ExecutionHandle<std::int64_t>>& hs) {
    int done = 0;
    for (const auto& h : hs) done += engine.describe(h.id())->status == ExecutionStatus::kCompleted;
    return done;
  }
};

TEST_F(RateLimiterTest, ExecutionsBeyondAFixedWindowSleepUntilTheNextWindowAndAllFinish) {
  Engine& engine = up();
  const TimePoint start = clock_.now();  // a whole minute
  std::vector<ExecutionHandle<std::int64_t>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(engine.start(kCallsApi, i));
  engine.wait_idle();
  EXPECT_EQ(count_completed(engine, hs), 2);
  for (const auto& h : hs) {
    auto record = *engine.describe(h.id());
    if (record.status == ExecutionStatus::kWaiting) {
      EXPECT_EQ(record.waiting_on, "timer 'rate limit api'");
    }
  }
  clock_.advance(1min);
  engine.wait_idle();
  EXPECT_EQ(count_completed(engine, hs), 4);
  clock_.advance(1min);
  engine.wait_idle();
  EXPECT_EQ(count_completed(engine, hs), 5);
  std::map<std::int64_t, int> per_window;
  for (const auto& h : hs) ++per_window[(h.get() - ms(start)) / 60'000];
  EXPECT_EQ(per_window, (std::map<std::int64_t, int>{{0, 2}, {1, 2}, {2, 1}}));
}

TEST_F(RateLimiterTest, ATokenBucketLetsABurstThroughThenOnePerRefill) {
  Engine& engine = up();
  std::vector<ExecutionHandle<std::int64_t>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(engine.start(kUsesBucket, i));
  engine.wait_idle();
  EXPECT_EQ(count_completed(engine, hs), 1);
  clock_.advance(10s);
  engine.wait_idle();
  EXPECT_EQ(count_completed(engine, hs), 2);
  clock_.advance(10s);
  engine.wait_idle();
  EXPECT_EQ(count_completed(engine, hs), 3);
}

TEST_F(RateLimiterTest, AReplayFollowsTheJournaledDecisionsWithoutAskingAgain) {
  up();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(engine_->start(kPermitThenNap, i).id());
  engine_->wait_idle();
  auto decisions = [&](const std::string& id) {
    std::vector<std::string> out;
    for (const Event& e : events_of(id, EventType::kSideEffect)) out.push_back(e.data);
    return out;
  };
  std::map<std::string, std::vector<std::string>> before;
  for (const auto& id : ids) before[id] = decisions(id);

  crash();
  Engine& engine = up();
  engine.wait_idle();
  int napping = 0;
  for (const auto& id : ids) {
    EXPECT_EQ(decisions(id), before[id]) << id;
    auto record = *engine.describe(id);
    napping += record.waiting_on == "timer 'nap'";
  }
  // Two hold permits of the first window and nap; had the replay asked again, the full window
  // would have refused them.
  EXPECT_EQ(napping, 2);
  clock_.advance(1min);
  engine.wait_idle();
  clock_.advance(1h);
  engine.wait_idle();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(engine.handle<int>(ids[i]).get(), static_cast<int>(i));
  }
}

TEST_F(RateLimiterTest, ALimitWithoutPermitsIsRefusedWhenDeclared) {
  EXPECT_THROW(DurableRateLimiter::fixed_window("none", 0, 1s), DurableError);
  EXPECT_THROW(DurableRateLimiter::token_bucket("", 1, 1s), DurableError);
  EXPECT_THROW(DurableRateLimiter::token_bucket("still", 1, 0s), DurableError);
}

}  // namespace
}  // namespace durable
