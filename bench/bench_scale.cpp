// bench_scale: many executions suspended at once (half on durable sleeps, half on deferreds):
// resident memory per suspended execution, the time to wake them all, and how late a lone timer
// fires while they sit idle. See bench/README.md.
//
//   bench_scale [--executions N] [--store sqlite|memory] [--starters T] [--timer-ms D]
//               [--timer-runs R] [--max-cached M] [--json]
#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "bench_util.hpp"
#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Options {
  long long executions = 100000;
  std::string store = "sqlite";
  int starters = 32;
  int timer_ms = 200;
  int timer_runs = 10;
  std::size_t max_cached = EngineOptions{}.max_cached_waiting;
  bool json = false;
};

Options parse(int argc, char** argv) {
  Args args(
      argc, argv, {"--json"},
      {"--executions", "--store", "--starters", "--timer-ms", "--timer-runs", "--max-cached"});
  Options o;
  o.executions = std::max<long long>(2, args.get_int("--executions", o.executions));
  o.store = args.get("--store", o.store);
  if (o.store != "memory" && o.store != "sqlite") {
    throw std::invalid_argument("--store is sqlite or memory");
  }
  o.starters = static_cast<int>(std::max<long long>(1, args.get_int("--starters", o.starters)));
  o.timer_ms = static_cast<int>(args.get_int("--timer-ms", o.timer_ms));
  o.timer_runs = static_cast<int>(args.get_int("--timer-runs", o.timer_runs));
  o.max_cached = static_cast<std::size_t>(
      std::max<long long>(0, args.get_int("--max-cached", static_cast<long long>(o.max_cached))));
  o.json = args.has("--json");
  return o;
}

// Tokens the awaiters publish (workflow code, scheduler thread); read after wait_idle().
std::mutex g_tokens_mutex;
std::vector<std::string> g_tokens;

const DurableDeferred<int> kGo{"go"};
const Workflow<int(int)> kSleeper{"sleeper", [](WorkflowContext& ctx, int n) -> Task<int> {
                                    co_await ctx.sleep("nap", 1h);
                                    co_return n;
                                  }};
const Workflow<int(int)> kAwaiter{"awaiter", [](WorkflowContext& ctx, int n) -> Task<int> {
                                    {
                                      std::lock_guard lock(g_tokens_mutex);
                                      g_tokens[static_cast<std::size_t>(n)] = ctx.token(kGo);
                                    }
                                    co_return n + co_await ctx.await(kGo);
                                  }};

// Lateness of a lone timer: measured in workflow code against the wall clock the engine uses
// (SystemClock, millisecond-truncated); negative values mean up to 1 ms early from truncation.
std::atomic<int> g_timer_ms{200};
const Workflow<double(int)> kLoneTimer{
    "lone_timer", [](WorkflowContext& ctx, int) -> Task<double> {
      auto t0 = std::chrono::system_clock::now();
      co_await ctx.sleep("lone", Duration{g_timer_ms.load()});
      auto late = std::chrono::system_clock::now() - t0 - Duration{g_timer_ms.load()};
      co_return std::chrono::duration<double, std::milli>(late).count();
    }};

std::shared_ptr<JournalStore> open_store(const Options& o, const fs::path& dir, const char* name) {
  if (o.store == "memory") return MemoryStore::create();
  // synchronous=NORMAL: this benchmark is about memory and wake-ups, not fsync.
  return SqliteStore::open((dir / name).string(),
                           SqliteOptions{.sync = SqliteOptions::Sync::kNormal,
                                         .busy_timeout = std::chrono::milliseconds{5000}});
}

// Starts `count` executions of `workflow` (numbered from `first`) from several threads: each
// start waits for its create to commit, so several starters share each group commit.
template <class R>
void start_many(Engine& engine, const Workflow<R(int)>& workflow, long long first, long long count,
                int starters) {
  std::atomic<long long> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < starters; ++t) {
    threads.emplace_back([&] {
      for (long long i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
        engine.start(workflow, static_cast<int>(first + i));
      }
    });
  }
  for (auto& t : threads) t.join();
}

