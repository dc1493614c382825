// The process the crash test kills: `crash_worker <db> <dir> <from> <to>` opens the SQLite
// journal <db>, resumes whatever is unfinished, starts jobs [from, to) of the crash workload
// (idempotently: a job started by an earlier, killed launch is found, not started again) and
// exits 0 once they have all completed.
//
// Outside the journal it leaves two traces for the test:
//  * <dir>/side_effects.log: one line "<execution> <op> <activity> <attempt>" per real run of an
//    activity, appended (O_APPEND, one write() per line) before the activity returns;
//  * <dir>/tokens/<execution>: the token of the execution's deferred, published by an activity
//    (written to a temporary file and renamed, so the test never reads half a token).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crash/crash_workload.hpp"
#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

namespace {

using namespace std::chrono_literals;
using namespace durable;
namespace crash = durable::testing::crash;

std::string g_dir;
int g_log_fd = -1;

// Records a real run. Must be one write(): the process may be killed between any two syscalls.
void log_run(const ActivityContext& ctx) {
  std::string key = ctx.idempotency_key();
  std::string line = ctx.execution_id() + " " + key.substr(key.rfind('/') + 1) + " " +
                     ctx.activity() + " " + std::to_string(ctx.attempt()) + "\n";
  if (::write(g_log_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("side-effect log: short write");
  }
}

void maybe_fail(const ActivityContext& ctx) {
  if (crash::attempt_fails(ctx.idempotency_key(), ctx.attempt())) {
    throw std::runtime_error("deterministic failure of attempt " + std::to_string(ctx.attempt()));
  }
}

// A few milliseconds of "I/O", so that kills land inside activities too.
void work(const ActivityContext& ctx) {
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + ctx.idempotency_key().size() % 8));
}

const RetryPolicy kRetry{.max_attempts = crash::kMaxAttempts,
                         .initial_backoff = 5ms,
                         .multiplier = 2.0,
                         .max_backoff = 40ms};

const Activity<std::int64_t(std::int64_t)> kSquare{"square",
                                                   [](ActivityContext& ctx, std::int64_t x) {
                                                     work(ctx);
                                                     log_run(ctx);
                                                     maybe_fail(ctx);
                                                     return x * x;
                                                   },
                                                   {.retry = kRetry}};

const Activity<std::int64_t(std::int64_t, std::int64_t)> kAdd{
    "add",
    [](ActivityContext& ctx, std::int64_t a, std::int64_t b) {
      work(ctx);
      log_run(ctx);
      maybe_fail(ctx);
      return a + b;
    },
    {.retry = kRetry}};

const Activity<void(std::string)> kPublish{
    "publish",
    [](ActivityContext& ctx, std::string token) {
      namespace fs = std::filesystem;
      fs::path final_path = fs::path(g_dir) / "tokens" / ctx.execution_id();
      fs::path temp = final_path;
      temp += ".tmp." + std::to_string(::getpid());
      std::FILE* f = std::fopen(temp.c_str(), "wb");
      if (!f) throw std::runtime_error("cannot write " + temp.string());
      std::fwrite(token.data(), 1, token.size(), f);
      std::fclose(f);
      fs::rename(temp, final_path);
      log_run(ctx);
    },
    {.retry = kRetry}};

const DurableDeferred<std::int64_t> kApproval{"approval"};

const Workflow<std::int64_t(std::int64_t)> kJob{
    "crash_job",
    [](WorkflowContext& ctx, std::int64_t n) -> Task<std::int64_t> {
      std::int64_t a = co_await ctx.run(kSquare, n);
      auto salt = static_cast<std::int64_t>(ctx.random() % 1000);
      co_await ctx.run(kPublish, ctx.token(kApproval));
      co_await ctx.sleep("nap", std::chrono::milliseconds(5 + n % 46));
      std::int64_t b = co_await ctx.await(kApproval);
      std::int64_t c = co_await ctx.run(kAdd, a + salt, b);
      co_await ctx.sleep("nap2", std::chrono::milliseconds(5 + (n * 7) % 46));
      std::int64_t d = co_await ctx.run(kSquare, c % 1000);
      co_return a + b + c + d;
    },
    {.idempotency_key = [](const std::int64_t& n) { return crash::job_key(n); }}};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: crash_worker <db> <dir> <from> <to> [scheduler-threads]\n");
    return 4;
  }
  try {
    g_dir = argv[2];
    std::filesystem::create_directories(std::filesystem::path(g_dir) / "tokens");
    std::string log_path = g_dir + "/side_effects.log";
    g_log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_log_fd < 0) throw std::runtime_error("cannot open " + log_path);
    std::int64_t from = std::stoll(argv[3]);
    std::int64_t to = std::stoll(argv[4]);

    EngineOptions options;
    options.activity_threads = 4;
    options.scheduler_threads = argc == 6 ? std::stoul(argv[5]) : 1;
    options.store_poll_interval = 10ms;  // how soon the test's resolutions are seen
    options.on_fault = [](const std::string& m) {
      std::fprintf(stderr, "[worker %d] fault: %s\n", static_cast<int>(::getpid()), m.c_str());
    };
    Engine engine(SqliteStore::open(argv[1]), options);
    engine.add(kJob);
    engine.add(kApproval);
    engine.start();
    std::vector<ExecutionHandle<std::int64_t>> handles;
    for (std::int64_t n = from; n < to; ++n) handles.push_back(engine.start(kJob, n));
    for (const auto& h : handles) (void)h.get();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[worker %d] error: %s\n", static_cast<int>(::getpid()), e.what());
    return 3;
  }
}
