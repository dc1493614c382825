// Code that no longer matches its journal parks the execution, loses nothing, and continues once
// fixed code is running and the execution is resumed.
#include <gtest/gtest.h>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using testing::EngineTest;

class NonDeterminismTest : public EngineTest {};

const Activity<int(int)> kDouble{"double", [](int x) { return 2 * x; }};
const Activity<int(int)> kTriple{"triple", [](int x) { return 3 * x; }};
const DurableDeferred<int> kGo{"go"};
std::mutex token_mutex;
std::string published_token;
const Activity<void(std::string)> kPublish{"publish", [](std::string token) {
                                             std::lock_guard lock(token_mutex);
                                             published_token = std::move(token);
                                           }};

// Version 1: double, then wait. Version 2 (a bad deploy): triple first. Version 3: the fix.
const Workflow<int(int)> kV1{"calc", [](WorkflowContext& ctx, int x) -> Task<int> {
                               int y = co_await ctx.run(kDouble, x);
                               co_await ctx.run(kPublish, ctx.token(kGo));
                               co_return y + co_await ctx.await(kGo);
                             }};
const Workflow<int(int)> kV2{"calc", [](WorkflowContext& ctx, int x) -> Task<int> {
                               int y = co_await ctx.run(kTriple, x);
                               co_return y + co_await ctx.await(kGo);
                             }};

TEST_F(NonDeterminismTest, AMismatchParksTheExecutionWithAnErrorNamingTheOperation) {
  Engine& v1 = boot([](Engine& e) { e.add(kV1); });
  auto h = v1.start(kV1, 5);
  v1.wait_idle();
  auto before = store_->load_events(h.id(), 0);
  crash();

  Engine& v2 = boot([](Engine& e) { e.add(kV2); });
  auto record = v2.wait(h.id());
  ASSERT_EQ(record->status, ExecutionStatus::kNeedsAttention);
  EXPECT_NE(record->error.find("operation 0"), std::string::npos) << record->error;
  EXPECT_NE(record->error.find("activity 'double'"), std::string::npos) << record->error;
  EXPECT_NE(record->error.find("activity 'triple'"), std::string::npos) << record->error;
  EXPECT_NE(record->error.find(h.id()), std::string::npos) << record->error;
  EXPECT_THROW(v2.handle<int>(h.id()).get(), ExecutionParked);
  // Nothing was lost or added.
  auto after = store_->load_events(h.id(), 0);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].data, before[i].data);
  EXPECT_FALSE(faults().empty());
}

TEST_F(NonDeterminismTest, ResumeContinuesAParkedExecutionWithFixedCode) {
  Engine& v1 = boot([](Engine& e) { e.add(kV1); });
  auto h = v1.start(kV1, 5);
  v1.wait_idle();
  crash();
  boot([](Engine& e) { e.add(kV2); }).wait(h.id());
  crash();

  Engine& fixed = boot([](Engine& e) {
    e.add(kV1);
    e.add(kGo);
  });
  EXPECT_EQ(fixed.describe(h.id())->status, ExecutionStatus::kNeedsAttention)
      << "a parked execution stays parked until resumed";
  fixed.resume(h.id());
  fixed.wait_idle();
  EXPECT_EQ(fixed.describe(h.id())->status, ExecutionStatus::kWaiting);
  std::string token;
  {
    std::lock_guard lock(token_mutex);
    token = published_token;
  }
  EXPECT_EQ(fixed.resolve(token, 1), ResolveOutcome::kResolved);
  EXPECT_EQ(fixed.handle<int>(h.id()).get(), 11);
  EXPECT_EQ(events_of(h.id(), EventType::kActivityCompleted).size(), 2u)
      << "the steps completed before parking were not run again";
}

TEST_F(NonDeterminismTest, ResumeRefusesAnExecutionThatDoesNotNeedAttention) {
  Engine& engine = boot([](Engine& e) { e.add(kV1); });
  auto h = engine.start(kV1, 1);
  engine.wait_idle();
  EXPECT_THROW(engine.resume(h.id()), DurableError);
  EXPECT_THROW(engine.resume("no-such-id"), NoSuchExecution);
}

}  // namespace
}  // namespace durable
