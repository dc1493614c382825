// Activities: retries, give-up, non-retryable errors, timeouts, context, journaled once.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

struct Flaky {
  std::atomic<int> calls{0};
  int fail_first = 0;
};

class ActivityTest : public EngineTest {};

TEST_F(ActivityTest, RetriesUntilSuccessAndJournalsTheResultOnce) {
  Flaky flaky;
  flaky.fail_first = 2;
  const Activity<int(int)> add_one{"add_one",
                                   [&](int x) {
                                     if (flaky.calls++ < flaky.fail_first)
                                       throw std::runtime_error("transient");
                                     return x + 1;
                                   },
                                   {.retry = {.max_attempts = 5, .initial_backoff = 1s}}};
  const Workflow<int(int)> wf{"wf", [&](WorkflowContext& ctx, int x) -> Task<int> {
                                co_return co_await ctx.run(add_one, x);
                              }};
  Engine& engine = boot();
  auto h = engine.start(wf, 41);
  // Backoff is durable time: advance the clock past each backoff as the retries become due.
  for (int i = 0; i < 10 && !h.poll(); ++i) {
    engine.wait_idle();
    clock_.advance(10s);
  }
  EXPECT_EQ(h.get(), 42);
  EXPECT_EQ(flaky.calls.load(), 3);
  EXPECT_EQ(events_of(h.id(), EventType::kActivityStarted).size(), 3u);
  EXPECT_EQ(events_of(h.id(), EventType::kActivityAttemptFailed).size(), 2u);
  EXPECT_EQ(events_of(h.id(), EventType::kActivityCompleted).size(), 1u);
}

TEST_F(ActivityTest, AttemptsDispatchedTogetherRunOnEveryWorkerAtOnce) {
  // Attempts handed to the pool in one batch must each get a worker: two attempts that can only
  // finish together (each waits for the other) both need one. A pool that wakes too few workers
  // for a batch leaves one waiting until its deadline: it returns false.
  std::mutex mutex;
  std::condition_variable cv;
  int arrived = 0;
  const Activity<bool(int)> meet{"meet", [&](int) {
                                   std::unique_lock lock(mutex);
                                   ++arrived;
                                   cv.notify_all();
                                   return cv.wait_for(lock, 10s, [&] { return arrived >= 2; });
                                 }};
  const Workflow<int(int)> wf{"meeting", [&](WorkflowContext& ctx, int) -> Task<int> {
                                auto [a, b] = co_await all(ctx.run(meet, 0), ctx.run(meet, 1));
                                co_return (a ? 1 : 0) + (b ? 1 : 0);
                              }};
  Engine& engine = boot();  // two activity threads
  EXPECT_EQ(engine.execute(wf, 0), 2) << "the two attempts did not run at the same time";
}

