// Child workflows: a deterministic id, the parent waits for the result or failure, both sides
// survive restarts, and cancelling the parent cancels its unfinished children.
#include <gtest/gtest.h>

#include <atomic>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

std::atomic<int> g_child_runs{0};
const Activity<int(int)> kWork{"work", [](int x) {
                                 ++g_child_runs;
                                 return x * 10;
                               }};

const Workflow<int(int)> kChild{"child", [](WorkflowContext& ctx, int x) -> Task<int> {
                                  int y = co_await ctx.run(kWork, x);
                                  co_await ctx.sleep("rest", 1h);
                                  if (x < 0) throw std::invalid_argument("negative input");
                                  co_return y;
                                }};

const Workflow<int(int)> kParent{"parent", [](WorkflowContext& ctx, int n) -> Task<int> {
                                   int sum = 0;
                                   for (int i = 1; i <= n; ++i) sum += co_await ctx.child(kChild, i);
                                   co_return sum;
                                 }};

const Workflow<std::string(int)> kCatching{
    "catching", [](WorkflowContext& ctx, int x) -> Task<std::string> {
      try {
        // Named, not a temporary inside the co_await: GCC 12 mis-destroys such temporaries.
        ChildOptions options{.id = "fixed-child-id"};
        co_await ctx.child(kChild, x, options);
      } catch (const WorkflowFailed& e) {
        co_return e.type() + ": " + e.message();
      }
      co_return "no failure";
    }};

class ChildWorkflowTest : public EngineTest {
 protected:
  void SetUp() override { g_child_runs = 0; }
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kParent);
      e.add(kChild);
      e.add(kCatching);
    });
  }
  // Advances time an hour at a time until the execution ends.
  template <class R>
  R finish(Engine& engine, const ExecutionHandle<R>& h) {
    for (int i = 0; i < 20 && !h.poll(); ++i) {
      engine.wait_idle();
      clock_.advance(1h);
    }
    return h.get();
  }
};

TEST_F(ChildWorkflowTest, AParentWaitsForItsChildrensResults) {
  Engine& engine = up();
  auto h = engine.start(kParent, 3);
  EXPECT_EQ(finish(engine, h), 10 + 20 + 30);
  auto started = events_of(h.id(), EventType::kChildStarted);
  ASSERT_EQ(started.size(), 3u);
  // The child ids are deterministic and the children are executions of their own.
  auto first = engine.describe(h.id() + "/0");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->workflow, "child");
  EXPECT_EQ(first->status, ExecutionStatus::kCompleted);
}

TEST_F(ChildWorkflowTest, AChildsFailureReachesTheParentAsWorkflowFailed) {
  Engine& engine = up();
  auto h = engine.start(kCatching, -1);
  EXPECT_EQ(finish(engine, h), "std::invalid_argument: negative input");
  EXPECT_EQ(engine.describe("fixed-child-id")->status, ExecutionStatus::kFailed);
}

TEST_F(ChildWorkflowTest, BothSidesSurviveARestartAndNothingRunsTwice) {
  Engine& first = up();
  auto h = first.start(kParent, 2);
  first.wait_idle();  // the first child sleeps
  crash();
  Engine& second = up();
  EXPECT_EQ(finish(second, second.handle<int>(h.id())), 30);
  EXPECT_EQ(g_child_runs.load(), 2) << "each child's activity ran once";
  EXPECT_EQ(events_of(h.id(), EventType::kChildStarted).size(), 2u);
}

TEST_F(ChildWorkflowTest, CancellingTheParentCancelsItsUnfinishedChild) {
  Engine& engine = up();
  auto h = engine.start(kParent, 1);
  engine.wait_idle();
  std::string child_id = h.id() + "/0";
  ASSERT_EQ(engine.describe(child_id)->status, ExecutionStatus::kWaiting);
  engine.cancel(h.id());
  EXPECT_THROW(h.get(), Cancelled);
  auto child = engine.wait(child_id);
  EXPECT_EQ(child->status, ExecutionStatus::kCancelled);
}

}  // namespace
}  // namespace durable
