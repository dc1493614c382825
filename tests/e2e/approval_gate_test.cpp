// examples/approval_gate end to end: the real executable, as separate processes on a temporary
// SQLite database. `run` waits for a decision that `approve` / `reject` record from another
// process; a SIGKILLed `run` started again continues where it was.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "durable/sqlite_store.hpp"
#include "e2e/child_process.hpp"

namespace durable {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

// Generous: the tests also run under sanitizers on a loaded CI machine.
constexpr std::chrono::milliseconds kBound = 60s;

struct Finished {
  int status = -1;
  std::string out, err;
};

class ApprovalGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "approval_gate.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = (dir_ / "gate.db").string();
    effects_ = (dir_ / "effects.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ChildProcess> spawn(std::vector<std::string> args) {
    args.insert(args.begin(), APPROVAL_GATE_BIN);
    return std::make_unique<ChildProcess>(
        std::move(args), std::vector<std::string>{"APPROVAL_GATE_EFFECTS_LOG=" + effects_});
  }
  std::unique_ptr<ChildProcess> start_run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run", "--db", db_, "--task", kTask, "--cool-down", "300ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn(std::move(args));
  }
  Finished finish(ChildProcess& child) {
    auto status = child.wait_exit(kBound);
    EXPECT_TRUE(status.has_value()) << "still running after " << kBound.count() << " ms:\n"
                                    << child.out() << child.err();
    return {status.value_or(-1), child.out(), child.err()};
  }
  Finished run_to_end(std::vector<std::string> args) { return finish(*spawn(std::move(args))); }
  Finished decide(const std::string& verb, const std::string& token, const std::string& reason) {
    return run_to_end({verb, "--db", db_, token, "--reason", reason});
  }

  static std::string token_of(ChildProcess& run) {
    auto token = run.wait_for_line("approval token: ", kBound);
    EXPECT_TRUE(token.has_value()) << "no token line:\n" << run.out() << run.err();
    return token.value_or("");
  }
  static std::string execution_id_of(ChildProcess& run) {
    auto line = run.wait_for_line("execution: ", kBound).value_or("");
    return line.substr(0, line.find(' '));
  }
  // The report block: from "report: " to the end of the output.
  static std::string report_of(const std::string& out) {
    auto at = out.find("report: ");
    return at == std::string::npos ? "" : out.substr(at);
  }
  // How many times each step ran, from the side-effect log the example keeps for tests.
  std::map<std::string, int> effects() {
    std::map<std::string, int> counts;
    std::ifstream in(effects_);
    for (std::string line; std::getline(in, line);) ++counts[line];
    return counts;
  }
  // How many attempts of each activity the journal holds.
  std::map<std::string, int> journaled_attempts(const std::string& id) {
    std::map<std::string, int> counts;
    for (const Event& e : SqliteStore::open(db_)->load_events(id, 0)) {
      if (e.type == EventType::kActivityStarted) ++counts[e.name];
    }
    return counts;
  }

  static inline const std::string kTask = "rename the --verbose flag to --log-level";
  std::filesystem::path dir_;
  std::string db_, effects_;
};

TEST_F(ApprovalGateTest, ApprovalFromASecondProcessCarriesOutThePlan) {
  auto run = start_run();
  std::string token = token_of(*run);
  ASSERT_TRUE(run->wait_for_line("waiting for approval", kBound));

  Finished approve = decide("approve", token, "looks good");
  EXPECT_EQ(approve.status, 0) << approve.err;
  EXPECT_NE(approve.out.find("resolved"), std::string::npos) << approve.out;

  Finished done = finish(*run);
  EXPECT_EQ(done.status, 0) << done.err;
  EXPECT_NE(done.out.find("transport: offline"), std::string::npos) << done.out;
  std::string report = report_of(done.out);
  EXPECT_EQ(report.rfind("report: approved and carried out", 0), 0u) << done.out;
  EXPECT_NE(report.find("reason: looks good"), std::string::npos) << report;
  EXPECT_NE(report.find("[offline] carried out"), std::string::npos) << report;
  EXPECT_EQ(effects(),
            (std::map<std::string, int>{{"plan", 1}, {"publish_token", 1}, {"carry_out", 1}}));
}

TEST_F(ApprovalGateTest, RejectionWithdrawsThePlanAndReportsTheReason) {
  auto run = start_run();
  Finished reject = decide("reject", token_of(*run), "too risky");
  EXPECT_EQ(reject.status, 0) << reject.err;

  Finished done = finish(*run);
  EXPECT_EQ(done.status, 0) << done.err;
  std::string report = report_of(done.out);
  EXPECT_EQ(report.rfind("report: rejected (too risky)", 0), 0u) << done.out;
  EXPECT_NE(report.find("compensation ran"), std::string::npos) << report;
  EXPECT_EQ(effects(),
            (std::map<std::string, int>{{"plan", 1}, {"publish_token", 1}, {"withdraw_plan", 1}}));
}

TEST_F(ApprovalGateTest, NoDecisionBeforeTheTimeoutWithdrawsThePlan) {
  auto run = start_run({"--approval-timeout", "1s"});
  std::string token = token_of(*run);
  Finished done = finish(*run);
  EXPECT_EQ(done.status, 0) << done.err;
  std::string report = report_of(done.out);
  EXPECT_EQ(report.rfind("report: timed out (no decision within 1s)", 0), 0u) << done.out;
  EXPECT_NE(report.find("compensation ran"), std::string::npos) << report;
  EXPECT_EQ(effects()["withdraw_plan"], 1);
  EXPECT_EQ(effects().count("carry_out"), 0u);

  Finished late = decide("approve", token, "too late");
  EXPECT_EQ(late.status, 3) << late.out << late.err;
}

