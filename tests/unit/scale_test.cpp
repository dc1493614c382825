// 10,000 executions suspended at once (half on durable sleeps, half on deferreds) hold no
// threads, are all reported as waiting, and all complete once time passes and the deferreds are
// resolved.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

constexpr int kSleepers = 5000;
constexpr int kAwaiters = 5000;

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

class ScaleTest : public EngineTest {
 protected:
  void TearDown() override { crash(); }

  std::size_t count_with_status(ExecutionStatus status) {
    ListQuery query;
    query.statuses = {status};
    query.limit = 1000;
    std::size_t n = 0;
    for (;;) {
      ListPage page = store_->list_executions(query);
      EXPECT_LE(page.executions.size(), query.limit);
      for (const auto& record : page.executions) n += record.status == status ? 1 : 0;
      if (page.next_page_token.empty()) return n;
      query.page_token = page.next_page_token;
    }
  }

  static int sleeper_result(int n) { return n * 2; }
  static int awaiter_result(int n, int resolution) { return n + resolution; }
  static int resolution_for(int n) { return n % 97; }

  std::mutex tokens_mutex_;
  std::map<int, std::string> tokens_;  // awaiter number -> token, written by workflow code

  const DurableDeferred<int> go_{"go"};
  const Workflow<int(int)> sleeper_{"sleeper", [](WorkflowContext& ctx, int n) -> Task<int> {
                                      co_await ctx.sleep("nap", 1h);
                                      co_return sleeper_result(n);
                                    }};
  const Workflow<int(int)> awaiter_{"awaiter", [this](WorkflowContext& ctx, int n) -> Task<int> {
                                      {
                                        std::lock_guard lock(tokens_mutex_);
                                        tokens_[n] = ctx.token(go_);
                                      }
                                      int v = co_await ctx.await(go_);
                                      co_return awaiter_result(n, v);
                                    }};
};

TEST_F(ScaleTest, TenThousandSuspendedExecutionsHoldNoThreadsAndAllComplete) {
  using Stopwatch = std::chrono::steady_clock;
  auto seconds_since = [](Stopwatch::time_point t) {
    return std::chrono::duration<double>(Stopwatch::now() - t).count();
  };
  const auto t0 = Stopwatch::now();
  Engine& engine = boot([&](Engine& e) {
    e.add(sleeper_);
    e.add(awaiter_);
  });
  engine.wait_idle();
  const std::size_t threads_before = thread_count();

  std::vector<ExecutionHandle<int>> sleepers;
  sleepers.reserve(kSleepers);
  for (int n = 0; n < kSleepers; ++n) sleepers.push_back(engine.start(sleeper_, n));
  engine.wait_idle();
  const std::size_t threads_sleeping = thread_count();

  std::vector<ExecutionHandle<int>> awaiters;
  awaiters.reserve(kAwaiters);
  for (int n = 0; n < kAwaiters; ++n) awaiters.push_back(engine.start(awaiter_, n));
  engine.wait_idle();
  const double started_s = seconds_since(t0);

  EXPECT_EQ(threads_sleeping, threads_before) << "sleeping executions hold threads";
  EXPECT_EQ(thread_count(), threads_before) << "waiting executions hold threads";
  EXPECT_EQ(count_with_status(ExecutionStatus::kWaiting),
            static_cast<std::size_t>(kSleepers + kAwaiters));
  const double listed_s = seconds_since(t0);

  std::map<int, std::string> tokens;
  {
    std::lock_guard lock(tokens_mutex_);
    tokens = tokens_;
  }
  ASSERT_EQ(tokens.size(), static_cast<std::size_t>(kAwaiters));
  clock_.advance(1h);
  for (const auto& [n, token] : tokens) {
    ASSERT_EQ(engine.resolve(token, Json(resolution_for(n))), ResolveOutcome::kResolved);
  }
  const double resolved_s = seconds_since(t0);

  for (int n = 0; n < kSleepers; ++n) ASSERT_EQ(sleepers[n].get(), sleeper_result(n));
  for (int n = 0; n < kAwaiters; ++n) {
    ASSERT_EQ(awaiters[n].get(), awaiter_result(n, resolution_for(n)));
  }
  engine.wait_idle();
  EXPECT_EQ(count_with_status(ExecutionStatus::kCompleted),
            static_cast<std::size_t>(kSleepers + kAwaiters));
  EXPECT_EQ(count_with_status(ExecutionStatus::kWaiting), 0u);
  EXPECT_EQ(thread_count(), threads_before);
  const double done_s = seconds_since(t0);

  std::printf("scale: started+idle %.2fs, listed %.2fs, resolved %.2fs, all completed %.2fs\n",
              started_s, listed_s, resolved_s, done_s);
  RecordProperty("seconds_total", std::to_string(done_s));
}

}  // namespace
}  // namespace durable
