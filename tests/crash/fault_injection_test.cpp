// Fault injection: a store that fails commits (I/O error, busy, disk full) or loses power at any
// commit, and a SQLite journal with a damaged event row. The engine retries with backoff, reports
// each fault, shows workflow code no result before it is durable, never corrupts the journal,
// continues when the fault clears, and a new engine finishes whatever a power cut interrupted.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "contract/store_fixtures.hpp"
#include "crash/faulty_store.hpp"
#include "crash/journal_checks.hpp"
#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

namespace durable::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxAttempts = 6;
constexpr auto kBound = 20s;  // upper bound of every wait; reached only when something is broken

// Real runs of activities, by (execution, op): which attempts actually ran.
class RunLog {
 public:
  void record(const ActivityContext& ctx) {
    std::string key = ctx.idempotency_key();
    int op = std::stoi(key.substr(key.rfind('/') + 1));
    std::lock_guard lock(mutex_);
    runs_[{ctx.execution_id(), op}].push_back(ctx.attempt());
  }
  std::map<std::pair<std::string, int>, std::vector<int>> runs() {
    std::lock_guard lock(mutex_);
    return runs_;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::vector<int>> runs_;
};

std::int64_t expected_order_result(std::int64_t n, std::int64_t salt) {
  std::int64_t a = 2 * n;
  std::int64_t b = n + 100;
  std::int64_t c = 2 * (a + b + salt);
  return a + b + c;
}

// An order: an activity that fails its first attempt, a side effect, a notification that (like
// a reviewer answering at once) resolves a deferred through a second, never-started engine on the
// underlying store, a durable sleep, the wait for that deferred, and a second flaky activity.
class FaultTest : public ::testing::Test {
 protected:
  EngineOptions options() {
    EngineOptions o;
    o.activity_threads = 2;
    o.store_poll_interval = 5ms;
    o.on_fault = [this](const std::string& m) {
      std::lock_guard lock(faults_mutex_);
      faults_.push_back(m);
    };
    return o;
  }

  std::unique_ptr<Engine> boot(std::shared_ptr<JournalStore> store) {
    auto engine = std::make_unique<Engine>(std::move(store), options());
    engine->add(order_);
    engine->add(approval_);
    engine->start();
    return engine;
  }

  std::vector<std::string> faults() {
    std::lock_guard lock(faults_mutex_);
    return faults_;
  }

  // The journal of `id` is sound and every real run of an activity is accounted for by a journaled
  // attempt start, at most once per attempt, and within the retry policy.
  void expect_sound(JournalStore& store, const std::string& id) {
    auto record = store.get_execution(id);
    ASSERT_TRUE(record);
    auto events = store.load_events(id, 0);
    JournalSummary summary =
        check_journal(id, events, record->next_index, is_final(record->status));
    for (const auto& v : summary.violations) ADD_FAILURE() << v;
    auto runs = runs_.runs();
    for (const auto& [key, attempts] : runs) {
      if (key.first != id) continue;
      const ActivityOpSummary& op = summary.activities[key.second];
      std::set<int> started(op.attempts_started.begin(), op.attempts_started.end());
      std::set<int> ran(attempts.begin(), attempts.end());
      EXPECT_EQ(ran.size(), attempts.size())
          << id << " op " << key.second << ": an attempt ran twice";
      EXPECT_LE(attempts.size(), op.attempts_started.size()) << id << " op " << key.second;
      EXPECT_LE(static_cast<int>(attempts.size()), kMaxAttempts) << id << " op " << key.second;
      for (int a : attempts) {
        EXPECT_TRUE(started.contains(a))
            << id << " op " << key.second << ": attempt " << a << " ran but was never journaled";
      }
    }
    for (const auto& [op, summary_op] : summary.activities) {
      EXPECT_EQ(summary_op.completed + summary_op.failed, is_final(record->status) ? 1 : 0)
          << id << " op " << op;
    }
  }

  // The salt the workflow drew: what ctx.random() journaled, reduced as the workflow does.
  std::int64_t salt_of(JournalStore& store, const std::string& id) {
    for (const Event& e : store.load_events(id, 0)) {
      if (e.type == EventType::kSideEffect) {
        return static_cast<std::int64_t>(Json::parse(e.data).at("value").get<std::uint64_t>() %
                                         1000);
      }
    }
    ADD_FAILURE() << id << " has no side effect";
    return -1;
  }

