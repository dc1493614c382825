// bench_micro: Google Benchmark micro benchmarks of the engine's hot paths on a MemoryStore with a
// ManualClock (no real waiting): replaying a 10,000-event history, a suspended-and-resumed sleep
// (also after a long history, to see whether a step's cost grows with it), a deferred resolution,
// and encoding/decoding the JSON data of typical events; and loading a journal from SQLite, written
// alone or interleaved with others. See bench/README.md.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::bench {
namespace {

using namespace std::chrono_literals;

EngineOptions manual_options(ManualClock& clock) {
  EngineOptions o;
  o.clock = &clock;
  o.activity_threads = 2;
  return o;
}

// --- Replay -----------------------------------------------------------------------------------

// 4,999 activity steps (two events each: activity_started, activity_completed) + started +
// deferred_awaited = 10,000 events; then the workflow waits on a deferred nobody resolves.
constexpr int kReplaySteps = 4999;
const Activity<int(int)> kInc{"inc", [](int i) { return i + 1; }};
const DurableDeferred<int> kNever{"never"};
const Workflow<int(int)> kLongHistory{"long_history", [](WorkflowContext& ctx, int n) -> Task<int> {
                                        int sum = 0;
                                        for (int i = 0; i < n; ++i)
                                          sum += co_await ctx.run(kInc, i);
                                        sum += co_await ctx.await(kNever);
                                        co_return sum;
                                      }};

// Measures a fresh engine loading the execution from the store and replaying it to the point of
// waiting (engine start, recover(), load_events, ExecutionCore::load, re-running the coroutine
// with every op answered from the journal, one status write): events/s.
void BM_Replay10kEvents(benchmark::State& state) {
  ManualClock clock;
  auto store = MemoryStore::create();
  std::string id;
  {
    Engine engine(store, manual_options(clock));
    engine.add(kLongHistory);
    id = engine.start(kLongHistory, kReplaySteps).id();
    engine.wait_idle();
  }
  auto events = static_cast<std::int64_t>(store->get_execution(id)->next_index);
  for (auto _ : state) {
    auto engine = std::make_unique<Engine>(store, manual_options(clock));
    engine->add(kLongHistory);
    engine->start();
    engine->wait_idle();
    state.PauseTiming();
    if (engine->stats().ops_replayed < static_cast<std::uint64_t>(kReplaySteps)) {
      state.SkipWithError("the execution was not replayed");
    }
    engine.reset();
    state.ResumeTiming();
  }
  state.counters["events"] = static_cast<double>(events);
  state.counters["events_per_sec"] = benchmark::Counter(
      static_cast<double>(events), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Replay10kEvents)->Unit(benchmark::kMillisecond)->UseRealTime();

// --- Loading a journal from SQLite -----------------------------------------------------------

// 64 journals of 2,001 events (started + 1,000 steps of activity_started/activity_completed, the
// data the engine writes), written as the engine writes them: each commit appends one step to
// `range(0)` executions at once (1: each journal alone, the best case for reads; 64: interleaved
// with 63 others, as group commit writes them). One iteration loads one whole journal
// (`load_events` from index 0: the read an engine does when it loads an execution), warm cache.
void BM_LoadJournalSqlite(benchmark::State& state) {
  namespace fs = std::filesystem;
  constexpr int kJournals = 64;
  constexpr int kSteps = 1000;
  const int together = static_cast<int>(state.range(0));
  fs::path dir = fs::temp_directory_path() / fmt::format("durable-bench-load-{}", ::getpid());
  fs::create_directories(dir);
  {
    auto store = SqliteStore::open((dir / "load.db").string(),
                                   SqliteOptions{.sync = SqliteOptions::Sync::kNormal});
    const TimePoint now{std::chrono::milliseconds(1'700'000'000'000)};
    std::vector<std::string> ids;
    CommitBatch create;
    for (int j = 0; j < kJournals; ++j) {
      ids.push_back(fmt::format("load-{:04}", j));
      create.creates.push_back(NewExecution{.id = ids.back(),
                                            .workflow = "load",
                                            .input = "[0]",
                                            .created_at = now,
                                            .input_is_serialized_json = true});
    }
    store->commit(create);
    auto step_events = [&](int step) {
      std::vector<Event> events(2);
      events[0] = Event{.index = 1 + 2 * step,
                        .type = EventType::kActivityStarted,
                        .op = step,
                        .name = "inc",
                        .data = fmt::format(R"({{"attempt":1,"input":[{}]}})", step),
                        .time = now};
      events[1] = Event{.index = 2 + 2 * step,
                        .type = EventType::kActivityCompleted,
                        .op = step,
                        .name = "inc",
                        .data = fmt::format(R"({{"value":{}}})", step + 1),
                        .time = now};
      return events;
    };
    for (int first = 0; first < kJournals; first += together) {
      for (int step = 0; step < kSteps; ++step) {
        CommitBatch batch;
        for (int j = first; j < std::min(first + together, kJournals); ++j) {
          ExecutionWrite write;
          write.execution_id = ids[static_cast<std::size_t>(j)];
          write.expected_next_index = 1 + 2 * step;
          write.events = step_events(step);
          write.data_is_serialized_json = true;
          batch.writes.push_back(std::move(write));
        }
        store->commit(batch);
      }
    }
  }
  auto store = SqliteStore::open((dir / "load.db").string());
  std::int64_t events = 0;
  int next = 0;
  for (auto _ : state) {
    std::vector<Event> journal = store->load_events(fmt::format("load-{:04}", next), 0);
    events += static_cast<std::int64_t>(journal.size());
    next = (next + 1) % kJournals;
    benchmark::DoNotOptimize(journal.data());
  }
  if (events != static_cast<std::int64_t>(state.iterations()) * (1 + 2 * kSteps))
    state.SkipWithError("a journal did not load whole");
  state.counters["events_per_sec"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  store.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
}
BENCHMARK(BM_LoadJournalSqlite)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

// --- Sleep ------------------------------------------------------------------------------------

const Workflow<int(int)> kSleeper{"sleeper", [](WorkflowContext& ctx, int) -> Task<int> {
                                    for (;;) co_await ctx.sleep("nap", 1s);
                                  }};

// One iteration: advance the clock past the due time; the scheduler fires the timer, journals
// timer_fired (commit), resumes the coroutine, which schedules the next sleep (timer_scheduled,
// commit) and suspends. Arg: sleeps taken before measuring (history length = 2 events each).
void BM_SleepResume(benchmark::State& state) {
  ManualClock clock;
  auto store = MemoryStore::create();
  Engine engine(store, manual_options(clock));
  engine.add(kSleeper);
  std::string id = engine.start(kSleeper, 0).id();
  engine.wait_idle();
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    clock.advance(1s);
    engine.wait_idle();
  }
  for (auto _ : state) {
    clock.advance(1s);
    engine.wait_idle();
  }
  state.counters["history_events"] = static_cast<double>(store->get_execution(id)->next_index);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SleepResume)->Arg(0)->Arg(10000)->Unit(benchmark::kMicrosecond)->UseRealTime();

// --- Deferred ---------------------------------------------------------------------------------

// The workflow awaits deferreds "d0", "d1", ... in turn and publishes the next token before each
// wait; the benchmark resolves it. A deferred resolves once per execution, hence the names.
std::mutex g_token_mutex;
std::string g_token;
const Workflow<int(int)> kAwaiter{"awaiter", [](WorkflowContext& ctx, int) -> Task<int> {
                                    int sum = 0;
                                    for (int i = 0;; ++i) {
                                      DurableDeferred<int> d{fmt::format("d{}", i)};
                                      {
                                        std::lock_guard lock(g_token_mutex);
                                        g_token = ctx.token(d);
                                      }
                                      sum += co_await ctx.await(d);
                                    }
                                  }};

// One iteration: Engine::resolve (token check, store write with its runnable mark, poke), the
// scheduler reads the resolution, journals deferred_resolved (commit), resumes the coroutine,
// which makes the next token and awaits (deferred_awaited, commit).
void BM_DeferredResolve(benchmark::State& state) {
  ManualClock clock;
  auto store = MemoryStore::create();
  Engine engine(store, manual_options(clock));
  engine.add(kAwaiter);
  engine.start(kAwaiter, 0);
  engine.wait_idle();
  for (auto _ : state) {
    std::string token;
    {
      std::lock_guard lock(g_token_mutex);
      token = g_token;
    }
    if (engine.resolve(token, Json(1)) != ResolveOutcome::kResolved) {
      state.SkipWithError("not resolved");
      break;
    }
    engine.wait_idle();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeferredResolve)->Unit(benchmark::kMicrosecond)->UseRealTime();

// --- Event data encode/decode -----------------------------------------------------------------

struct Order {
  std::string id;
  std::string customer;
  int quantity = 0;
  double amount = 0;
  std::vector<std::string> tags;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, id, customer, quantity, amount, tags)

Order sample_order() {
  return Order{.id = "ord-7f3a9c21",
               .customer = "cust-00042",
               .quantity = 3,
               .amount = 129.95,
               .tags = {"priority", "gift"}};
}

// As ExecutionCore::start_attempt and complete_op build them, and as append() dumps them.
std::string encode_started(const Order& o) {
  Json data{{"attempt", 1}};
  data["input"] = Json::array({encode<Order>(o)});
  return data.dump();
}
std::string encode_completed(const Order& o) {
  return Json{{"value", encode<Order>(o)}}.dump();
}

void BM_EncodeActivityStarted(benchmark::State& state) {
  Order o = sample_order();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string s = encode_started(o);
    bytes += s.size();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_EncodeActivityStarted);

void BM_EncodeActivityCompleted(benchmark::State& state) {
  Order o = sample_order();
  for (auto _ : state) benchmark::DoNotOptimize(encode_completed(o));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeActivityCompleted);

// As ExecutionCore::load and Op::take read them back: parse, pick the field, decode the type.
void BM_DecodeActivityCompleted(benchmark::State& state) {
  std::string text = encode_completed(sample_order());
  for (auto _ : state) {
    Json data = Json::parse(text);
    Order o = decode<Order>(data.at("value"), "bench");
    benchmark::DoNotOptimize(o);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_DecodeActivityCompleted);

// The small events of a trivial step (int in, int out): the common case in bench_throughput.
void BM_EncodeDecodeIntStep(benchmark::State& state) {
  for (auto _ : state) {
    std::string started = Json{{"attempt", 1}, {"input", Json::array({7})}}.dump();
    std::string completed = Json{{"value", 8}}.dump();
    Json a = Json::parse(started);
    Json b = Json::parse(completed);
    benchmark::DoNotOptimize(a.at("attempt").get<int>() + b.at("value").get<int>());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeDecodeIntStep);

}  // namespace
}  // namespace durable::bench

BENCHMARK_MAIN();
