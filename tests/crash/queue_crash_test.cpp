// A real worker process SIGKILLed in the middle of an item: its lease runs out, the item is
// delivered again to a worker in another process, and the workflow waiting on it finishes.
#include <gtest/gtest.h>

#include <sstream>

#include "contract/store_fixtures.hpp"
#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"
#include "e2e/child_process.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;

const DurableQueue<int, int> kJobs{"crash_jobs"};

const Workflow<int(int)> kWaitsForJob{
    "waits_for_job",
    [](WorkflowContext& ctx, int x) -> Task<int> { co_return co_await kJobs.process(ctx, x); }};

TEST(QueueCrashTest, AnItemOfAKilledWorkerProcessIsDeliveredAgainAndResumesItsWorkflow) {
  testing::TempDir dir;
  const std::string db = dir.file("journal.db");
  Engine engine(SqliteStore::open(db));
  engine.add(kWaitsForJob);
  engine.start();
  auto h = engine.start(kWaitsForJob, 21);

  std::string dead_owner;
  {
    testing::ChildProcess worker({DURABLE_QUEUE_WORKER_CHILD, db});
    auto line = worker.wait_for_line("started ", 30s);
    ASSERT_TRUE(line) << "the worker process never took the item";
    std::istringstream fields(*line);
    std::string key;
    int attempt = 0;
    fields >> dead_owner >> key >> attempt;
    EXPECT_EQ(key, h.id() + "/0");
    EXPECT_EQ(attempt, 1);
    worker.kill_hard();
  }
  EXPECT_EQ(engine.queue_item(kJobs, h.id() + "/0")->lease_owner, dead_owner);

  WorkerOptions options;
  options.lease = 300ms;
  options.poll_interval = 5ms;
  engine.add_worker(
      kJobs, [](WorkerContext& ctx, int x) { return x * ctx.attempt(); }, options);
  auto record = engine.wait(h.id(), 30s);
  ASSERT_TRUE(record) << "the workflow did not finish";
  EXPECT_EQ(h.get(), 42);  // 21 times the second delivery
  auto item = *engine.queue_item(kJobs, h.id() + "/0");
  EXPECT_EQ(item.attempts, 2);
  EXPECT_NE(item.lease_owner, dead_owner);
}

}  // namespace
}  // namespace durable