  void expect_completed(JournalStore& store, const std::string& id, std::int64_t n) {
    auto record = store.get_execution(id);
    ASSERT_TRUE(record) << id;
    ASSERT_EQ(record->status, ExecutionStatus::kCompleted) << id << ": " << record->error;
    EXPECT_EQ(Json::parse(record->result).get<std::int64_t>(),
              expected_order_result(n, salt_of(store, id)))
        << id;
  }

  // A fresh disk, its faulty wrapper and its resolver. Engines on the old ones must be gone.
  void new_disk() {
    resolver_.reset();
    disk_ = MemoryStore::create();
    faulty_ = FaultyStore::wrap(disk_);
    resolver_ = std::make_unique<Engine>(disk_);
  }

  RunLog runs_;
  std::shared_ptr<MemoryStore> disk_ = MemoryStore::create();
  std::shared_ptr<FaultyStore> faulty_ = FaultyStore::wrap(disk_);
  // Another process sharing the store: it resolves deferreds on the disk, not through the
  // faulty wrapper of the engine under test.
  std::unique_ptr<Engine> resolver_ = std::make_unique<Engine>(disk_);

  const DurableDeferred<std::int64_t> approval_{"approval"};
  const Activity<std::int64_t(std::int64_t)> flaky_double_{
      "flaky_double",
      [this](ActivityContext& ctx, std::int64_t x) -> std::int64_t {
        runs_.record(ctx);
        if (ctx.attempt() == 1) throw std::runtime_error("first attempts always fail");
        return 2 * x;
      },
      {.retry = {.max_attempts = kMaxAttempts, .initial_backoff = 1ms, .multiplier = 2.0}}};
  const Activity<void(std::int64_t, std::string)> notify_{
      "notify",
      [this](ActivityContext& ctx, std::int64_t n, std::string token) {
        runs_.record(ctx);
        resolver_->resolve(approval_, token, n + 100);
      },
      {.retry = {.max_attempts = kMaxAttempts, .initial_backoff = 1ms}}};
  const Workflow<std::int64_t(std::int64_t)> order_{
      "order",
      [this](WorkflowContext& ctx, std::int64_t n) -> Task<std::int64_t> {
        std::int64_t a = co_await ctx.run(flaky_double_, n);
        auto salt = static_cast<std::int64_t>(ctx.random() % 1000);
        co_await ctx.run(notify_, n, ctx.token(approval_));
        co_await ctx.sleep("cool-down", 2ms);
        std::int64_t b = co_await ctx.await(approval_);
        std::int64_t c = co_await ctx.run(flaky_double_, a + b + salt);
        co_return a + b + c;
      },
      {.idempotency_key = [](const std::int64_t& n) { return "order-" + std::to_string(n); }}};

