// Bad input from outside (unknown workflow names, payloads or resolutions of the wrong type,
// forged tokens) is refused before anything is written; journaled data the code can no longer
// read parks only the execution concerned, which fixed code and resume() continue; so does a
// journal row damaged outside the engine.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>

#include "contract/store_fixtures.hpp"
#include "durable/sqlite_store.hpp"
#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;
using testing::TokenBox;

struct Order {
  std::string sku;
  int quantity = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, sku, quantity)

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class BadInputTest : public EngineTest {
 protected:
  bool store_is_empty() { return store_->list_executions(ListQuery{}).executions.empty(); }
  std::string error_message(const std::string& id) {
    auto record = store_->get_execution(id);
    if (!record || record->error.empty()) return "";
    return Json::parse(record->error).value("message", "");
  }
  // Waits until `engine` has settled `id` and returns its error message, failing the test unless
  // it was parked as needing attention.
  std::string parked_message(Engine& engine, const std::string& id) {
    auto record = engine.wait(id, std::chrono::seconds(30));
    if (!record || record->status != ExecutionStatus::kNeedsAttention) {
      ADD_FAILURE() << id << " was not parked";
      return "";
    }
    return error_message(id);
  }
};

TEST_F(BadInputTest, StartingAnUnknownWorkflowThrowsAndCreatesNothing) {
  const Workflow<int(int)> known{"known",
                                 [](WorkflowContext&, int x) -> Task<int> { co_return x; }};
  Engine& engine = boot([&](Engine& e) { e.add(known); });
  try {
    engine.start_execution("no-such-workflow", Json(1));
    ADD_FAILURE() << "started an unregistered workflow";
  } catch (const UnknownWorkflow& e) {
    EXPECT_TRUE(contains(e.what(), "no-such-workflow")) << e.what();
  }
  EXPECT_THROW(engine.start_execution("no-such-workflow", Json(1), "key"), UnknownWorkflow);
  engine.wait_idle();
  EXPECT_TRUE(store_is_empty());
}

TEST_F(BadInputTest, APayloadOfTheWrongTypeThrowsDecodeErrorAndCreatesNothing) {
  std::atomic<int> runs{0};
  const Workflow<int(Order)> orders{"orders", [&](WorkflowContext&, Order o) -> Task<int> {
                                      ++runs;
                                      co_return o.quantity;
                                    }};
  Engine& engine = boot([&](Engine& e) { e.add(orders); });
  for (const Json& bad : {Json("one widget"), Json{{"sku", 5}, {"quantity", 1}},
                          Json{{"sku", "w-1"}}, Json(nullptr)}) {
    try {
      engine.start_execution("orders", bad, "same-key");
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const DecodeError& e) {
      EXPECT_TRUE(contains(e.what(), "orders")) << e.what();
    }
  }
  engine.wait_idle();
  EXPECT_TRUE(store_is_empty());
  EXPECT_EQ(runs.load(), 0);

  // The same call with a good payload works, so it was the payload that was refused.
  std::string id = engine.start_execution("orders", Json{{"sku", "w-1"}, {"quantity", 3}});
  EXPECT_EQ(engine.handle<int>(id).get(), 3);
}

TEST_F(BadInputTest, AResolutionOfTheWrongTypeOrAForgedTokenChangesNothing) {
  TokenBox box;
  const DurableDeferred<int> amount{"amount"};
  const Workflow<int(int)> wf{"pay", [&](WorkflowContext& ctx, int) -> Task<int> {
                                box.put(ctx.token(amount));
                                co_return co_await ctx.await(amount);
                              }};
  Engine& engine = boot([&](Engine& e) {
    e.add(wf);
    e.add(amount);
  });
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  const std::string token = box.get();

  EXPECT_THROW(engine.resolve(token, Json("a lot")), DecodeError);
  // Numbers an int does not hold: a fraction, a float beyond any integer, an integer too large.
  for (const Json& bad : {Json(2.5), Json(1.11111e113), Json(std::int64_t{1} << 40)}) {
    try {
      engine.resolve(token, bad);
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const DecodeError& e) {
      EXPECT_TRUE(contains(e.what(), "not an integer")) << e.what();
    }
  }
  std::string forged = token;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_THROW(engine.resolve(forged, Json(1)), InvalidToken);
  EXPECT_THROW(engine.resolve("not a token", Json(1)), InvalidToken);
  engine.wait_idle();
  EXPECT_EQ(store_->get_deferred(h.id(), "amount"), std::nullopt);
  EXPECT_EQ(h.status(), ExecutionStatus::kWaiting);

  EXPECT_EQ(engine.resolve(token, Json(12)), ResolveOutcome::kResolved);
  EXPECT_EQ(h.get(), 12);
}