int run(const Options& o) {
  fs::path dir = fs::temp_directory_path() / fmt::format("durable-bench-scale-{}", ::getpid());
  fs::create_directories(dir);
  long long sleepers = o.executions / 2;
  long long awaiters = o.executions - sleepers;
  g_tokens.assign(static_cast<std::size_t>(awaiters), {});
  Json out;
  out["store"] = o.store;
  out["load_average_1m"] = load_average();
  out["executions"] = o.executions;
  out["max_cached_waiting"] = o.max_cached;

  // Phase 1, ManualClock: memory per suspended execution and the time to wake them all.
  {
    ManualClock clock;
    auto store = open_store(o, dir, "scale.db");
    EngineOptions eo;
    eo.clock = &clock;
    eo.activity_threads = 2;
    eo.max_cached_waiting = o.max_cached;
    Engine engine(store, eo);
    engine.add(kSleeper);
    engine.add(kAwaiter);
    engine.add(kGo);
    engine.start();
    engine.wait_idle();
    std::uint64_t rss_before = proc_status_bytes("VmRSS");

    auto t0 = Stopwatch::now();
    start_many(engine, kSleeper, 0, sleepers, o.starters);
    start_many(engine, kAwaiter, 0, awaiters, o.starters);
    engine.wait_idle();
    double start_s = seconds_since(t0);
    std::uint64_t rss_after = proc_status_bytes("VmRSS");
    std::uint64_t hwm = proc_status_bytes("VmHWM");
    // The tokens this benchmark keeps for itself are not the engine's memory.
    std::uint64_t token_bytes = 0;
    {
      std::lock_guard lock(g_tokens_mutex);
      for (const auto& t : g_tokens) token_bytes += t.capacity() > 15 ? t.capacity() + 1 : 0;
    }
    std::uint64_t grown = rss_after - std::min(rss_after, rss_before);
    double per_execution = static_cast<double>(grown - std::min(grown, token_bytes)) /
                           static_cast<double>(o.executions);
    std::uint64_t unloaded = engine.stats().executions_unloaded;

    t0 = Stopwatch::now();
    clock.advance(1h);
    engine.wait_idle();
    double wake_sleepers_s = seconds_since(t0);

    std::vector<std::string> tokens;
    {
      std::lock_guard lock(g_tokens_mutex);
      tokens = g_tokens;
    }
    t0 = Stopwatch::now();
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> resolvers;
    for (int t = 0; t < std::min(o.starters, 4); ++t) {
      resolvers.emplace_back([&] {
        for (std::size_t i = next.fetch_add(1); i < tokens.size(); i = next.fetch_add(1)) {
          engine.resolve(tokens[i], Json(1));
        }
      });
    }
    for (auto& t : resolvers) t.join();
    double resolve_calls_s = seconds_since(t0);
    engine.wait_idle();
    double wake_awaiters_s = seconds_since(t0);
    EngineStats stats = engine.stats();

    out["start_all_s"] = start_s;
    out["rss_before_bytes"] = rss_before;
    out["rss_suspended_bytes"] = rss_after;
    out["vm_hwm_bytes"] = hwm;
    out["bench_token_bytes"] = token_bytes;
    out["bytes_per_suspended_execution"] = per_execution;
    out["executions_unloaded"] = unloaded;  // of those suspended, dropped from memory
    out["executions_reloaded"] = stats.executions_loaded;  // to wake them
    out["wake_sleepers_s"] = wake_sleepers_s;
    out["wake_sleepers_per_sec"] = static_cast<double>(sleepers) / wake_sleepers_s;
    out["resolve_calls_s"] = resolve_calls_s;
    out["wake_awaiters_s"] = wake_awaiters_s;
    out["wake_awaiters_per_sec"] = static_cast<double>(awaiters) / wake_awaiters_s;
    out["commits"] = stats.commits;
    out["events_committed"] = stats.events_committed;
  }

  // Phase 2, SystemClock: the same number of executions suspended (deferreds and hour-long
  // sleeps), then a lone short sleep, repeated; lateness = when the workflow resumed - due time.
  {
    g_timer_ms = o.timer_ms;
    g_tokens.assign(static_cast<std::size_t>(awaiters), {});
    auto store = open_store(o, dir, "timer.db");
    EngineOptions eo;
    eo.activity_threads = 2;
    eo.max_cached_waiting = o.max_cached;
    Engine engine(store, eo);
    engine.add(kSleeper);
    engine.add(kAwaiter);
    engine.add(kLoneTimer);
    engine.start();
    start_many(engine, kSleeper, 0, sleepers, o.starters);
    start_many(engine, kAwaiter, 0, awaiters, o.starters);
    engine.wait_idle();
    std::vector<double> lateness;
    for (int i = 0; i < o.timer_runs; ++i) lateness.push_back(engine.execute(kLoneTimer, i));
    out["timer_ms"] = o.timer_ms;
    out["timer_runs"] = o.timer_runs;
    out["timer_lateness_p50_ms"] = percentile(lateness, 0.5);
    out["timer_lateness_max_ms"] =
        lateness.empty() ? 0.0 : *std::max_element(lateness.begin(), lateness.end());
    engine.stop();
  }
  fs::remove_all(dir);

  if (o.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  auto num = [&](const char* key) { return out.value(key, 0.0); };
  fmt::print(
      "{} executions suspended ({} on sleeps, {} on deferreds), {} store, at most {} kept loaded "
      "({} unloaded)\n",
      o.executions, sleepers, awaiters, o.store, o.max_cached, num("executions_unloaded"));
  fmt::print(
      "  started and suspended in {:.2f} s; RSS {:.1f} MiB -> {:.1f} MiB (VmHWM {:.1f} "
      "MiB): {:.0f} bytes per suspended execution\n",
      num("start_all_s"), num("rss_before_bytes") / 1048576.0,
      num("rss_suspended_bytes") / 1048576.0, num("vm_hwm_bytes") / 1048576.0,
      num("bytes_per_suspended_execution"));
  fmt::print("  wake all sleepers (one clock jump): {:.2f} s ({:.0f}/s)\n", num("wake_sleepers_s"),
             num("wake_sleepers_per_sec"));
  fmt::print(
      "  resolve all deferreds and wake them: {:.2f} s ({:.0f}/s; the resolve calls took "
      "{:.2f} s)\n",
      num("wake_awaiters_s"), num("wake_awaiters_per_sec"), num("resolve_calls_s"));
  fmt::print("  lone {} ms timer among them: lateness p50 {:.2f} ms, max {:.2f} ms ({} runs)\n",
             o.timer_ms, num("timer_lateness_p50_ms"), num("timer_lateness_max_ms"), o.timer_runs);
  return 0;
}

}  // namespace
}  // namespace durable::bench

int main(int argc, char** argv) {
  try {
    return durable::bench::run(durable::bench::parse(argc, argv));
  } catch (const std::invalid_argument& e) {
    std::cerr << "bench_scale: " << e.what() << "\n"
              << "usage: bench_scale [--executions N] [--store sqlite|memory] [--starters T] "
                 "[--timer-ms D] [--timer-runs R] [--max-cached M] [--json]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bench_scale: " << e.what() << "\n";
    return 1;
  }
}
