// DurableQueue: workflows hand items to workers and await their results durably; workers lease
// items, and an item whose worker stops renewing goes to another worker.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <fmt/format.h>

#include "contract/store_fixtures.hpp"
#include "crash/faulty_store.hpp"
#include "durable/sqlite_store.hpp"
#include "support/engine_fixture.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::EngineTest;

const DurableQueue<int, int> kDoubler{"doubler"};

const Workflow<int(int)> kSumOfDoubles{"sum_of_doubles",
                                       [](WorkflowContext& ctx, int n) -> Task<int> {
                                         int sum = 0;
                                         for (int i = 1; i <= n; ++i) {
                                           sum += co_await kDoubler.process(ctx, i);
                                         }
                                         co_return sum;
                                       }};

const Workflow<std::string(int)> kReportsFailure{
    "reports_failure", [](WorkflowContext& ctx, int x) -> Task<std::string> {
      try {
        co_await kDoubler.process(ctx, x);
      } catch (const QueueItemFailed& e) {
        co_return fmt::format("{} {} after {}: {}", e.queue(), e.type(), e.attempts(), e.message());
      }
      co_return "no failure";
    }};

const Workflow<int(std::string)> kJoinsKey{"joins_key",
                                           [](WorkflowContext& ctx, std::string key) -> Task<int> {
                                             co_return co_await kDoubler.process(ctx, 100, key);
                                           }};

// Waits (with a generous timeout) until `done` holds; false if it never did.
template <class F>
bool eventually(F done, std::chrono::seconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

WorkerOptions quick(std::size_t concurrency = 1) {
  WorkerOptions options;
  options.concurrency = concurrency;
  options.lease = 10s;
  options.poll_interval = 5ms;
  options.retry.initial_backoff = 1s;
  return options;
}

class QueueTest : public EngineTest {
 protected:
  Engine& up() {
    return boot([](Engine& e) {
      e.add(kSumOfDoubles);
      e.add(kReportsFailure);
      e.add(kJoinsKey);
    });
  }
};

TEST_F(QueueTest, ProcessReturnsTheWorkersResult) {
  Engine& engine = up();
  std::atomic<int> calls{0};
  engine.add_worker(kDoubler, [&](int x) {
    ++calls;
    return 2 * x;
  });
  auto h = engine.start(kSumOfDoubles, 3);
  EXPECT_EQ(h.get(), 2 + 4 + 6);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(events_of(h.id(), EventType::kQueueItemEnqueued).size(), 3u);
  EXPECT_EQ(events_of(h.id(), EventType::kQueueItemCompleted).size(), 3u);
  // The default key names the execution and the operation.
  auto item = engine.queue_item(kDoubler, h.id() + "/0");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->state, QueueItemState::kDone);
  EXPECT_EQ(item->result, "2");
  EXPECT_EQ(item->waiter_execution_id, h.id());
}

TEST_F(QueueTest, AFailureForGoodSurfacesAsQueueItemFailedAfterTheRetries) {
  Engine& engine = up();
  WorkerOptions options = quick();
  options.retry.max_attempts = 2;
  std::atomic<int> calls{0};
  engine.add_worker(
      kDoubler,
      [&](int) -> int {
        ++calls;
        throw std::invalid_argument("odd input");
      },
      options);
  auto h = engine.start(kReportsFailure, 7);
  // The second delivery waits out the backoff on the manual clock.
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }));
  ASSERT_TRUE(eventually([&] {
    auto item = engine.queue_item(kDoubler, h.id() + "/0");
    return item && item->state == QueueItemState::kReady;
  }));
  clock_.advance(1s);
  EXPECT_EQ(h.get(), "doubler std::invalid_argument after 2: odd input");
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(engine.queue_item(kDoubler, h.id() + "/0")->state, QueueItemState::kFailed);
}

TEST_F(QueueTest, ANonRetryableErrorFailsAtOnce) {
  Engine& engine = up();
  engine.add_worker(
      kDoubler, [](int) -> int { throw NonRetryableError("never"); }, quick());
  auto h = engine.start(kReportsFailure, 1);
  EXPECT_EQ(h.get(), "doubler durable::NonRetryableError after 1: never");
}