  std::mutex faults_mutex_;
  std::vector<std::string> faults_;
};

TEST_F(FaultTest, FailedCommitsAreRetriedWithGrowingBackoffAndReportedUntilTheFaultClears) {
  auto engine = boot(faulty_);
  constexpr int kFailures = 4;
  faulty_->fail_next_commits(kFailures, Fault::kBusy);
  auto h = engine->start(order_, std::int64_t{1});  // its creation is the first commit to fail
  std::int64_t result = h.get();
  expect_completed(*disk_, h.id(), 1);
  EXPECT_EQ(result, expected_order_result(1, salt_of(*disk_, h.id())));

  EXPECT_EQ(faulty_->commits_failed(), kFailures);
  EXPECT_EQ(engine->stats().store_faults, static_cast<std::uint64_t>(kFailures));
  int reported = 0;
  for (const auto& f : faults()) {
    if (f.find("journal commit failed") == std::string::npos) continue;
    ++reported;
    EXPECT_NE(f.find("database is locked"), std::string::npos) << f;
    EXPECT_NE(f.find("will retry"), std::string::npos) << f;
  }
  EXPECT_EQ(reported, kFailures);
  // The wait after the i-th consecutive failure is at least 10 ms * 2^i.
  auto times = faulty_->failure_times();
  ASSERT_EQ(times.size(), static_cast<std::size_t>(kFailures));
  for (std::size_t i = 1; i < times.size(); ++i) {
    EXPECT_GE(times[i] - times[i - 1], std::chrono::milliseconds(10 << i)) << "after failure " << i;
  }
  expect_sound(*disk_, h.id());
}

TEST_F(FaultTest, WorkflowCodeSeesAStepResultOnlyAfterItsCommitSucceeded) {
  std::atomic<bool> seen{false};
  const Activity<int()> fill_disk{"fill_disk", [&] {
                                    faulty_->fail_commits(Fault::kDiskFull);  // before returning
                                    return 42;
                                  }};
  const Workflow<int(int)> wf{"see", [&](WorkflowContext& ctx, int) -> Task<int> {
                                int v = co_await ctx.run(fill_disk);
                                seen = true;
                                co_return v;
                              }};
  auto engine = boot(faulty_);
  auto h = engine->start(wf, 0);
  ASSERT_TRUE(faulty_->wait_for_failed_commits(3, kBound));
  EXPECT_FALSE(seen.load()) << "workflow code saw a result whose commit failed";
  for (const Event& e : disk_->load_events(h.id(), 0)) {
    EXPECT_NE(e.type, EventType::kActivityCompleted) << "a failed commit reached the store";
  }
  EXPECT_EQ(h.status(), ExecutionStatus::kRunning);

  faulty_->clear_faults();
  EXPECT_EQ(h.get(), 42);
  EXPECT_TRUE(seen.load());
  int completions = 0;
  for (const Event& e : disk_->load_events(h.id(), 0)) {
    completions += e.type == EventType::kActivityCompleted;
  }
  EXPECT_EQ(completions, 1);
  for (const auto& f : faults()) {
    if (f.find("journal commit failed") != std::string::npos) {
      EXPECT_NE(f.find("database or disk is full"), std::string::npos) << f;
    }
  }
}

TEST_F(FaultTest, AnExecutionAnotherWriterCreatesFirstRunsAsTheyCreatedItNotAsWeWould) {
  // The engine runs a new execution's first code in the round that creates it. Here another
  // process creates the same id (same key, other input) between the engine's look at the store
  // and its commit: the engine's early run must not reach that execution's journal.
  std::mutex mutex;
  std::vector<int> inputs_run;
  const Activity<int(int)> record{"record", [&](int n) {
                                    std::lock_guard lock(mutex);
                                    inputs_run.push_back(n);
                                    return n * 10;
                                  }};
  const Workflow<int(int)> wf{"keyed", [&](WorkflowContext& ctx, int n) -> Task<int> {
                                co_return co_await ctx.run(record, n);
                              }};
  auto engine = boot(faulty_);
  engine->add(wf);
  std::string id;
  faulty_->before_next_commit([&](JournalStore& disk, const CommitBatch& batch) {
    ASSERT_EQ(batch.creates.size(), 1u);
    id = batch.creates[0].id;
    disk.commit(creates({new_execution(id, "keyed", "7")}));
  });
  StartOptions keyed;
  keyed.idempotency_key = "shared-key";
  auto h = engine->start(wf, 3, keyed);
  ASSERT_EQ(h.id(), id);
  EXPECT_EQ(h.get(), 70) << "the execution did not run with the input its creator gave it";
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(inputs_run, std::vector<int>{7}) << "an activity ran for the create that lost";
  }
  EXPECT_EQ(disk_->get_execution(id)->input, "7");
  expect_sound(*disk_, id);
}

TEST_F(FaultTest, IntermittentIoBusyAndDiskFullFaultsNeverCorruptTheJournal) {
  constexpr std::uint64_t kSeed = 20240611;
  constexpr int kExecutions = 16;
  auto engine = boot(faulty_);
  faulty_->fail_commits_randomly(0.3, kSeed);
  std::vector<ExecutionHandle<std::int64_t>> handles;
  for (int n = 0; n < kExecutions; ++n) handles.push_back(engine->start(order_, std::int64_t{n}));
  for (int n = 0; n < kExecutions; ++n) {
    auto record = engine->wait(handles[n].id(), kBound);
    ASSERT_TRUE(record) << handles[n].id() << " did not finish";
    expect_completed(*disk_, handles[n].id(), n);
    expect_sound(*disk_, handles[n].id());
  }
  engine->wait_idle();
  int failed = faulty_->commits_failed();
  EXPECT_GT(failed, 3) << "the fault schedule hardly ever fired";
  EXPECT_EQ(engine->stats().store_faults, static_cast<std::uint64_t>(failed));
  std::set<std::string> kinds;
  int reported = 0;
  for (const auto& f : faults()) {
    if (f.find("journal commit failed") == std::string::npos) continue;
    ++reported;
    for (Fault k : {Fault::kIoError, Fault::kBusy, Fault::kDiskFull}) {
      if (f.find(fault_message(k)) != std::string::npos) kinds.insert(fault_message(k));
    }
  }
  EXPECT_EQ(reported, failed);
  EXPECT_EQ(kinds.size(), 3u);
}

