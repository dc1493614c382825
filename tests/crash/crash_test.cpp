// The SIGKILL crash test: a worker process (crash_worker.cpp) runs jobs with flaky activities,
// durable sleeps and a deferred on a real SQLite file; this process resolves the deferreds through
// its own connection and kills the worker with SIGKILL at random moments, restarting it each time,
// then lets it finish and checks that nothing was lost or done twice.
//
// Environment:
//  * DURABLE_CRASH_KILLS=<n>: how many kills; 100 by default (the CI size, about 15 s), a third
//    of that (at least 10) for the two-scheduler variant. The long mode is
//    DURABLE_CRASH_KILLS=5000 (about 18 minutes on 2 cores, plus a third for the variant).
//  * DURABLE_CRASH_SEED=<n>: the seed of the kill schedule, printed by every run, to replay one.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "contract/store_fixtures.hpp"
#include "crash/crash_workload.hpp"
#include "crash/journal_checks.hpp"
#include "durable/durable.hpp"
#include "durable/sqlite_store.hpp"

extern char** environ;

namespace durable::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::int64_t kJobsPerBatch = 16;
constexpr int kMinKillDelayMs = 5;    // lands in start-up and recovery
constexpr int kMaxKillDelayMs = 150;  // lands in activities, sleeps, commits, waits
constexpr auto kFinishBound = 90s;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::stoull(value) : fallback;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A worker process. The destructor kills and reaps it if it is still there, so a failing test
// leaves no process behind.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& output) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
  }
  ~Child() {
    if (pid_ > 0) kill_and_reap();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The wait status if the process has exited (and is now reaped).
  std::optional<int> try_reap() {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    pid_ = -1;
    return status;
  }
  void kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

class CrashTest : public ::testing::Test {
 protected:
  // Resolves the deferred of every execution that published its token and is not resolved yet,
  // as a second process would: through this process's own connection and an engine that never
  // runs anything.
  void resolve_published() {
    for (const auto& entry : fs::directory_iterator(dir_.path() / "tokens")) {
      std::string id = entry.path().filename().string();
      if (id.find(".tmp.") != std::string::npos || resolved_.contains(id)) continue;
      auto record = store_->get_execution(id);
      ASSERT_TRUE(record) << "a token was published for an unknown execution " << id;
      std::int64_t n = Json::parse(record->input).get<std::int64_t>();
      try {
        ResolveOutcome outcome =
            resolver_.resolve(read_file(entry.path()), Json(crash::approval_value(n)));
        ASSERT_TRUE(outcome == ResolveOutcome::kResolved ||
                    outcome == ResolveOutcome::kAlreadyResolved)
            << id << ": unexpected resolve outcome " << static_cast<int>(outcome);
        resolved_.insert(id);
      } catch (const StoreError& e) {
        ASSERT_TRUE(e.retryable()) << e.what();  // busy: try again on the next poll
      }
    }
  }

  // Polls (resolving deferreds) until the worker exits or `deadline` passes. Returns its wait
  // status if it exited.
  std::optional<int> run_until(Child& child, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      resolve_published();
      if (HasFatalFailure()) return std::nullopt;
      if (auto status = child.try_reap()) return status;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(1ms);
    }
  }

  std::unique_ptr<Child> launch(std::int64_t from, std::int64_t to) {
    ++launches_;
    return std::make_unique<Child>(
        std::vector<std::string>{DURABLE_CRASH_WORKER, db_, dir_.path().string(),
                                 std::to_string(from), std::to_string(to),
                                 std::to_string(scheduler_threads_)},
        worker_output_);
  }

  // Kills workers (each an engine with `scheduler_threads`) `kills` times at random moments,
  // then lets the last one finish, and checks every job's journal, result and real runs.
  void kill_at_random_and_check(std::uint64_t kills, int scheduler_threads);

  std::string worker_output_tail() {
    std::string out = read_file(worker_output_);
    return out.size() > 4000 ? out.substr(out.size() - 4000) : out;
  }

  TempDir dir_;
  std::string db_ = dir_.file("journal.db");
  std::string worker_output_ = dir_.file("worker.log");
  std::shared_ptr<SqliteStore> store_ = SqliteStore::open(db_);
  Engine resolver_{store_};
  std::set<std::string> resolved_;
  int launches_ = 0;
  int scheduler_threads_ = 1;
};

