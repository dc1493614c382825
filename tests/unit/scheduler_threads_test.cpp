// EngineOptions::scheduler_threads: executions spread over several schedulers by id, each run on
// its owner's thread only; children, resolutions, wake-ups and recovery cross between them.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

// Which threads each execution's workflow code ran on, keyed by the workflow's input.
class ThreadLog {
 public:
  void note(int key) {
    std::lock_guard lock(mutex_);
    threads_[key].insert(std::this_thread::get_id());
  }
  std::map<int, std::set<std::thread::id>> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    threads_.clear();
  }

 private:
  std::mutex mutex_;
  std::map<int, std::set<std::thread::id>> threads_;
};

ThreadLog g_log;
std::mutex g_token_mutex;
std::vector<std::string> g_tokens;

const Activity<int(int)> kInc{"inc", [](int x) { return x + 1; }};
const Activity<void(std::string)> kPublish{"publish", [](std::string token) {
                                             std::lock_guard lock(g_token_mutex);
                                             g_tokens.push_back(std::move(token));
                                           }};
const DurableDeferred<int> kAnswer{"answer"};

const Workflow<int(int)> kSteps{"steps", [](WorkflowContext& ctx, int n) -> Task<int> {
                                  int x = 0;
                                  for (int i = 0; i < 3; ++i) {
                                    g_log.note(n);
                                    x = co_await ctx.run(kInc, x);
                                  }
                                  g_log.note(n);
                                  co_return x;
                                }};

const Workflow<int(int)> kChild{"child", [](WorkflowContext& ctx, int n) -> Task<int> {
                                  g_log.note(1000 + n);
                                  co_return co_await ctx.run(kInc, n);
                                }};
const Workflow<int(int)> kParent{"parent", [](WorkflowContext& ctx, int n) -> Task<int> {
                                   g_log.note(n);
                                   int child = co_await ctx.child(kChild, n);
                                   g_log.note(n);
                                   co_return child;
                                 }};

const Workflow<int(int)> kAsker{"asker", [](WorkflowContext& ctx, int) -> Task<int> {
                                  co_await ctx.run(kPublish, ctx.token(kAnswer));
                                  co_return co_await ctx.await(kAnswer);
                                }};

const Workflow<int(int)> kNapper{"napper", [](WorkflowContext& ctx, int n) -> Task<int> {
                                   co_await ctx.sleep("nap", 1h);
                                   co_return n;
                                 }};

class SchedulerThreadsTest : public EngineTest {
 protected:
  void SetUp() override {
    g_log.clear();
    std::lock_guard lock(g_token_mutex);
    g_tokens.clear();
  }
  Engine& boot_threads(std::size_t threads) {
    engine_.reset();
    EngineOptions o = options();
    o.scheduler_threads = threads;
    engine_ = std::make_unique<Engine>(store_, o);
    for (const auto* wf : {&kSteps, &kChild, &kParent, &kAsker, &kNapper}) engine_->add(*wf);
    engine_->start();
    return *engine_;
  }
};

TEST_F(SchedulerThreadsTest, EachExecutionRunsOnOneThreadAndTheExecutionsShareTwo) {
  Engine& engine = boot_threads(2);
  std::vector<ExecutionHandle<int>> handles;
  for (int n = 0; n < 64; ++n) handles.push_back(engine.start(kSteps, n));
  for (auto& h : handles) EXPECT_EQ(h.get(), 3);
  std::set<std::thread::id> all;
  for (const auto& [n, threads] : g_log.threads()) {
    EXPECT_EQ(threads.size(), 1u) << "execution " << n << " ran on more than one thread";
    all.insert(threads.begin(), threads.end());
  }
  // 64 ids hashed onto two schedulers: all on one would be a 1-in-2^63 chance.
  EXPECT_EQ(all.size(), 2u);
}

TEST_F(SchedulerThreadsTest, ChildrenOwnedByTheOtherThreadAnswerTheirParentsBeforeIdle) {
  Engine& engine = boot_threads(2);
  std::vector<ExecutionHandle<int>> parents;
  for (int n = 0; n < 16; ++n) parents.push_back(engine.start(kParent, n));
  // Each hand-over (the child's load, the parent's wake-up) is work posted to the other
  // scheduler: wait_idle must not return while one is on its way.
  engine.wait_idle();
  for (int n = 0; n < 16; ++n) {
    ASSERT_TRUE(parents[static_cast<std::size_t>(n)].poll()) << "parent " << n;
    EXPECT_EQ(parents[static_cast<std::size_t>(n)].get(), n + 1);
  }
  auto threads = g_log.threads();
  int crossed = 0;
  for (int n = 0; n < 16; ++n) {
    ASSERT_EQ(threads[n].size(), 1u);
    ASSERT_EQ(threads[1000 + n].size(), 1u);
    if (*threads[n].begin() != *threads[1000 + n].begin()) ++crossed;
  }
  EXPECT_GT(crossed, 0)
      << "every child ran on its parent's thread: none crossed to the other scheduler";
}

TEST_F(SchedulerThreadsTest, ResolutionsReachExecutionsOnEitherThreadThroughTheStore) {
  Engine& engine = boot_threads(2);
  std::vector<ExecutionHandle<int>> handles;
  for (int n = 0; n < 16; ++n) handles.push_back(engine.start(kAsker, n));
  engine.wait_idle();
  std::vector<std::string> tokens;
  {
    std::lock_guard lock(g_token_mutex);
    tokens = g_tokens;
  }
  ASSERT_EQ(tokens.size(), 16u);
  // Half through the engine (it wakes the owner), half as another process would: the store
  // marks the execution runnable and whichever scheduler takes the mark hands it to the owner.
  for (std::size_t i = 0; i < tokens.size() / 2; ++i) {
    EXPECT_EQ(engine.resolve(kAnswer, tokens[i], 7), ResolveOutcome::kResolved);
  }
  int through_store = 0;
  for (auto& h : handles) {
    if (store_->resolve_deferred(h.id(), "answer", "7", clock_.now()) ==
        ResolveOutcome::kResolved) {
      ++through_store;
    }
  }
  EXPECT_EQ(through_store, 8);
  for (auto& h : handles) {
    auto record = engine.wait(h.id(), 10s);
    ASSERT_TRUE(record && record->status == ExecutionStatus::kCompleted) << h.id();
    EXPECT_EQ(record->result, "7");
  }
}

TEST_F(SchedulerThreadsTest, AfterACrashEveryExecutionIsRecoveredOnceByItsOwner) {
  Engine& first = boot_threads(2);
  std::vector<std::string> ids;
  for (int n = 0; n < 20; ++n) ids.push_back(first.start(kNapper, n).id());
  first.wait_idle();
  crash();
  Engine& second = boot_threads(2);
  second.wait_idle();
  // Loaded once each: a scheduler that recovered the other's executions too would load them
  // twice (and then fight over them with stale writes).
  EXPECT_EQ(second.stats().executions_loaded, 20u);
  clock_.advance(1h);
  for (int n = 0; n < 20; ++n) {
    auto record = second.wait(ids[static_cast<std::size_t>(n)], 10s);
    ASSERT_TRUE(record) << "execution " << n;
    EXPECT_EQ(record->status, ExecutionStatus::kCompleted);
    EXPECT_EQ(record->result, std::to_string(n));
  }
  EXPECT_TRUE(faults().empty()) << faults().front();
}

}  // namespace
}  // namespace durable