// The enqueue rides in the commit of the op's event: an engine that crashes after it and a new
// engine that replays the execution do not enqueue again, and the result reaches the waiter.
TEST_F(QueueTest, TheEnqueueHappensExactlyOnceAcrossACrashAndReplay) {
  testing::TempDir dir;
  const std::string path = dir.file("journal.db");
  store_ = SqliteStore::open(path);
  std::string id;
  {
    Engine& engine = up();  // no worker: the item waits in the store
    id = engine.start(kSumOfDoubles, 2).id();
    engine.wait_idle();
    ASSERT_EQ(engine.describe(id)->status, ExecutionStatus::kWaiting);
    crash();
  }
  store_.reset();
  store_ = SqliteStore::open(path);
  auto first = store_->get_item("doubler", id + "/0");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->state, QueueItemState::kReady);

  std::atomic<int> calls{0};
  Engine& engine = boot([&](Engine& e) {
    e.add(kSumOfDoubles);
    e.add_worker(
        kDoubler,
        [&](int x) {
          ++calls;
          return 2 * x;
        },
        quick());
  });
  EXPECT_EQ(engine.handle<int>(id).get(), 2 + 4);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(events_of(id, EventType::kQueueItemEnqueued).size(), 2u);
  EXPECT_EQ(store_->get_item("doubler", id + "/0")->attempts, 1);
}

// A worker that stops renewing (its store connection is dead: a crashed process) loses the item
// once the lease runs out, and another worker completes it.
TEST_F(QueueTest, AnItemWhoseWorkerStopsRenewingIsDeliveredToAnother) {
  auto dying_store = testing::FaultyStore::wrap(store_);
  std::mutex mutex;
  std::condition_variable cv;
  bool started = false;
  auto dying = std::make_unique<Engine>(dying_store, options());
  dying->add_worker(
      kDoubler,
      [&](WorkerContext& ctx, int) {
        {
          std::lock_guard lock(mutex);
          started = true;
        }
        cv.notify_all();
        while (!ctx.cancelled()) std::this_thread::sleep_for(1ms);
        return -1;
      },
      quick());
  dying->start();
  ASSERT_EQ(dying->offer(kDoubler, "job", 21), EnqueueOutcome::kEnqueued);
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return started; }));
  }
  const std::string dead_owner = store_->get_item("doubler", "job")->lease_owner;
  dying_store->cut_power();

  std::atomic<int> attempt_seen{0};
  Engine& engine = boot([&](Engine& e) {
    e.add_worker(
        kDoubler,
        [&](WorkerContext& ctx, int x) {
          attempt_seen = ctx.attempt();
          return 2 * x;
        },
        quick());
  });
  clock_.advance(11s);  // past the dead worker's lease
  ASSERT_TRUE(eventually([&] {
    auto item = engine.queue_item(kDoubler, "job");
    return item && item->state == QueueItemState::kDone;
  }));
  auto item = *engine.queue_item(kDoubler, "job");
  EXPECT_EQ(item.result, "42");
  EXPECT_EQ(item.attempts, 2);
  EXPECT_EQ(attempt_seen.load(), 2);
  EXPECT_NE(item.lease_owner, dead_owner);
  dying.reset();  // its handler sees cancelled() and its late outcome is refused
  EXPECT_EQ(store_->get_item("doubler", "job")->result, "42");
}

// Stopping the engine cancels the handler, discards what it returns and gives the item back for
// immediate redelivery.
TEST_F(QueueTest, StoppingTheEngineGivesAnItemInHandBackAtOnce) {
  Engine& first = up();
  std::atomic<bool> started{false};
  first.add_worker(
      kDoubler,
      [&](WorkerContext& ctx, int) {
        started = true;
        while (!ctx.cancelled()) std::this_thread::sleep_for(1ms);
        return 999;
      },
      quick());
  first.offer(kDoubler, "in-hand", 3);
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  first.stop();
  auto item = *store_->get_item("doubler", "in-hand");
  EXPECT_EQ(item.state, QueueItemState::kReady);
  EXPECT_EQ(item.result, "");
  EXPECT_EQ(item.ready_at, clock_.now());

  Engine& second = boot([](Engine& e) {
    e.add_worker(
        kDoubler, [](int x) { return 2 * x; }, quick());
  });
  ASSERT_TRUE(eventually(
      [&] { return second.queue_item(kDoubler, "in-hand")->state == QueueItemState::kDone; }));
  EXPECT_EQ(second.queue_item(kDoubler, "in-hand")->result, "6");
  EXPECT_EQ(second.queue_item(kDoubler, "in-hand")->attempts, 2);
}

