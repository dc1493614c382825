// Cancellation is durable and seen at the next suspension point; compensations run in reverse on
// cancel or failure, and the final status says which.
#include <gtest/gtest.h>

#include <mutex>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

std::mutex g_mutex;
std::vector<std::string> g_log;
void note(std::string s) {
  std::lock_guard lock(g_mutex);
  g_log.push_back(std::move(s));
}
std::vector<std::string> log_copy() {
  std::lock_guard lock(g_mutex);
  return g_log;
}

const Activity<std::string(std::string)> kBook{"book", [](std::string what) {
                                                 note("book " + what);
                                                 return what + "-ref";
                                               }};
const Activity<void(std::string)> kUnbook{"unbook", [](std::string ref) { note("unbook " + ref); }};
const Activity<void()> kFail{"fail", []() { throw NonRetryableError("payment declined"); }};

// Books a flight and a hotel, registers compensations, then either waits 24 h or fails.
const Workflow<std::string(bool)> kTrip{
    "trip", [](WorkflowContext& ctx, bool fail) -> Task<std::string> {
      std::string flight = co_await ctx.run(kBook, std::string("flight"));
      ctx.compensate(kUnbook, flight);
      std::string hotel = co_await ctx.run(kBook, std::string("hotel"));
      ctx.compensate(kUnbook, hotel);
      if (fail) co_await ctx.run(kFail);
      co_await ctx.sleep("hold", 24h);
      co_return flight + "+" + hotel;
    }};

class CancellationTest : public EngineTest {
 protected:
  void SetUp() override {
    std::lock_guard lock(g_mutex);
    g_log.clear();
  }
  Engine& up() {
    return boot([](Engine& e) { e.add(kTrip); });
  }
};

TEST_F(CancellationTest, ACancelledWorkflowSeesCancelledAndCompensatesInReverse) {
  Engine& engine = up();
  auto h = engine.start(kTrip, false);
  engine.wait_idle();
  EXPECT_EQ(engine.cancel(h.id()), CancelOutcome::kRequested);
  EXPECT_THROW(h.get(), Cancelled);
  EXPECT_EQ(h.status(), ExecutionStatus::kCancelled);
  EXPECT_EQ(log_copy(), (std::vector<std::string>{"book flight", "book hotel", "unbook hotel-ref",
                                                  "unbook flight-ref"}));
  EXPECT_EQ(events_of(h.id(), EventType::kOpCancelled).size(), 1u);
  EXPECT_EQ(events_of(h.id(), EventType::kCompensationStarted).size(), 1u);
  EXPECT_EQ(engine.cancel(h.id()), CancelOutcome::kExecutionFinished);
}

TEST_F(CancellationTest, AFailedWorkflowCompensatesAndEndsFailed) {
  Engine& engine = up();
  auto h = engine.start(kTrip, true);
  try {
    h.get();
    FAIL() << "expected a failure";
  } catch (const WorkflowFailed& e) {
    EXPECT_EQ(e.type(), "durable::ActivityError");
    EXPECT_NE(e.message().find("payment declined"), std::string::npos);
  }
  EXPECT_EQ(h.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(log_copy(), (std::vector<std::string>{"book flight", "book hotel", "unbook hotel-ref",
                                                  "unbook flight-ref"}));
}

TEST_F(CancellationTest, ACancelRequestedWhileNoEngineRunsIsDeliveredOnRestart) {
  Engine& first = up();
  auto h = first.start(kTrip, false);
  first.wait_idle();
  crash();
  // Another process (here: the store directly, as the CLI would) asks for the cancellation.
  EXPECT_EQ(store_->request_cancel(h.id()), CancelOutcome::kRequested);
  EXPECT_EQ(store_->request_cancel(h.id()), CancelOutcome::kAlreadyRequested);
  Engine& second = up();
  EXPECT_THROW(second.handle<std::string>(h.id()).get(), Cancelled);
  EXPECT_EQ(log_copy().size(), 4u) << "books once each, compensates once each";
}

TEST_F(CancellationTest, CompensationsAreNotRunAgainAfterACrashDuringThem) {
  Engine& engine = up();
  auto h = engine.start(kTrip, false);
  engine.wait_idle();
  engine.cancel(h.id());
  EXPECT_THROW(h.get(), Cancelled);
  crash();
  Engine& again = up();
  again.wait_idle();
  EXPECT_EQ(log_copy().size(), 4u);
}

}  // namespace
}  // namespace durable
