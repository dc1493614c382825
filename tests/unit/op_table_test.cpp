// OpTable: an execution's ops by index in a sorted vector. It must behave as the std::map it
// replaced (lookups, index-order iteration, erasure in any order) while staying short when ops
// come and go around one that stays.
#include "engine/op_table.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace durable::detail {
namespace {

std::vector<int> indices(const OpTable& table) {
  std::vector<int> out;
  for (const auto& [op, st] : table) out.push_back(op);
  return out;
}

TEST(OpTable, IteratesInIndexOrderWhateverOrderOpsAreMadeIn) {
  OpTable table;
  // Loading a journal makes ops in the order of their first events, not of their indices.
  for (int op : {0, 3, 1, 5, 2, 4}) table[op].name = "op" + std::to_string(op);
  EXPECT_EQ(indices(table), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  for (int op = 0; op < 6; ++op) {
    ASSERT_NE(table.find(op), nullptr) << op;
    EXPECT_EQ(table.find(op)->name, "op" + std::to_string(op));
  }
  EXPECT_EQ(table.find(6), nullptr);
  EXPECT_EQ(table.find(-1), nullptr);
}

TEST(OpTable, MakingAnExistingOpReturnsItUnchanged) {
  OpTable table;
  table[0].name = "a";
  table[1].name = "b";
  table[0].attempts_started = 2;
  EXPECT_EQ(table[0].name, "a");
  EXPECT_EQ(table[0].attempts_started, 2);
  EXPECT_EQ(table.size(), 2u);
}

TEST(OpTable, ErasingOpsInAnyOrderLeavesTheOthersIntact) {
  OpTable table;
  for (int op = 0; op < 10; ++op) table[op].attempts_started = op;
  for (int op : {4, 0, 9, 5, 7}) table.erase(op);
  EXPECT_EQ(indices(table), (std::vector<int>{1, 2, 3, 6, 8}));
  EXPECT_EQ(table.size(), 5u);
  for (int op : {1, 2, 3, 6, 8}) {
    ASSERT_NE(table.find(op), nullptr) << op;
    EXPECT_EQ(table.find(op)->attempts_started, op);
  }
  for (int op : {0, 4, 5, 7, 9}) EXPECT_EQ(table.find(op), nullptr) << op;
  table.erase(4);  // erasing an absent op does nothing
  EXPECT_EQ(table.size(), 5u);
}

TEST(OpTable, AnErasedOpMadeAgainStartsInTheDefaultState) {
  OpTable table;
  table[0].name = "kept";
  table[1].name = "erased";
  table[1].live = true;
  table[2].name = "last";
  table.erase(1);  // leaves a released slot between two ops
  OpState& again = table[1];
  EXPECT_TRUE(again.name.empty());
  EXPECT_FALSE(again.live);
  EXPECT_EQ(indices(table), (std::vector<int>{0, 1, 2}));
}

TEST(OpTable, StaysShortWhileOneOpOutlivesManyLaterOnes) {
  // A workflow that holds an early op (a deadline it races at the end) and runs many steps.
  OpTable table;
  table[0].name = "deadline";
  for (int op = 1; op <= 10000; ++op) {
    table[op].name = "step";
    table.erase(op);
    ASSERT_LE(table.slots(), 2u);
  }
  EXPECT_EQ(indices(table), (std::vector<int>{0}));
}

TEST(OpTable, ReleasingAFanOutFirstToLastKeepsFewReleasedSlots) {
  // all() over many ops takes (and releases) them in index order, from the first.
  OpTable table;
  const int n = 1000;
  for (int op = 0; op < n; ++op) table[op].live = true;
  for (int op = 0; op < n; ++op) {
    table.erase(op);
    ASSERT_LE(table.slots(), 2 * table.size() + 1) << op;
    if (op + 1 < n) {
      ASSERT_NE(table.find(op + 1), nullptr);
    }
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.slots(), 0u);
}

TEST(OpTable, ShrinkDropsReleasedSlotsAndKeepsTheOps) {
  OpTable table;
  for (int op = 0; op < 4; ++op) table[op].name = std::to_string(op);
  table.erase(1);
  table.erase(2);
  table.shrink();
  EXPECT_EQ(table.slots(), 2u);
  EXPECT_EQ(indices(table), (std::vector<int>{0, 3}));
  EXPECT_EQ(table.find(3)->name, "3");
}

}  // namespace
}  // namespace durable::detail