TEST_F(QueueTest, AWorkerNeverRunsMoreItemsAtOnceThanItsConcurrency) {
  Engine& engine = up();
  std::mutex mutex;
  std::condition_variable cv;
  int in_flight = 0;
  int most = 0;
  bool open = false;
  engine.add_worker(
      kDoubler,
      [&](int x) {
        std::unique_lock lock(mutex);
        most = std::max(most, ++in_flight);
        cv.notify_all();
        cv.wait(lock, [&] { return open; });
        --in_flight;
        return x;
      },
      quick(2));
  for (int i = 0; i < 6; ++i) engine.offer(kDoubler, "k" + std::to_string(i), i);
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return in_flight == 2; }));
    open = true;
  }
  cv.notify_all();
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < 6; ++i) {
      if (engine.queue_item(kDoubler, "k" + std::to_string(i))->state != QueueItemState::kDone) {
        return false;
      }
    }
    return true;
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(most, 2);
}

TEST_F(QueueTest, AnItemOfferedFromOutsideIsProcessedOnceAndReadable) {
  Engine& engine = up();
  EXPECT_EQ(engine.offer(kDoubler, "outside", 5), EnqueueOutcome::kEnqueued);
  EXPECT_EQ(engine.offer(kDoubler, "outside", 6), EnqueueOutcome::kAlreadyEnqueued);
  EXPECT_EQ(engine.queue_item(kDoubler, "outside")->state, QueueItemState::kReady);
  EXPECT_FALSE(engine.queue_item(kDoubler, "missing"));
  engine.add_worker(
      kDoubler, [](int x) { return 2 * x; }, quick());
  ASSERT_TRUE(eventually(
      [&] { return engine.queue_item(kDoubler, "outside")->state == QueueItemState::kDone; }));
  EXPECT_EQ(engine.queue_item(kDoubler, "outside")->result, "10");  // the first payload won
}

// A workflow that processes an explicit key already offered from outside gets that item's
// outcome instead of enqueueing a second one.
TEST_F(QueueTest, AnExplicitKeyJoinsTheItemOfferedBefore) {
  Engine& engine = up();
  engine.offer(kDoubler, "shared", 8);
  engine.add_worker(
      kDoubler, [](int x) { return 2 * x; }, quick());
  ASSERT_TRUE(eventually(
      [&] { return engine.queue_item(kDoubler, "shared")->state == QueueItemState::kDone; }));
  EXPECT_EQ(engine.execute(kJoinsKey, "shared"), 16);
}

TEST_F(QueueTest, AnExplicitKeyJoinsAnItemStillInProgress) {
  Engine& engine = up();
  engine.offer(kDoubler, "pending", 4);
  auto h = engine.start(kJoinsKey, "pending");
  engine.wait_idle();
  EXPECT_EQ(engine.describe(h.id())->status, ExecutionStatus::kWaiting);
  engine.add_worker(
      kDoubler, [](int x) { return 2 * x; }, quick());
  ASSERT_TRUE(eventually(
      [&] { return engine.queue_item(kDoubler, "pending")->state == QueueItemState::kDone; }));
  clock_.advance(1s);  // the waiter of a foreign item looks again every second
  EXPECT_EQ(h.get(), 8);
}

TEST_F(QueueTest, AWorkerWithBadOptionsIsRefusedNamingTheQueue) {
  Engine& engine = up();
  WorkerOptions none = quick(0);
  WorkerOptions no_lease = quick();
  no_lease.lease = 0s;
  for (const WorkerOptions& bad : {none, no_lease}) {
    try {
      engine.add_worker(
          kDoubler, [](int x) { return x; }, bad);
      ADD_FAILURE() << "accepted bad worker options";
    } catch (const DurableError& e) {
      EXPECT_NE(std::string(e.what()).find("queue 'doubler'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace durable
