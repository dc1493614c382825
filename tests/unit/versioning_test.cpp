// ctx.patched(): new executions take the new branch; histories recorded by the old code keep
// replaying the old one; deprecate_patch retires a patch.
#include <gtest/gtest.h>

#include <atomic>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

std::atomic<int> g_receipts{0};
const Activity<int(int)> kCharge{"charge", [](int amount) { return amount; }};
const Activity<void(int)> kReceipt{"receipt", [](int) { ++g_receipts; }};

// Version 1 charges, waits a day, and returns. Version 2 sends a receipt first, guarded by a patch.
// Version 3 retires the patch.
const Workflow<int(int)> kV1{"order", [](WorkflowContext& ctx, int amount) -> Task<int> {
                               int charged = co_await ctx.run(kCharge, amount);
                               co_await ctx.sleep("settle", 24h);
                               co_return charged;
                             }};
const Workflow<int(int)> kV2{"order", [](WorkflowContext& ctx, int amount) -> Task<int> {
                               if (ctx.patched("send-receipt")) co_await ctx.run(kReceipt, amount);
                               int charged = co_await ctx.run(kCharge, amount);
                               co_await ctx.sleep("settle", 24h);
                               co_return charged + (ctx.patched("bonus") ? 1 : 0);
                             }};
const Workflow<int(int)> kV3{"order", [](WorkflowContext& ctx, int amount) -> Task<int> {
                               ctx.deprecate_patch("send-receipt");
                               co_await ctx.run(kReceipt, amount);
                               int charged = co_await ctx.run(kCharge, amount);
                               co_await ctx.sleep("settle", 24h);
                               co_return charged + (ctx.patched("bonus") ? 1 : 0);
                             }};

class VersioningTest : public EngineTest {
 protected:
  void SetUp() override { g_receipts = 0; }
};

TEST_F(VersioningTest, AHistoryRecordedByTheOldCodeReplaysTheOldBranch) {
  Engine& v1 = boot([](Engine& e) { e.add(kV1); });
  auto old = v1.start(kV1, 10);
  v1.wait_idle();
  crash();

  Engine& v2 = boot([](Engine& e) { e.add(kV2); });
  auto fresh = v2.start(kV2, 20);
  v2.wait_idle();
  clock_.advance(24h);
  // The old execution did not send a receipt (its history predates the patch) but, being live
  // again after the sleep, takes the new code's later patch ("bonus").
  EXPECT_EQ(v2.handle<int>(old.id()).get(), 11);
  EXPECT_EQ(fresh.get(), 21);
  EXPECT_EQ(g_receipts.load(), 1) << "only the new execution sends a receipt";
  EXPECT_EQ(events_of(old.id(), EventType::kPatchMarker).size(), 1u);    // "bonus"
  EXPECT_EQ(events_of(fresh.id(), EventType::kPatchMarker).size(), 2u);  // both
}

TEST_F(VersioningTest, AHistoryWithTheMarkerReplaysTheNewBranchAfterARestart) {
  Engine& v2 = boot([](Engine& e) { e.add(kV2); });
  auto h = v2.start(kV2, 5);
  v2.wait_idle();
  crash();
  Engine& again = boot([](Engine& e) { e.add(kV2); });
  again.wait_idle();
  clock_.advance(24h);
  EXPECT_EQ(again.handle<int>(h.id()).get(), 6);
  EXPECT_EQ(g_receipts.load(), 1) << "the receipt was not sent again on replay";
}

TEST_F(VersioningTest, DeprecatePatchReplaysHistoriesThatRecordedTheMarker) {
  Engine& v2 = boot([](Engine& e) { e.add(kV2); });
  auto h = v2.start(kV2, 7);
  v2.wait_idle();
  crash();
  Engine& v3 = boot([](Engine& e) { e.add(kV3); });
  v3.wait_idle();
  EXPECT_EQ(v3.describe(h.id())->status, ExecutionStatus::kWaiting) << v3.describe(h.id())->error;
  clock_.advance(24h);
  EXPECT_EQ(v3.handle<int>(h.id()).get(), 8);
  auto fresh = v3.start(kV3, 1);
  v3.wait_idle();
  clock_.advance(24h);
  EXPECT_EQ(fresh.get(), 2);
  EXPECT_EQ(events_of(fresh.id(), EventType::kPatchMarker).size(), 1u) << "only 'bonus'";
}

TEST_F(VersioningTest, RemovingAPatchStillInHistoriesParksWithAHint) {
  const Workflow<int(int)> no_patch{"order", [](WorkflowContext& ctx, int amount) -> Task<int> {
                                      co_await ctx.run(kReceipt, amount);
                                      co_return co_await ctx.run(kCharge, amount);
                                    }};
  Engine& v2 = boot([](Engine& e) { e.add(kV2); });
  auto h = v2.start(kV2, 3);
  v2.wait_idle();
  crash();
  Engine& bad = boot([&](Engine& e) { e.add(no_patch); });
  auto record = bad.wait(h.id());
  ASSERT_EQ(record->status, ExecutionStatus::kNeedsAttention);
  EXPECT_NE(record->error.find("patch marker 'send-receipt'"), std::string::npos) << record->error;
  EXPECT_NE(record->error.find("deprecate_patch"), std::string::npos) << record->error;
}

}  // namespace
}  // namespace durable