TEST_F(ActivityTest, WaitsForTheBackoffBeforeTheNextAttempt) {
  std::atomic<int> calls{0};
  const Activity<int()> flaky{"flaky",
                              [&] {
                                if (calls++ == 0) throw std::runtime_error("once");
                                return 7;
                              },
                              {.retry = {.max_attempts = 2, .initial_backoff = 30s}}};
  const Workflow<int(int)> wf{
      "wf", [&](WorkflowContext& ctx, int) -> Task<int> { co_return co_await ctx.run(flaky); }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  EXPECT_EQ(calls.load(), 1);
  clock_.advance(29s);
  engine.wait_idle();
  EXPECT_EQ(calls.load(), 1) << "retried before its backoff was due";
  clock_.advance(1s);
  EXPECT_EQ(h.get(), 7);
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(ActivityTest, GivesUpAfterMaxAttemptsAndTheWorkflowCatchesATypedError) {
  std::atomic<int> calls{0};
  const Activity<int()> always_fails{"always_fails",
                                     [&]() -> int {
                                       ++calls;
                                       throw std::runtime_error("boom");
                                     },
                                     {.retry = {.max_attempts = 3, .initial_backoff = 1s}}};
  const Workflow<std::string(int)> wf{"wf", [&](WorkflowContext& ctx, int) -> Task<std::string> {
                                        try {
                                          co_await ctx.run(always_fails);
                                        } catch (const ActivityError& e) {
                                          co_return e.activity() + "|" + e.type() + "|" +
                                              e.message() + "|" + std::to_string(e.attempts());
                                        }
                                        co_return "no error";
                                      }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  for (int i = 0; i < 10 && !h.poll(); ++i) {
    engine.wait_idle();
    clock_.advance(5s);
  }
  EXPECT_EQ(h.get(), "always_fails|std::runtime_error|boom|3");
  EXPECT_EQ(calls.load(), 3);
}

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST_F(ActivityTest, NonRetryableErrorTypesFailAtOnce) {
  std::atomic<int> calls{0};
  const Activity<int()> listed{"listed",
                               [&]() -> int {
                                 ++calls;
                                 throw BadInput("no");
                               },
                               {.retry = {.max_attempts = 5,
                                          .non_retryable_errors = {"durable::(anonymous "
                                                                   "namespace)::BadInput"}}}};
  const Activity<int()> flagged{"flagged", [&]() -> int {
                                  ++calls;
                                  throw NonRetryableError("stop");
                                }};
  const Workflow<int(int)> wf{"wf", [&](WorkflowContext& ctx, int which) -> Task<int> {
                                int failures = 0;
                                try {
                                  co_await ctx.run(which == 0 ? listed : flagged);
                                } catch (const ActivityError& e) {
                                  failures = e.attempts();
                                }
                                co_return failures;
                              }};
  Engine& engine = boot();
  EXPECT_EQ(engine.execute(wf, 0), 1);
  EXPECT_EQ(engine.execute(wf, 1), 1);
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(ActivityTest, AnAttemptThatOverrunsItsTimeoutFailsAndIsAskedToStop) {
  std::atomic<bool> saw_cancel{false};
  std::atomic<int> calls{0};
  const Activity<int()> slow{"slow",
                             [&](ActivityContext& ctx) {
                               if (calls++ == 0) {
                                 while (!ctx.cancelled()) std::this_thread::yield();
                                 saw_cancel = true;
                                 return -1;
                               }
                               return 5;
                             },
                             {.retry = {.max_attempts = 2, .initial_backoff = 1s}, .timeout = 10s}};
  const Workflow<int(int)> wf{
      "wf", [&](WorkflowContext& ctx, int) -> Task<int> { co_return co_await ctx.run(slow); }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  while (calls.load() == 0) std::this_thread::yield();
  clock_.advance(10s);  // the first attempt times out
  while (!saw_cancel.load()) std::this_thread::yield();
  engine.wait_idle();
  clock_.advance(1s);  // backoff before attempt 2
  EXPECT_EQ(h.get(), 5);
  auto failed = events_of(h.id(), EventType::kActivityAttemptFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].data.find("durable::ActivityTimeout"), std::string::npos);
}

TEST_F(ActivityTest, ContextGivesAttemptAndAStableIdempotencyKey) {
  std::mutex m;
  std::vector<std::pair<int, std::string>> seen;
  const Activity<std::string()> record{"record",
                                       [&](ActivityContext& ctx) -> std::string {
                                         std::lock_guard lock(m);
                                         seen.emplace_back(ctx.attempt(), ctx.idempotency_key());
                                         if (ctx.attempt() < 2) throw std::runtime_error("again");
                                         return ctx.idempotency_key();
                                       },
                                       {.retry = {.max_attempts = 2, .initial_backoff = 1s}}};
  const Workflow<std::string(int)> wf{"wf", [&](WorkflowContext& ctx, int) -> Task<std::string> {
                                        co_return co_await ctx.run(record);
                                      }};
  Engine& engine = boot();
  auto h = engine.start(wf, 0);
  engine.wait_idle();
  clock_.advance(1s);
  std::string key = h.get();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, 1);
  EXPECT_EQ(seen[1].first, 2);
  EXPECT_EQ(seen[0].second, seen[1].second);
  EXPECT_EQ(key, h.id() + "/0");
}

TEST(RetryPolicy, BackoffGrowsByTheMultiplierAndIsCapped) {
  RetryPolicy p{.max_attempts = 10,
                .initial_backoff = Duration{200},
                .multiplier = 2.0,
                .max_backoff = Duration{1000}};
  EXPECT_EQ(p.backoff_after(1), Duration{200});
  EXPECT_EQ(p.backoff_after(2), Duration{400});
  EXPECT_EQ(p.backoff_after(3), Duration{800});
  EXPECT_EQ(p.backoff_after(4), Duration{1000});
}

}  // namespace
}  // namespace durable