// v1 of a workflow whose activity returned a string; v2 declares the same activity as returning
// int, so the journaled value no longer decodes.
class ChangedActivityTest : public BadInputTest {
 protected:
  void TearDown() override { crash(); }

  TokenBox box_;
  std::atomic<int> v1_calls_{0};
  std::atomic<int> v2_calls_{0};
  const DurableDeferred<int> go_{"go"};
  const Activity<std::string()> fetch_v1_{"fetch", [this] {
                                            ++v1_calls_;
                                            return std::string("forty-two");
                                          }};
  const Activity<int()> fetch_v2_{"fetch", [this] {
                                    ++v2_calls_;
                                    return 42;
                                  }};
  const Workflow<std::string(int)> v1_{"versioned",
                                       [this](WorkflowContext& ctx, int) -> Task<std::string> {
                                         std::string fetched = co_await ctx.run(fetch_v1_);
                                         box_.put(ctx.token(go_));
                                         int n = co_await ctx.await(go_);
                                         co_return fetched + "/" + std::to_string(n);
                                       }};
  const Workflow<std::string(int)> v2_{"versioned",
                                       [this](WorkflowContext& ctx, int) -> Task<std::string> {
                                         int fetched = co_await ctx.run(fetch_v2_);
                                         box_.put(ctx.token(go_));
                                         int n = co_await ctx.await(go_);
                                         co_return std::to_string(fetched + n);
                                       }};
  // Unrelated executions that must keep going while "versioned" is parked.
  const Workflow<int(int)> bystander_{"bystander", [](WorkflowContext& ctx, int x) -> Task<int> {
                                        co_await ctx.sleep("nap", 1h);
                                        co_return x * 3;
                                      }};
};

TEST_F(ChangedActivityTest, AJournaledResultThatNoLongerDecodesParksOnlyThatExecution) {
  Engine& first = boot([&](Engine& e) {
    e.add(v1_);
    e.add(bystander_);
  });
  const std::string id = first.start(v1_, 0).id();
  const std::string sleeping = first.start(bystander_, 5).id();
  first.wait_idle();
  ASSERT_EQ(first.handle<std::string>(id).status(), ExecutionStatus::kWaiting);
  ASSERT_EQ(v1_calls_.load(), 1);
  crash();

  Engine& second = boot([&](Engine& e) {
    e.add(v2_);
    e.add(bystander_);
  });
  const std::string message = parked_message(second, id);
  EXPECT_TRUE(contains(message, id)) << message;
  EXPECT_TRUE(contains(message, "operation 0")) << message;
  EXPECT_TRUE(contains(message, "'fetch'")) << message;
  EXPECT_THROW(second.handle<std::string>(id).get(), ExecutionParked);
  EXPECT_THROW(second.handle<std::string>(id).poll(), ExecutionParked);
  EXPECT_EQ(v2_calls_.load(), 0) << "a journaled activity ran again";

  // The parked execution does not hold the others up: one recovered, one started now.
  auto fresh = second.start(bystander_, 7);
  second.wait_idle();
  clock_.advance(1h);
  EXPECT_EQ(second.handle<int>(sleeping).get(), 5 * 3);
  EXPECT_EQ(fresh.get(), 7 * 3);
  EXPECT_EQ(second.handle<std::string>(id).status(), ExecutionStatus::kNeedsAttention);
  crash();

  // Fixed code (v1 again) and resume continue it from its journal.
  Engine& third = boot([&](Engine& e) { e.add(v1_); });
  third.wait_idle();
  EXPECT_EQ(third.handle<std::string>(id).status(), ExecutionStatus::kNeedsAttention)
      << "a parked execution was resumed without resume()";
  third.resume(id);
  third.wait_idle();
  EXPECT_EQ(third.handle<std::string>(id).status(), ExecutionStatus::kWaiting);
  EXPECT_EQ(third.resolve(box_.get(), Json(7)), ResolveOutcome::kResolved);
  EXPECT_EQ(third.handle<std::string>(id).get(), "forty-two/7");
  EXPECT_EQ(v1_calls_.load(), 1) << "the activity ran again after resume";
  EXPECT_EQ(v2_calls_.load(), 0);
}

