// The worker process queue_crash_test kills: `queue_worker_child <db>` serves the queue
// "crash_jobs" of the SQLite journal <db> with a 300 ms lease. Its handler prints
// "started <owner> <key> <attempt>" and then works forever (until killed).
#include <cstdio>
#include <thread>

#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

int main(int argc, char** argv) {
  using namespace durable;
  using namespace std::chrono_literals;
  if (argc != 2) {
    std::fprintf(stderr, "usage: queue_worker_child <db>\n");
    return 2;
  }
  Engine engine(SqliteStore::open(argv[1]));
  const DurableQueue<int, int> jobs{"crash_jobs"};
  WorkerOptions options;
  options.lease = 300ms;
  options.poll_interval = 5ms;
  engine.add_worker(
      jobs,
      [](WorkerContext& ctx, int) -> int {
        std::printf("started %s %s %d\n", ctx.owner().c_str(), ctx.key().c_str(), ctx.attempt());
        std::fflush(stdout);
        for (;;) std::this_thread::sleep_for(1s);
      },
      options);
  // No engine.start(): this process only serves the queue and runs no workflows.
  for (;;) std::this_thread::sleep_for(1s);
}