TEST_F(ApprovalGateTest, ARunKilledWhileWaitingContinuesAfterARestartAndRunsEachStepOnce) {
  auto first = start_run();
  std::string token = token_of(*first);
  std::string id = execution_id_of(*first);
  ASSERT_TRUE(first->wait_for_line("waiting for approval", kBound));
  first->kill_hard();
  EXPECT_EQ(finish(*first).status, 128 + SIGKILL);

  auto second = start_run();
  auto attached = second->wait_for_line("execution: ", kBound);
  ASSERT_TRUE(attached.has_value()) << second->out() << second->err();
  EXPECT_NE(attached->find("re-attached"), std::string::npos) << *attached;
  EXPECT_EQ(token_of(*second), token) << "the restarted run shows the same token";

  EXPECT_EQ(decide("approve", token, "after the restart").status, 0);
  Finished done = finish(*second);
  EXPECT_EQ(done.status, 0) << done.err;
  EXPECT_EQ(report_of(done.out).rfind("report: approved and carried out", 0), 0u) << done.out;

  const std::map<std::string, int> once{{"plan", 1}, {"publish_token", 1}, {"carry_out", 1}};
  EXPECT_EQ(effects(), once);
  EXPECT_EQ(journaled_attempts(id), once);

  // Started again after the end, `run` only reports, and the report is the same.
  Finished again = run_to_end({"run", "--db", db_, "--task", kTask});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(report_of(again.out), report_of(done.out));
  EXPECT_EQ(effects(), once);
}

TEST_F(ApprovalGateTest, ADecisionRecordedWhileNothingRunsIsPickedUpByTheNextRun) {
  auto first = start_run();
  std::string token = token_of(*first);
  ASSERT_TRUE(first->wait_for_line("waiting for approval", kBound));
  first->kill_hard();
  finish(*first);

  Finished reject = decide("reject", token, "not now");
  EXPECT_EQ(reject.status, 0) << reject.err;
  Finished twice = decide("approve", token, "changed my mind");
  EXPECT_EQ(twice.status, 3);
  EXPECT_NE(twice.out.find("already resolved"), std::string::npos) << twice.out;

  Finished done = finish(*start_run());
  EXPECT_EQ(done.status, 0) << done.err;
  EXPECT_EQ(report_of(done.out).rfind("report: rejected (not now)", 0), 0u) << done.out;
}

TEST_F(ApprovalGateTest, ABadTokenIsRefusedWithOneLineAndChangesNothing) {
  auto run = start_run();
  std::string token = token_of(*run);
  std::string id = execution_id_of(*run);
  ASSERT_TRUE(run->wait_for_line("waiting for approval", kBound));
  const auto before = SqliteStore::open(db_)->load_events(id, 0).size();

  std::string altered = token;
  altered[altered.size() - 3] = altered[altered.size() - 3] == 'A' ? 'B' : 'A';
  for (const std::string& bad : {altered, std::string("not-a-token")}) {
    Finished refused = decide("approve", bad, "sneaky");
    EXPECT_EQ(refused.status, 1) << bad;
    EXPECT_EQ(refused.out, "");
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_NE(refused.err.find("invalid token"), std::string::npos) << refused.err;
  }
  auto store = SqliteStore::open(db_);
  EXPECT_EQ(store->load_events(id, 0).size(), before);
  EXPECT_FALSE(store->get_deferred(id, "approval").has_value());
  EXPECT_EQ(store->get_execution(id)->status, ExecutionStatus::kWaiting);
}

TEST_F(ApprovalGateTest, ADecisionForAMissingDatabaseFailsWithOneLineAndCreatesNothing) {
  std::string missing = (dir_ / "nope.db").string();
  Finished refused = run_to_end({"approve", "--db", missing, "dt1.whatever"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_NE(refused.err.find("no database"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(ApprovalGateTest, AnUnknownOptionIsAUsageError) {
  Finished unknown = run_to_end({"run", "--db", db_, "--task", kTask, "--frobnicate", "1"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown option '--frobnicate'"), std::string::npos) << unknown.err;

  Finished no_task = run_to_end({"run", "--db", db_});
  EXPECT_EQ(no_task.status, 2);
  EXPECT_NE(no_task.err.find("--task is required"), std::string::npos) << no_task.err;

  Finished bad_duration =
      run_to_end({"run", "--db", db_, "--task", kTask, "--approval-timeout", "soon"});
  EXPECT_EQ(bad_duration.status, 2);
  EXPECT_NE(bad_duration.err.find("not a duration"), std::string::npos) << bad_duration.err;

  Finished help = run_to_end({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("exit status"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(db_)) << "usage errors touch no database";
}

TEST_F(ApprovalGateTest, ATransportThatIsNotAvailableYetIsRefusedClearly) {
  Finished messages = run_to_end({"run", "--db", db_, "--task", kTask, "--transport", "messages"});
  EXPECT_EQ(messages.status, 2);
  EXPECT_NE(messages.err.find("not available yet"), std::string::npos) << messages.err;
  EXPECT_FALSE(std::filesystem::exists(db_));
}

}  // namespace
}  // namespace durable