// Power loss at commit k, for every k a run reaches: the engine dies with the machine, and a new
// engine on what reached the disk finishes every execution with the right result.
class PowerLossTest : public FaultTest, public ::testing::WithParamInterface<PowerCut> {};

TEST_P(PowerLossTest, PowerLossAtAnyCommitLeavesAJournalFromWhichANewEngineFinishesEverything) {
  constexpr int kExecutions = 3;
  int trials_with_cut = 0;
  for (int k = 1;; ++k) {
    SCOPED_TRACE("power cut at commit " + std::to_string(k));
    new_disk();
    // The executions were created by an earlier process; this one recovers and runs them.
    std::vector<std::string> ids;
    CommitBatch creates;
    for (int n = 0; n < kExecutions; ++n) {
      ids.push_back("order-" + std::to_string(k) + "-" + std::to_string(n));
      creates.creates.push_back(NewExecution{.id = ids.back(),
                                             .workflow = "order",
                                             .input = std::to_string(n),
                                             .created_at = SystemClock::instance().now()});
    }
    disk_->commit(creates);
    faulty_->cut_power_at_commit(k, GetParam());

    auto first = boot(faulty_);
    auto all_final = [&] {
      for (const auto& id : ids) {
        if (!is_final(disk_->get_execution(id)->status)) return false;
      }
      return true;
    };
    auto deadline = std::chrono::steady_clock::now() + kBound;
    bool cut = false;
    while (!(cut = faulty_->wait_for_power_cut(2ms)) && !all_final()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the first engine got stuck";
    }
    first.reset();  // the process dies with the machine

    auto second = boot(disk_);
    for (int n = 0; n < kExecutions; ++n) {
      ASSERT_TRUE(second->wait(ids[n], kBound)) << ids[n] << " did not finish after the cut";
      expect_completed(*disk_, ids[n], n);
      expect_sound(*disk_, ids[n]);
    }
    second.reset();
    if (!cut) break;  // the run finished before commit k: every commit point has been cut
    ++trials_with_cut;
  }
  EXPECT_GT(trials_with_cut, 5);
  std::printf("power cut at each of %d commit points\n", trials_with_cut);
}

