// Side effects (now, random, uuid, side_effect) are journaled on the first run and replayed with
// the same values after a crash, without calling their generators again.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

struct Observed {
  std::int64_t now_ms = 0;
  std::uint64_t random = 0;
  std::string uuid;
  std::string uuid2;
  int effect = 0;
  bool replaying = false;
  int resolved = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Observed, now_ms, random, uuid, uuid2, effect, replaying,
                                   resolved)

bool same_side_effects(const Observed& a, const Observed& b) {
  return a.now_ms == b.now_ms && a.random == b.random && a.uuid == b.uuid && a.uuid2 == b.uuid2 &&
         a.effect == b.effect;
}

std::int64_t ms_of(TimePoint t) {
  return t.time_since_epoch().count();
}

class SideEffectsTest : public EngineTest {
 protected:
  // The workflow body refers to this fixture's members: stop the engine before they go.
  void TearDown() override { crash(); }

  // What the workflow saw each time its body ran past the side effects (one entry per run).
  std::mutex mutex_;
  std::vector<Observed> runs_;
  std::string token_;
  std::atomic<int> generator_calls_{0};

  const DurableDeferred<int> go_{"go"};
  const Workflow<Observed(int)> wf_{
      "observer", [this](WorkflowContext& ctx, int) -> Task<Observed> {
        Observed o;
        o.replaying = ctx.is_replaying();
        o.now_ms = ms_of(ctx.now());
        o.random = ctx.random();
        o.uuid = ctx.uuid();
        o.uuid2 = ctx.uuid();
        o.effect = ctx.side_effect<int>("dice", [this] { return 1000 + ++generator_calls_; });
        {
          std::lock_guard lock(mutex_);
          runs_.push_back(o);
          token_ = ctx.token(go_);
        }
        o.resolved = co_await ctx.await(go_);
        co_return o;
      }};

  Engine& boot_observer() {
    return boot([this](Engine& e) { e.add(wf_); });
  }
  std::vector<Observed> runs() {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::string token() {
    std::lock_guard lock(mutex_);
    return token_;
  }
};

TEST_F(SideEffectsTest, ReplayAfterACrashReturnsTheFirstRunsValues) {
  auto id = boot_observer().start(wf_, 0).id();
  engine_->wait_idle();
  ASSERT_EQ(runs().size(), 1u);
  const Observed first = runs()[0];
  EXPECT_FALSE(first.replaying);

  crash();
  clock_.advance(3h);
  Engine& engine = boot_observer();
  engine.wait_idle();
  ASSERT_EQ(runs().size(), 2u) << "the workflow was not replayed after the crash";
  EXPECT_TRUE(runs()[1].replaying);
  EXPECT_TRUE(same_side_effects(runs()[1], first));

  EXPECT_EQ(engine.resolve(token(), Json(9)), ResolveOutcome::kResolved);
  Observed result = engine.handle<Observed>(id).get();
  EXPECT_EQ(result.now_ms, first.now_ms);
  EXPECT_EQ(result.random, first.random);
  EXPECT_EQ(result.uuid, first.uuid);
  EXPECT_EQ(result.uuid2, first.uuid2);
  EXPECT_EQ(result.effect, first.effect);
  EXPECT_EQ(result.resolved, 9);
  EXPECT_EQ(generator_calls_.load(), 1) << "the side effect's generator ran again on replay";

  auto side_effects = events_of(id, EventType::kSideEffect);
  ASSERT_EQ(side_effects.size(), 5u) << "replay journaled the side effects again";
  std::vector<std::string> names;
  for (const auto& e : side_effects) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"now", "random", "uuid", "uuid", "dice"}));
}

TEST_F(SideEffectsTest, NowIsTheEngineClocksTimeAtTheFirstRun) {
  const TimePoint started_at = clock_.now();
  auto id = boot_observer().start(wf_, 0).id();
  engine_->wait_idle();
  crash();
  clock_.advance(3h);
  Engine& engine = boot_observer();
  engine.wait_idle();
  engine.resolve(token(), Json(1));
  Observed result = engine.handle<Observed>(id).get();
  EXPECT_EQ(result.now_ms, ms_of(started_at));
}

TEST_F(SideEffectsTest, UuidsAreVersion4AndDistinct) {
  auto h = boot_observer().start(wf_, 0);
  engine_->wait_idle();
  engine_->resolve(token(), Json(0));
  Observed result = h.get();
  const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(result.uuid, v4)) << result.uuid;
  EXPECT_TRUE(std::regex_match(result.uuid2, v4)) << result.uuid2;
  EXPECT_NE(result.uuid, result.uuid2);
}

TEST_F(SideEffectsTest, EachExecutionGetsItsOwnValues) {
  Engine& engine = boot_observer();
  engine.start(wf_, 0);
  engine.start(wf_, 0);
  engine.wait_idle();
  auto seen = runs();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].random, seen[1].random);
  EXPECT_NE(seen[0].uuid, seen[1].uuid);
  EXPECT_NE(seen[0].effect, seen[1].effect);
  EXPECT_EQ(generator_calls_.load(), 2);
}

}  // namespace
}  // namespace durable
