// Management: listing with filters and stable paging, the structured timeline, restarting a
// stopped execution from a step (only steps >= N run again), and pruning old finished executions.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

constexpr auto kBound = 20s;

std::atomic<int> g_fetches{0};
std::atomic<int> g_transforms{0};
std::atomic<int> g_saves{0};
std::atomic<bool> g_save_fails{true};

const Activity<int(int)> kFetch{"fetch", [](int x) {
                                  ++g_fetches;
                                  return x + 1;
                                }};
const Activity<int(int)> kTransform{"transform", [](int x) {
                                      ++g_transforms;
                                      return x * 10;
                                    }};
const Activity<int(int)> kSave{"save",
                               [](int x) -> int {
                                 ++g_saves;
                                 if (g_save_fails) throw NonRetryableError("disk full");
                                 return x;
                               },
                               {.retry = {.max_attempts = 1}}};

// Steps (ops): 0 fetch, 1 transform, 2 save.
const Workflow<int(int)> kPipeline{"pipeline", [](WorkflowContext& ctx, int x) -> Task<int> {
                                     int a = co_await ctx.run(kFetch, x);
                                     int b = co_await ctx.run(kTransform, a);
                                     co_return co_await ctx.run(kSave, b);
                                   }};

const DurableDeferred<int> kNever{"never"};
const Workflow<int(int)> kWaits{
    "waits", [](WorkflowContext& ctx, int) -> Task<int> { co_return co_await ctx.await(kNever); }};

class ManagementTest : public EngineTest {
 protected:
  void SetUp() override {
    g_fetches = 0;
    g_transforms = 0;
    g_saves = 0;
    g_save_fails = true;
  }
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kPipeline);
      e.add(kWaits);
    });
  }
  // A pipeline that failed at its save step.
  std::string failed_pipeline(Engine& engine) {
    auto h = engine.start(kPipeline, 4);
    EXPECT_THROW(h.get(), WorkflowFailed);
    return h.id();
  }
};

TEST_F(ManagementTest, RestartFromAStepRunsOnlyThatStepAndLaterOnesAgain) {
  Engine& engine = up();
  std::string source = failed_pipeline(engine);
  ASSERT_EQ(g_fetches.load(), 1);
  ASSERT_EQ(g_transforms.load(), 1);
  ASSERT_EQ(g_saves.load(), 1);

  g_save_fails = false;  // the fix is deployed
  std::string fork = engine.restart(source, 2);
  EXPECT_NE(fork, source);
  auto done = engine.wait(fork, kBound);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, ExecutionStatus::kCompleted) << done->error;
  EXPECT_EQ(Json::parse(done->result), 50);
  EXPECT_EQ(done->forked_from, source);
  EXPECT_EQ(g_fetches.load(), 1) << "step 0 was replayed, not run";
  EXPECT_EQ(g_transforms.load(), 1) << "step 1 was replayed, not run";
  EXPECT_EQ(g_saves.load(), 2) << "step 2 ran again";
  EXPECT_EQ(engine.describe(source)->status, ExecutionStatus::kFailed) << "the source stays";
}

TEST_F(ManagementTest, RestartFromStepZeroRunsEverythingAgainUnderAChosenId) {
  Engine& engine = up();
  std::string source = failed_pipeline(engine);
  g_save_fails = false;
  std::string fork = engine.restart(source, 0, {.id = "pipeline-again"});
  EXPECT_EQ(fork, "pipeline-again");
  EXPECT_EQ(engine.handle<int>(fork).get(), 50);
  EXPECT_EQ(g_fetches.load(), 2);
  EXPECT_EQ(g_transforms.load(), 2);
  EXPECT_THROW(engine.restart(source, 0, {.id = "pipeline-again"}), DurableError);
}

TEST_F(ManagementTest, RestartOfACompletedExecutionFromTheLastStep) {
  Engine& engine = up();
  g_save_fails = false;
  auto h = engine.start(kPipeline, 1);
  EXPECT_EQ(h.get(), 20);
  std::string fork = engine.restart(h.id(), 3);  // past the last step: nothing runs again
  EXPECT_EQ(engine.handle<int>(fork).get(), 20);
  EXPECT_EQ(g_saves.load(), 1);
}