void CrashTest::kill_at_random_and_check(std::uint64_t kills, int scheduler_threads) {
  scheduler_threads_ = scheduler_threads;
  const std::uint64_t seed = env_or("DURABLE_CRASH_SEED", std::random_device{}());
  std::printf(
      "crash test: %llu kills, %d scheduler thread(s), seed %llu (DURABLE_CRASH_SEED=%llu "
      "replays the schedule)\n",
      static_cast<unsigned long long>(kills), scheduler_threads,
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  fs::create_directories(dir_.path() / "tokens");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> delay_ms(kMinKillDelayMs, kMaxKillDelayMs);

  // Each launch works on the current batch of jobs; a launch that finishes it unkilled moves on
  // to the next batch, so the worker always has work for the next kill to interrupt.
  std::int64_t from = 0, to = kJobsPerBatch;
  std::uint64_t killed = 0;
  while (killed < kills) {
    auto child = launch(from, to);
    auto status = run_until(
        *child, std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms(rng)));
    ASSERT_FALSE(HasFatalFailure());
    if (!status) {
      child->kill_and_reap();
      ++killed;
      continue;
    }
    ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "the worker failed (status " << *status << "):\n"
        << worker_output_tail();
    from = to;
    to += kJobsPerBatch;
  }
  {
    auto child = launch(from, to);
    auto status = run_until(*child, std::chrono::steady_clock::now() + kFinishBound);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(status) << "the last worker did not finish in time:\n" << worker_output_tail();
    ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "the worker failed (status " << *status << "):\n"
        << worker_output_tail();
  }

  // Every job completed with the right result.
  std::map<std::string, ExecutionRecord> records;
  ListQuery query;
  query.limit = 500;
  for (;;) {
    ListPage page = store_->list_executions(query);
    for (auto& r : page.executions) records[r.id] = std::move(r);
    if (page.next_page_token.empty()) break;
    query.page_token = page.next_page_token;
  }
  ASSERT_EQ(records.size(), static_cast<std::size_t>(to));
  std::set<std::int64_t> jobs;

  // Real runs, from the side-effect log: (execution, op) -> attempts that ran.
  std::map<std::pair<std::string, int>, std::vector<int>> runs;
  {
    std::istringstream log(read_file(dir_.path() / "side_effects.log"));
    std::string line;
    while (std::getline(log, line)) {
      std::istringstream fields(line);
      std::string id, activity;
      int op = -1, attempt = -1;
      ASSERT_TRUE(fields >> id >> op >> activity >> attempt) << "bad log line: " << line;
      runs[{id, op}].push_back(attempt);
    }
  }

  std::size_t started = 0, real_runs = 0, outcomes = 0;
  for (const auto& [id, record] : records) {
    std::int64_t n = Json::parse(record.input).get<std::int64_t>();
    jobs.insert(n);
    ASSERT_EQ(record.status, ExecutionStatus::kCompleted) << id << ": " << record.error;
    std::vector<Event> events = store_->load_events(id, 0);
    JournalSummary summary = check_journal(id, events, record.next_index, /*finished=*/true);
    for (const auto& v : summary.violations) ADD_FAILURE() << v;

    std::optional<std::int64_t> salt;
    for (const Event& e : events) {
      if (e.type == EventType::kSideEffect) {
        salt =
            static_cast<std::int64_t>(Json::parse(e.data).at("value").get<std::uint64_t>() % 1000);
      }
      if (e.type == EventType::kActivityAttemptFailed) ++outcomes;
    }
    ASSERT_TRUE(salt) << id;
    EXPECT_EQ(Json::parse(record.result).get<std::int64_t>(), crash::expected_result(n, *salt))
        << id;

    for (const auto& [op, activity] : summary.activities) {
      EXPECT_EQ(activity.completed, 1) << id << " op " << op << " (" << activity.name << ")";
      EXPECT_EQ(activity.failed, 0) << id << " op " << op << " (" << activity.name << ")";
      outcomes += activity.completed + activity.failed;
      started += activity.attempts_started.size();
      std::vector<int> ran = runs[{id, op}];
      real_runs += ran.size();
      std::set<int> ran_set(ran.begin(), ran.end());
      std::set<int> started_set(activity.attempts_started.begin(), activity.attempts_started.end());
      EXPECT_EQ(ran_set.size(), ran.size()) << id << " op " << op << ": an attempt ran twice";
      EXPECT_LE(ran.size(), activity.attempts_started.size()) << id << " op " << op;
      EXPECT_LE(static_cast<int>(ran.size()), crash::kMaxAttempts) << id << " op " << op;
      for (int a : ran) {
        EXPECT_TRUE(started_set.contains(a))
            << id << " op " << op << ": attempt " << a << " ran but its start was not journaled";
      }
      // The journaled result came from a real run: the last attempt started is the one that
      // completed, and it ran.
      if (activity.completed == 1) {
        EXPECT_TRUE(ran_set.contains(activity.attempts_started.back()))
            << id << " op " << op << ": completed by attempt " << activity.attempts_started.back()
            << ", which never ran";
      }
    }
  }
  for (const auto& [key, attempts] : runs) {
    EXPECT_TRUE(records.contains(key.first)) << "a run of an unknown execution " << key.first;
  }
  EXPECT_EQ(jobs.size(), static_cast<std::size_t>(to));
  EXPECT_EQ(*jobs.rbegin(), to - 1);
  std::printf(
      "%d launches, %llu killed; %lld jobs; %zu activity attempts journaled, %zu ran, %zu never "
      "ran (killed between the start commit and the run), %zu ran but their outcome was lost "
      "(killed before the outcome commit)\n",
      launches_, static_cast<unsigned long long>(killed), static_cast<long long>(to), started,
      real_runs, started - real_runs, real_runs - outcomes);
}

TEST_F(CrashTest, SigkillAtRandomMomentsNeitherLosesNorDuplicatesAnything) {
  kill_at_random_and_check(env_or("DURABLE_CRASH_KILLS", 100), 1);
}

// The same with each worker's executions spread over two schedulers: every restart recovers them
// partitioned, and the resolutions (written to the store by this process) reach their owners.
TEST_F(CrashTest, WithTwoSchedulerThreadsSigkillNeitherLosesNorDuplicatesAnything) {
  kill_at_random_and_check(std::max<std::uint64_t>(10, env_or("DURABLE_CRASH_KILLS", 100) / 3), 2);
}

}  // namespace
}  // namespace durable::testing