TEST_P(PowerLossTest, PowerLossWhileCreatingAnExecutionLeavesItAbsentOrStartableOnce) {
  faulty_->cut_power_at_commit(1, GetParam());
  auto first = boot(faulty_);
  auto starting = std::async(std::launch::async, [&] {
    try {
      (void)first->start(order_, std::int64_t{7});
    } catch (const DurableError&) {
      // The engine died before the creation was acknowledged: the caller must start again.
    }
  });
  ASSERT_TRUE(faulty_->wait_for_power_cut(kBound));
  first.reset();
  ASSERT_EQ(starting.wait_for(kBound), std::future_status::ready);

  auto second = boot(disk_);
  auto h = second->start(order_, std::int64_t{7});  // the client retries with the same key
  ASSERT_TRUE(second->wait(h.id(), kBound));
  expect_completed(*disk_, h.id(), 7);
  expect_sound(*disk_, h.id());
  EXPECT_EQ(disk_->list_executions({}).executions.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(BeforeOrAfterTheCommitReachesTheDisk, PowerLossTest,
                         ::testing::Values(PowerCut::kBeforeCommit, PowerCut::kAfterCommit),
                         [](const auto& info) {
                           return info.param == PowerCut::kBeforeCommit ? "Before" : "After";
                         });

// How an event row of a real SQLite journal is damaged, and the SQL that does it to event 1
// (the first activity_started) of execution ?1.
struct Damage {
  const char* name;
  const char* sql;
};

class CorruptJournalTest : public FaultTest, public ::testing::WithParamInterface<Damage> {
 protected:
  // Waits for outside input after one activity; the input is resolved by the test.
  std::mutex tokens_mutex_;
  std::map<std::string, std::string> tokens_;
  const DurableDeferred<std::int64_t> hold_{"hold"};
  const Activity<void(std::string, std::string)> publish_{
      "publish", [this](std::string id, std::string token) {
        std::lock_guard lock(tokens_mutex_);
        tokens_[id] = token;
      }};
  const Workflow<std::int64_t(std::int64_t)> held_{
      "held",
      [this](WorkflowContext& ctx, std::int64_t n) -> Task<std::int64_t> {
        std::int64_t a = co_await ctx.run(flaky_double_, n);
        co_await ctx.run(publish_, ctx.execution_id(), ctx.token(hold_));
        co_return a + co_await ctx.await(hold_);
      },
      {.idempotency_key = [](const std::int64_t& n) { return "held-" + std::to_string(n); }}};

  std::unique_ptr<Engine> boot_held(std::shared_ptr<JournalStore> store) {
    auto engine = std::make_unique<Engine>(std::move(store), options());
    engine->add(held_);
    engine->add(hold_);
    engine->start();
    return engine;
  }
};

TEST_P(CorruptJournalTest, ADamagedEventRowParksItsExecutionNamingTheIndexAndOthersFinish) {
  constexpr int kExecutions = 3;
  TempDir dir;
  std::string original = dir.file("original.db");
  std::string copy = dir.file("copy.db");
  std::vector<std::string> ids;
  {
    auto engine = boot_held(SqliteStore::open(original));
    for (int n = 0; n < kExecutions; ++n) ids.push_back(engine->start(held_, std::int64_t{n}).id());
    // Idle is not enough: an execution waiting for the retry of its activity is idle too.
    auto deadline = std::chrono::steady_clock::now() + kBound;
    for (const auto& id : ids) {
      while (engine->describe(id)->waiting_on != "deferred 'hold'") {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << id << " never waited for 'hold'";
        std::this_thread::sleep_for(1ms);
      }
    }
  }  // the engine and its store are closed: the file is a complete journal
  std::filesystem::copy_file(original, copy);
  if (std::filesystem::exists(original + "-wal")) {
    std::filesystem::copy_file(original + "-wal", copy + "-wal");
  }
  const std::string victim = ids[1];
  {
    SQLite::Database db(copy, SQLite::OPEN_READWRITE);
    SQLite::Statement damage(db, GetParam().sql);
    damage.bind(1, victim);
    ASSERT_EQ(damage.exec(), 1) << "the damage touched no row";
  }

  auto engine = boot_held(SqliteStore::open(copy));
  auto parked = engine->wait(victim, kBound);
  ASSERT_TRUE(parked);
  EXPECT_EQ(parked->status, ExecutionStatus::kNeedsAttention);
  std::string message = Json::parse(parked->error).value("message", "");
  EXPECT_NE(message.find(victim), std::string::npos) << message;
  EXPECT_TRUE(std::regex_search(message, std::regex("event 1\\b"))) << message;
  bool reported = false;
  for (const auto& f : faults()) reported = reported || f.find(victim) != std::string::npos;
  EXPECT_TRUE(reported) << "the damaged journal was not reported through on_fault";

  std::map<std::string, std::string> tokens;
  {
    std::lock_guard lock(tokens_mutex_);
    tokens = tokens_;
  }
  for (int n = 0; n < kExecutions; ++n) {
    if (ids[n] == victim) continue;
    EXPECT_EQ(engine->resolve(hold_, tokens.at(ids[n]), std::int64_t{1000}),
              ResolveOutcome::kResolved);
    EXPECT_EQ(engine->handle<std::int64_t>(ids[n]).get(), 2 * n + 1000) << ids[n];
  }
  EXPECT_EQ(engine->describe(victim)->status, ExecutionStatus::kNeedsAttention);
}

INSTANTIATE_TEST_SUITE_P(
    Damages, CorruptJournalTest,
    ::testing::Values(Damage{"DataIsNotJson",
                             "UPDATE events SET data = '{\"attempt\": 1' WHERE segment IN (SELECT "
                             "segment FROM journal_segments JOIN executions USING (journal)"
                             " WHERE id = ?) AND idx = 1"},
                      Damage{"DataHasTheWrongShape",
                             "UPDATE events SET data = '{\"attempt\": \"one\"}' "
                             "WHERE segment IN (SELECT segment FROM journal_segments JOIN "
                             "executions USING (journal) WHERE id = ?) AND idx = 1"},
                      Damage{"UnknownEventType",
                             "UPDATE events SET type = 99 WHERE segment IN (SELECT segment FROM "
                             "journal_segments JOIN executions USING (journal) WHERE "
                             "id = ?) AND idx = 1"},
                      Damage{"EventMissing",
                             "DELETE FROM events WHERE segment IN (SELECT segment FROM "
                             "journal_segments JOIN executions USING (journal) WHERE id = ?) "
                             "AND idx = 1"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace durable::testing
