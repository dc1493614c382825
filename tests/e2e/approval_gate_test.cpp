// examples/approval_gate end to end on the offline transport: the real executable, as separate
// processes on a temporary SQLite database. `run` waits for a decision that `approve` / `reject`
// record from another process; a SIGKILLed `run` started again continues where it was.
#include <algorithm>

#include "e2e/approval_gate_fixture.hpp"

namespace durable {
namespace {

using testing::ApprovalGateTest;
using testing::Finished;
using testing::kBound;

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
  // Each step shows up as it happens, in order, the Claude replies streamed under their step.
  EXPECT_TRUE(in_order(done.out, {"transport: offline (the default",
                                  "execution: ", "planning (offline", "  plan | [offline] plan",
                                  "plan drafted", "approval token: ", "waiting for approval",
                                  "approved (looks good)", "cooling down", "executing the plan",
                                  "  carry_out | [offline]", "done", "report: approved"}))
      << done.out;
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

TEST_F(ApprovalGateTest, ATransportThatCannotWorkIsRefusedBeforeAnythingIsOpened) {
  Finished no_key = run_to_end({"run", "--db", db_, "--task", kTask, "--transport", "messages"});
  EXPECT_EQ(no_key.status, 2);
  EXPECT_NE(no_key.err.find("--transport messages needs ANTHROPIC_API_KEY"), std::string::npos)
      << no_key.err;

  Finished unknown = run_to_end({"run", "--db", db_, "--task", kTask, "--transport", "carrier"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("--transport must be messages, cli or offline, not 'carrier'"),
            std::string::npos)
      << unknown.err;

  Finished path_for_offline =
      run_to_end({"run", "--db", db_, "--task", kTask, "--claude-path", "/bin/true"});
  EXPECT_EQ(path_for_offline.status, 2);
  EXPECT_NE(path_for_offline.err.find("--claude-path applies only to --transport cli"),
            std::string::npos)
      << path_for_offline.err;

  Finished missing_cli = run_to_end({"run", "--db", db_, "--task", kTask, "--transport", "cli",
                                     "--claude-path", (dir_ / "no-claude").string()});
  EXPECT_EQ(missing_cli.status, 2);
  EXPECT_NE(missing_cli.err.find("is not an executable file"), std::string::npos)
      << missing_cli.err;
  EXPECT_FALSE(std::filesystem::exists(db_));
}

}  // namespace
}  // namespace durable