TEST_F(ManagementTest, RestartRefusesAnUnknownOrRunningSourceAndAStepOutOfRange) {
  Engine& engine = up();
  EXPECT_THROW(engine.restart("no-such-id", 0), NoSuchExecution);
  auto waiting = engine.start(kWaits, 1);
  engine.wait_idle();
  try {
    engine.restart(waiting.id(), 0);
    ADD_FAILURE() << "restarted a waiting execution";
  } catch (const DurableError& e) {
    EXPECT_NE(std::string(e.what()).find("has not stopped"), std::string::npos) << e.what();
  }
  std::string source = failed_pipeline(engine);
  try {
    engine.restart(source, 4);
    ADD_FAILURE() << "restarted from step 4 of 3";
  } catch (const DurableError& e) {
    EXPECT_NE(std::string(e.what()).find("between 0 and 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(engine.restart(source, -1), DurableError);
  EXPECT_EQ(engine.list().executions.size(), 2u) << "nothing was created";
}

TEST_F(ManagementTest, RestartWhileNoEngineRunsIsPickedUpByTheNextEngine) {
  std::string source = failed_pipeline(up());
  crash();
  g_save_fails = false;
  std::string fork;
  {
    Engine offline(store_, options());  // never started, like the `durable` tool
    fork = offline.restart(source, 1);
  }
  Engine& engine = up();
  auto done = engine.wait(fork, kBound);
  ASSERT_TRUE(done);
  EXPECT_EQ(Json::parse(done->result), 50);
  EXPECT_EQ(g_fetches.load(), 1);
  EXPECT_EQ(g_transforms.load(), 2);
}

TEST_F(ManagementTest, TimelineIsTheJournalAsStructuredEntries) {
  Engine& engine = up();
  g_save_fails = false;
  auto h = engine.start(kPipeline, 1);
  h.get();
  auto entries = engine.timeline(h.id());
  ASSERT_EQ(entries.size(), 8u);
  EXPECT_EQ(entries[0].type_name, "started");
  EXPECT_EQ(entries[0].data.at("input"), 1);
  EXPECT_EQ(entries[0].op, -1);
  EXPECT_EQ(entries[2].type, EventType::kActivityCompleted);
  EXPECT_EQ(entries[2].name, "fetch");
  EXPECT_EQ(entries[2].op, 0);
  EXPECT_EQ(entries[2].data.at("value"), 2);
  EXPECT_EQ(entries[2].time, clock_.now());
  EXPECT_EQ(entries.back().type_name, "completed");
  EXPECT_THROW(engine.timeline("no-such-id"), NoSuchExecution);
}

TEST_F(ManagementTest, ListFiltersAndPagesStablyWhileExecutionsAreAdded) {
  Engine& engine = up();
  g_save_fails = false;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(engine.start(kPipeline, i).id());
    clock_.advance(1s);
  }
  ids.push_back(engine.start(kWaits, 0).id());
  engine.wait_idle();

  ListQuery query;
  query.workflow = "pipeline";
  query.limit = 2;
  std::vector<std::string> seen;
  for (int page = 0;; ++page) {
    ListPage got = engine.list(query);
    for (const auto& r : got.executions) seen.push_back(r.id);
    // New executions arrive between pages; they sort after every page already read.
    engine.start(kPipeline, 100 + page);
    clock_.advance(1s);
    if (got.next_page_token.empty() || page > 10) break;
    query.page_token = got.next_page_token;
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "no execution twice";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(unique.contains(ids[static_cast<std::size_t>(i)]));

  ListQuery window;
  window.created_after = engine.describe(ids[1])->created_at;
  window.created_before = engine.describe(ids[3])->created_at;
  std::vector<std::string> in_window;
  for (const auto& r : engine.list(window).executions) in_window.push_back(r.id);
  EXPECT_EQ(in_window, (std::vector<std::string>{ids[1], ids[2]}));

  ListQuery waiting;
  waiting.statuses = {ExecutionStatus::kWaiting};
  ASSERT_EQ(engine.list(waiting).executions.size(), 1u);
  EXPECT_EQ(engine.list(waiting).executions[0].id, ids[5]);
}

TEST_F(ManagementTest, PruneDeletesOnlyFinishedExecutionsOlderThanTheRetention) {
  Engine& engine = up();
  g_save_fails = false;
  auto old_done = engine.start(kPipeline, 1);
  old_done.get();
  std::string old_failed;
  {
    g_save_fails = true;
    old_failed = failed_pipeline(engine);
    g_save_fails = false;
  }
  auto old_waiting = engine.start(kWaits, 1);
  engine.wait_idle();
  clock_.advance(48h);
  auto recent = engine.start(kPipeline, 2);
  recent.get();
  clock_.advance(1h);

  EXPECT_EQ(engine.prune(24h), 2u);
  EXPECT_FALSE(engine.describe(old_done.id()));
  EXPECT_FALSE(engine.describe(old_failed));
  EXPECT_TRUE(store_->load_events(old_done.id(), 0).empty());
  EXPECT_EQ(engine.describe(old_waiting.id())->status, ExecutionStatus::kWaiting);
  EXPECT_EQ(engine.describe(recent.id())->status, ExecutionStatus::kCompleted);
  EXPECT_EQ(engine.prune(24h), 0u);
  EXPECT_EQ(engine.prune(30min, 1), 1u) << "the limit holds";
  EXPECT_FALSE(engine.describe(recent.id()));
  EXPECT_TRUE(engine.describe(old_waiting.id())) << "never an unfinished one";
}

TEST_F(ManagementTest, TheRetentionOptionPrunesOldFinishedExecutionsAsTimePasses) {
  g_save_fails = false;
  engine_ = std::make_unique<Engine>(store_, [&] {
    EngineOptions o = options();
    o.retention = 24h;
    return o;
  }());
  engine_->add(kPipeline);
  engine_->add(kWaits);
  engine_->start();
  Engine& engine = *engine_;
  auto done = engine.start(kPipeline, 1);
  done.get();
  auto waiting = engine.start(kWaits, 1);
  engine.wait_idle();
  clock_.advance(23h);
  engine.wait_idle();
  EXPECT_TRUE(engine.describe(done.id())) << "not yet past its retention";
  clock_.advance(2h);
  auto deadline = std::chrono::steady_clock::now() + kBound;
  while (engine.describe(done.id()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // the scheduler's next store poll
  }
  EXPECT_FALSE(engine.describe(done.id()));
  EXPECT_TRUE(engine.describe(waiting.id())) << "never an unfinished one";
}

}  // namespace
}  // namespace durable
