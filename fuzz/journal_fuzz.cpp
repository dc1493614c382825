// libFuzzer target for replay: the input becomes the journal of one execution in a MemoryStore,
// as a damaged or hand-edited file could hold it, and an engine loads it and runs it on. The
// workflow uses an activity, a sleep, a side effect and a deferred, so most event kinds have an
// operation to meet. Properties:
//  - nothing crashes (ASan, UBSan), whatever the events say;
//  - the engine settles (wait_idle returns) and ends up with the execution in a status;
//  - the store accepts what the engine writes (a refused commit would be reported as a fault).
//
// Input: events one after another, each `type op name-index length data...` (one byte each, the
// data `length` bytes; data that is not JSON becomes `{}`). Types index the known event types;
// names index a few the workflow uses.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "durable/durable.hpp"

namespace {

using namespace std::chrono_literals;
using durable::EventType;

constexpr EventType kTypes[] = {EventType::kActivityStarted,
                                EventType::kActivityAttemptFailed,
                                EventType::kActivityCompleted,
                                EventType::kActivityFailed,
                                EventType::kTimerScheduled,
                                EventType::kTimerFired,
                                EventType::kDeferredAwaited,
                                EventType::kDeferredResolved,
                                EventType::kDeferredTimedOut,
                                EventType::kSideEffect,
                                EventType::kOpCancelled,
                                EventType::kCompleted,
                                EventType::kFailed,
                                EventType::kCancelled,
                                EventType::kCompensationStarted,
                                EventType::kPatchMarker,
                                EventType::kChildStarted,
                                EventType::kChildCompleted,
                                EventType::kChildFailed,
                                EventType::kQueueItemEnqueued,
                                EventType::kQueueItemCompleted,
                                EventType::kQueueItemFailed};
constexpr const char* kNames[] = {"step", "nap", "now", "go", "", "other"};

const durable::Activity<int(int)> kStep{"step", [](int x) { return x + 1; }};
const durable::DurableDeferred<int> kGo{"go"};
const durable::Workflow<int(int)> kWorkflow{
    "fuzzed", [](durable::WorkflowContext& ctx, int x) -> durable::Task<int> {
      int a = co_await ctx.run(kStep, x);
      co_await ctx.sleep("nap", 1h);
      auto t = ctx.now();
      std::optional<int> b = co_await ctx.await(kGo, 2h);
      co_return a + b.value_or(0) + static_cast<int>(t.time_since_epoch().count() % 7);
    }};

// The input's events, numbered from 1 (event 0 is the create's).
std::vector<durable::Event> events_from(std::string_view in) {
  std::vector<durable::Event> out;
  std::size_t i = 0;
  while (i + 4 <= in.size()) {
    durable::Event e;
    e.index = static_cast<std::int64_t>(out.size()) + 1;
    e.type = kTypes[static_cast<unsigned char>(in[i]) % std::size(kTypes)];
    e.op = static_cast<std::int8_t>(in[i + 1]);
    e.name = kNames[static_cast<unsigned char>(in[i + 2]) % std::size(kNames)];
    std::size_t length = static_cast<unsigned char>(in[i + 3]);
    i += 4;
    e.data = std::string(in.substr(i, length));
    i += std::min(length, in.size() - i);
    // The store refuses data that is not JSON (its own fuzzing is the store contract's): keep
    // the journal replayable so that every input reaches the engine.
    if (!nlohmann::json::accept(e.data)) e.data = "{}";
    e.time = durable::TimePoint{std::chrono::milliseconds(1'700'000'000'000)};
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto store = std::make_shared<durable::MemoryStore>();
  const std::string id = "fuzzed-1";
  try {
    durable::CommitBatch batch;
    batch.creates.push_back({.id = id,
                             .workflow = "fuzzed",
                             .input = "3",
                             .created_at = durable::TimePoint{std::chrono::milliseconds(1)}});
    durable::ExecutionWrite write;
    write.execution_id = id;
    write.expected_next_index = 1;
    write.events = events_from(in);
    batch.writes.push_back(std::move(write));
    store->commit(batch);
  } catch (const durable::StoreError& e) {
    std::fprintf(stderr, "journal_fuzz: the store refused the journal: %s\n", e.what());
    std::abort();
  }

  durable::ManualClock clock(durable::TimePoint{std::chrono::milliseconds(1'700'000'000'000)});
  std::vector<std::string> faults;
  durable::EngineOptions options;
  options.clock = &clock;
  options.activity_threads = 1;
  options.on_fault = [&](const std::string& m) { faults.push_back(m); };
  {
    durable::Engine engine(store, options);
    engine.add(kWorkflow);
    engine.add(kGo);
    engine.start();
    engine.wait_idle();
    clock.advance(3h);
    engine.wait_idle();
  }
  for (const std::string& fault : faults) {
    if (fault.find("journal commit failed") != std::string::npos) {
      std::fprintf(stderr, "journal_fuzz: the store refused the engine's write: %s\n",
                   fault.c_str());
      std::abort();
    }
  }
  if (!store->get_execution(id)) std::abort();
  return 0;
}
