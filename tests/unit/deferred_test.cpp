// DurableDeferred: resolution before and after the await, first wins, authenticated tokens, clear
// errors that change nothing, timeouts.
#include <gtest/gtest.h>

#include <mutex>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

struct Decision {
  bool approved = false;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Decision, approved, reason)

const DurableDeferred<Decision> kApproval{"approval"};
const DurableDeferred<int> kOther{"other"};

std::mutex g_mutex;
std::vector<std::string> g_tokens;
std::string last_token() {
  std::lock_guard lock(g_mutex);
  return g_tokens.back();
}
const Activity<void(std::string)> kPublish{"publish", [](std::string token) {
                                             std::lock_guard lock(g_mutex);
                                             g_tokens.push_back(std::move(token));
                                           }};

// Publishes the token, then (optionally after a gate sleep) waits for the decision.
const Workflow<std::string(int)> kGate{
    "gate", [](WorkflowContext& ctx, int gate_hours) -> Task<std::string> {
      co_await ctx.run(kPublish, ctx.token(kApproval));
      if (gate_hours > 0) co_await ctx.sleep("gate", std::chrono::hours(gate_hours));
      Decision d = co_await ctx.await(kApproval);
      co_return (d.approved ? "approved: " : "rejected: ") + d.reason;
    }};

const Workflow<std::string(int)> kTimed{
    "timed", [](WorkflowContext& ctx, int hours) -> Task<std::string> {
      co_await ctx.run(kPublish, ctx.token(kApproval));
      std::optional<Decision> d = co_await ctx.await(kApproval, std::chrono::hours(hours));
      co_return d ? d->reason : "timed out";
    }};

class DeferredTest : public EngineTest {
 protected:
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kGate);
      e.add(kTimed);
      e.add(kApproval);
      e.add(kOther);
    });
  }
};

TEST_F(DeferredTest, AResolutionAfterTheAwaitWakesTheWorkflow) {
  Engine& engine = up();
  auto h = engine.start(kGate, 0);
  engine.wait_idle();
  EXPECT_EQ(engine.describe(h.id())->waiting_on, "deferred 'approval'");
  EXPECT_EQ(engine.resolve(kApproval, last_token(), Decision{true, "ok"}),
            ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), "approved: ok");
}

TEST_F(DeferredTest, AResolutionBeforeTheAwaitIsKept) {
  Engine& engine = up();
  auto h = engine.start(kGate, 2);  // sleeps 2 h before awaiting
  engine.wait_idle();
  EXPECT_EQ(engine.resolve(last_token(), Json{{"approved", false}, {"reason", "early"}}),
            ResolveOutcome::kResolved);
  clock_.advance(2h);
  EXPECT_EQ(h.get(), "rejected: early");
}

TEST_F(DeferredTest, TheFirstResolutionWinsAndALaterOneIsReported) {
  Engine& engine = up();
  auto h = engine.start(kGate, 0);
  engine.wait_idle();
  std::string token = last_token();
  // With the engine stopped, nothing consumes the first resolution before the second arrives.
  engine.stop();
  EXPECT_EQ(engine.resolve(kApproval, token, Decision{true, "first"}), ResolveOutcome::kResolved);
  EXPECT_EQ(engine.resolve(kApproval, token, Decision{false, "second"}),
            ResolveOutcome::kAlreadyResolved);
  engine.start();
  EXPECT_EQ(h.get(), "approved: first");
  EXPECT_EQ(engine.resolve(kApproval, token, Decision{false, "late"}),
            ResolveOutcome::kExecutionFinished);
}

TEST_F(DeferredTest, ForgedAlteredOrMalformedTokensAreRejectedAndChangeNothing) {
  Engine& engine = up();
  auto h = engine.start(kGate, 0);
  engine.wait_idle();
  std::string token = last_token();
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THROW(engine.resolve(altered, Json{{"approved", true}, {"reason", "x"}}), InvalidToken);
  EXPECT_THROW(engine.resolve("not a token", Json{{"approved", true}, {"reason", "x"}}),
               InvalidToken);
  EXPECT_THROW(engine.resolve("", Json{{"approved", true}, {"reason", "x"}}), InvalidToken);
  // A token minted by another store (another secret) for the same execution.
  auto other = std::make_shared<MemoryStore>();
  Engine foreign(other, options());
  const Workflow<std::string(int)> copy = kGate;
  foreign.add(copy);
  auto f = foreign.start(copy, 0);
  foreign.wait_idle();
  EXPECT_THROW(engine.resolve(last_token(), Json{{"approved", true}, {"reason", "x"}}),
               InvalidToken);
  foreign.stop();
  (void)f;
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);
  EXPECT_FALSE(store_->get_deferred(h.id(), "approval").has_value());
  EXPECT_EQ(engine.resolve(kApproval, token, Decision{true, "real"}), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), "approved: real");
}

TEST_F(DeferredTest, AResolutionOfTheWrongTypeIsRejectedAndChangesNothing) {
  Engine& engine = up();
  auto h = engine.start(kGate, 0);
  engine.wait_idle();
  std::string token = last_token();
  EXPECT_THROW(engine.resolve(token, Json("yes")), DecodeError);
  EXPECT_THROW(engine.resolve(token, Json{{"approved", "maybe"}}), DecodeError);
  // A typed resolution through another deferred's handle names both.
  try {
    engine.resolve(kOther, token, 5);
    FAIL() << "resolved through the wrong deferred";
  } catch (const InvalidToken& e) {
    EXPECT_NE(std::string(e.what()).find("approval"), std::string::npos);
  }
  EXPECT_FALSE(store_->get_deferred(h.id(), "approval").has_value());
  EXPECT_EQ(engine.resolve(kApproval, token, Decision{false, "typed"}), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), "rejected: typed");
}

TEST_F(DeferredTest, AnAwaitWithATimeoutReturnsEmptyWhenTimeRunsOut) {
  Engine& engine = up();
  auto h = engine.start(kTimed, 48);
  engine.wait_idle();
  std::string token = last_token();
  clock_.advance(48h);
  EXPECT_EQ(h.get(), "timed out");
  EXPECT_EQ(engine.resolve(kApproval, token, Decision{true, "too late"}),
            ResolveOutcome::kExecutionFinished);
  EXPECT_EQ(events_of(h.id(), EventType::kDeferredTimedOut).size(), 1u);
}

TEST_F(DeferredTest, AResolutionInTimeBeatsTheTimeout) {
  Engine& engine = up();
  auto h = engine.start(kTimed, 48);
  engine.wait_idle();
  clock_.advance(47h);
  engine.wait_idle();
  EXPECT_EQ(engine.resolve(kApproval, last_token(), Decision{true, "in time"}),
            ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), "in time");
  clock_.advance(2h);
  engine.wait_idle();
  EXPECT_EQ(events_of(h.id(), EventType::kDeferredTimedOut).size(), 0u);
}

TEST_F(DeferredTest, TheTimeoutDeadlineSurvivesARestart) {
  Engine& first = up();
  auto h = first.start(kTimed, 10);
  first.wait_idle();
  clock_.advance(6h);
  first.wait_idle();
  crash();
  Engine& second = up();
  second.wait_idle();
  clock_.advance(4h);
  EXPECT_EQ(second.handle<std::string>(h.id()).get(), "timed out");
}

}  // namespace
}  // namespace durable