TEST_F(BadInputTest, AnExecutionOfAnUnregisteredWorkflowIsParkedUntilItIsRegistered) {
  TokenBox box;
  const DurableDeferred<int> go{"go"};
  const Workflow<int(int)> wf{"registered_later", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                box.put(ctx.token(go));
                                co_return x + co_await ctx.await(go);
                              }};
  const std::string id = boot([&](Engine& e) { e.add(wf); }).start(wf, 10).id();
  engine_->wait_idle();
  crash();

  Engine& engine = boot();
  auto record = engine.wait(id, 30s);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->status, ExecutionStatus::kNeedsAttention);
  EXPECT_TRUE(contains(error_message(id), "registered_later")) << error_message(id);
  try {
    engine.handle<int>(id).get();
    ADD_FAILURE() << "get() returned for a parked execution";
  } catch (const ExecutionParked& e) {
    EXPECT_TRUE(contains(e.what(), "registered_later")) << e.what();
  }

  engine.add(wf);
  engine.resume(id);
  engine.wait_idle();
  EXPECT_EQ(engine.handle<int>(id).status(), ExecutionStatus::kWaiting);
  EXPECT_EQ(engine.resolve(box.get(), Json(5)), ResolveOutcome::kResolved);
  EXPECT_EQ(engine.handle<int>(id).get(), 10 + 5);
  crash();
}

// The journal in a SQLite file that the test edits as another program could.
class DamagedJournalTest : public BadInputTest {
 protected:
  DamagedJournalTest() { store_ = SqliteStore::open(path_); }
  void TearDown() override { crash(); }
  void edit(const std::string& sql) { SQLite::Database(path_, SQLite::OPEN_READWRITE).exec(sql); }

  testing::TempDir dir_;
  std::string path_ = dir_.file("journal.db");
};

// Valid JSON whose number does not fit the field (here 1e113 where a time in milliseconds
// belongs) must be reported, not converted: the conversion is undefined behaviour.
TEST_F(DamagedJournalTest, AnEventFieldOutOfRangeParksOnlyThatExecutionAndNamesTheField) {
  const Workflow<int(int)> napper{"napper", [](WorkflowContext& ctx, int x) -> Task<int> {
                                    co_await ctx.sleep("nap", 1h);
                                    co_return x * 2;
                                  }};
  Engine& first = boot([&](Engine& e) { e.add(napper); });
  const std::string damaged = first.start(napper, 1).id();
  const std::string intact = first.start(napper, 2).id();
  first.wait_idle();
  crash();
  edit(R"sql(UPDATE events SET data = '{"due":1.11111e113}'
             WHERE segment IN (SELECT segment FROM journal_segments
                               JOIN executions USING (journal) WHERE id = ')sql" +
       damaged + R"sql(') AND data LIKE '{"due":%')sql");

  Engine& second = boot([&](Engine& e) { e.add(napper); });
  const std::string message = parked_message(second, damaged);
  EXPECT_TRUE(contains(message, damaged)) << message;
  EXPECT_TRUE(contains(message, "timer_scheduled")) << message;
  EXPECT_TRUE(contains(message, "'due'")) << message;

  clock_.advance(1h);
  EXPECT_EQ(second.handle<int>(intact).get(), 4);
  EXPECT_EQ(second.handle<int>(damaged).status(), ExecutionStatus::kNeedsAttention);
}

TEST_F(DamagedJournalTest, AJournaledTimeThatIsNoTimeParksTheExecutionAtThatSideEffect) {
  const Workflow<std::int64_t(int)> stamper{"stamper",
                                            [](WorkflowContext& ctx, int) -> Task<std::int64_t> {
                                              TimePoint t = ctx.now();
                                              co_await ctx.sleep("nap", 1h);
                                              co_return t.time_since_epoch().count();
                                            }};
  Engine& first = boot([&](Engine& e) { e.add(stamper); });
  const std::string id = first.start(stamper, 1).id();
  first.wait_idle();
  crash();
  edit(
      "UPDATE events SET data = '{\"value\":1.11111e113}' WHERE segment IN (SELECT segment FROM "
      "journal_segments JOIN executions USING (journal)"
      " WHERE id = '" +
      id + "') AND name = 'now'");

  Engine& second = boot([&](Engine& e) { e.add(stamper); });
  const std::string message = parked_message(second, id);
  EXPECT_TRUE(contains(message, "side effect 'now'")) << message;
  EXPECT_TRUE(contains(message, "not an integer")) << message;
}

}  // namespace
}  // namespace durable
