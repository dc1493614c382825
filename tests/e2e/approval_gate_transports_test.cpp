// examples/approval_gate end to end with Claude transports: `--transport messages` against a
// loopback HTTP server speaking the Messages SSE wire format (ANTHROPIC_BASE_URL points at it,
// with a dummy key), and `--transport cli` against the stand-in `claude` that replays NDJSON.
// Requests are counted where they arrive: a query interrupted by SIGKILL is sent again after the
// restart, a completed one never; and the key never reaches the database or the output.
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "claude/loopback_server.hpp"
#include "e2e/approval_gate_fixture.hpp"
#include "support/process_liveness.hpp"

namespace durable {
namespace {

using claude::testing::HttpRequest;
using claude::testing::LoopbackServer;
using claude::testing::streamed;
using claude::testing::text_stream;
using nlohmann::json;
using testing::ApprovalGateTest;
using testing::Finished;
using testing::kBound;

constexpr const char* kDummyKey = "sk-ant-e2e-dummy-key-7f3a9c";

// The two queries, told apart by how their prompts begin.
bool is_plan_query(const HttpRequest& r) {
  return r.json()["messages"][0]["content"].get<std::string>().rfind("Draft a short", 0) == 0;
}
std::string prompt_of(const HttpRequest& r) {
  return r.json()["messages"][0]["content"].get<std::string>();
}

class ApprovalGateMessagesTest : public ApprovalGateTest {
 protected:
  void SetUp() override {
    ApprovalGateTest::SetUp();
    env_ = {std::string("ANTHROPIC_API_KEY=") + kDummyKey,
            "ANTHROPIC_BASE_URL=" + server_.base_url()};
  }
  std::pair<int, int> plan_and_carry_out_requests() {
    std::pair<int, int> counts;
    for (const auto& r : server_.messages_requests())
      ++(is_plan_query(r) ? counts.first : counts.second);
    return counts;
  }

  LoopbackServer server_;
};

TEST_F(ApprovalGateMessagesTest, ThePlanIsCarriedOutOverTheApiWithTheConversationSoFar) {
  server_.push(streamed(text_stream({"1. Find the flag.\n2. Rename", " it.\n3. Run the tests."})));
  server_.push(streamed(text_stream({"Renamed the flag; ", "the tests pass."})));

  auto run = start_run({"--transport", "messages"});
  std::string token = token_of(*run);
  ASSERT_TRUE(run->wait_for_line("waiting for approval", kBound)) << run->out() << run->err();
  Finished approve = decide("approve", token, "looks good");
  EXPECT_EQ(approve.status, 0) << approve.err;
  Finished done = finish(*run);

  EXPECT_EQ(done.status, 0) << done.out << done.err;
  std::string report = report_of(done.out);
  EXPECT_EQ(report.rfind("report: approved and carried out", 0), 0u) << done.out;
  EXPECT_NE(report.find("    1. Find the flag.\n    2. Rename it."), std::string::npos) << report;
  EXPECT_NE(report.find("Renamed the flag; the tests pass."), std::string::npos) << report;
  EXPECT_TRUE(in_order(
      done.out, {"transport: messages (chosen with --transport)", "execution: ",
                 "planning (asking Claude over the Messages API)", "  plan | 1. Find the flag.",
                 "  plan | 2. Rename it.", "  plan | 3. Run the tests.", "plan drafted (3 lines",
                 "approval token: ", "waiting for approval", "approved (looks good)",
                 "cooling down", "executing the plan",
                 "  carry_out | Renamed the flag; the tests pass.", "done", "report: "}))
      << done.out;

  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(is_plan_query(requests[0]));
  EXPECT_NE(prompt_of(requests[0]).find(kTask), std::string::npos);
  // No server-side session: the second query carries the request and the plan it answered.
  EXPECT_NE(prompt_of(requests[1]).find(kTask), std::string::npos) << prompt_of(requests[1]);
  EXPECT_NE(prompt_of(requests[1]).find("1. Find the flag.\n2. Rename it.\n3. Run the tests."),
            std::string::npos)
      << prompt_of(requests[1]);
  EXPECT_NE(prompt_of(requests[1]).find("looks good"), std::string::npos);
  for (const auto& r : requests) EXPECT_EQ(r.header("x-api-key"), kDummyKey);

  EXPECT_FALSE(any_file_contains(kDummyKey)) << "the key reached the database";
  for (const std::string& text : {done.out, done.err, approve.out, approve.err}) {
    EXPECT_EQ(text.find(kDummyKey), std::string::npos) << text;
  }
}

TEST_F(ApprovalGateMessagesTest, ARunKilledWhileClaudeCarriesOutThePlanSendsOnlyThatQueryAgain) {
  server_.push(streamed(text_stream({"1. Find the flag.\n2. Rename it."})));
  auto held = streamed(text_stream({"never delivered"}));
  held.hold = true;  // the carry-out query stays open until the test has killed `run`
  server_.push(held);
  server_.push(streamed(text_stream({"Renamed it after the restart."})));

  // No --transport: with a key set, messages is the default.
  auto first = start_run();
  std::string token = token_of(*first);
  std::string id = execution_id_of(*first);
  ASSERT_TRUE(first->wait_for_line("waiting for approval", kBound)) << first->out();
  EXPECT_EQ(decide("approve", token, "go").status, 0);
  ASSERT_TRUE(server_.wait_for_messages_requests(2, kBound)) << first->out() << first->err();
  ASSERT_TRUE(first->wait_for_line("executing the plan", kBound)) << first->out();
  first->kill_hard();
  Finished killed = finish(*first);
  EXPECT_EQ(killed.status, 128 + SIGKILL);
  EXPECT_NE(killed.out.find("transport: messages (the default: ANTHROPIC_API_KEY is set)"),
            std::string::npos)
      << killed.out;
  EXPECT_EQ(killed.out.find("report: "), std::string::npos);
  server_.release();

  auto second = start_run();
  Finished done = finish(*second);
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("re-attached"), std::string::npos) << done.out;
  EXPECT_NE(done.out.find("executing the plan (asking Claude over the Messages API, attempt 2)"),
            std::string::npos)
      << done.out;
  std::string report = report_of(done.out);
  EXPECT_EQ(report.rfind("report: approved and carried out", 0), 0u) << done.out;
  EXPECT_NE(report.find("Renamed it after the restart."), std::string::npos) << report;

  // The completed plan query was never sent again; the interrupted carry-out query was, under
  // the same idempotency key.
  EXPECT_EQ(plan_and_carry_out_requests(), std::make_pair(1, 2));
  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].json()["metadata"]["user_id"], requests[2].json()["metadata"]["user_id"]);
  EXPECT_EQ(prompt_of(requests[1]), prompt_of(requests[2]));
  EXPECT_EQ(effects(),
            (std::map<std::string, int>{{"plan", 1}, {"publish_token", 1}, {"carry_out", 2}}));
  EXPECT_EQ(journaled_attempts(id),
            (std::map<std::string, int>{{"plan", 1}, {"publish_token", 1}, {"carry_out", 2}}));

  EXPECT_FALSE(any_file_contains(kDummyKey)) << "the key reached the database";
  EXPECT_EQ(killed.out.find(kDummyKey), std::string::npos);
  EXPECT_EQ(done.out.find(kDummyKey), std::string::npos);
  EXPECT_EQ(done.err.find(kDummyKey), std::string::npos);
}

TEST_F(ApprovalGateMessagesTest, ARunKilledWhileClaudePlansAsksForThePlanAgainAndOnlyThat) {
  auto held = streamed(text_stream({"never delivered"}));
  held.hold = true;  // the plan query stays open until the test has killed `run`
  server_.push(held);
  server_.push(streamed(text_stream({"1. Find the flag.\n2. Rename it."})));
  server_.push(streamed(text_stream({"Renamed it."})));

  auto first = start_run();
  ASSERT_TRUE(server_.wait_for_messages_requests(1, kBound)) << first->out() << first->err();
  ASSERT_TRUE(first->wait_for_line("planning", kBound)) << first->out();
  first->kill_hard();
  EXPECT_EQ(finish(*first).status, 128 + SIGKILL);
  server_.release();

  // Without a key the execution cannot continue here: `run` says so and leaves it alone.
  const auto with_key = env_;
  env_.clear();
  Finished no_key = finish(*start_run());
  EXPECT_EQ(no_key.status, 1);
  EXPECT_NE(no_key.err.find("uses the messages transport; set ANTHROPIC_API_KEY"),
            std::string::npos)
      << no_key.out << no_key.err;
  EXPECT_EQ(plan_and_carry_out_requests(), std::make_pair(1, 0));
  env_ = with_key;

  auto second = start_run();
  std::string token = token_of(*second);
  ASSERT_TRUE(second->wait_for_line("waiting for approval", kBound)) << second->out();
  EXPECT_EQ(plan_and_carry_out_requests(), std::make_pair(2, 0));
  EXPECT_EQ(decide("approve", token, "go").status, 0);
  Finished done = finish(*second);
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("planning (asking Claude over the Messages API, attempt 2)"),
            std::string::npos)
      << done.out;
  EXPECT_NE(report_of(done.out).find("    1. Find the flag.\n    2. Rename it."), std::string::npos)
      << done.out;
  EXPECT_EQ(plan_and_carry_out_requests(), std::make_pair(2, 1));
  EXPECT_EQ(effects(),
            (std::map<std::string, int>{{"plan", 2}, {"publish_token", 1}, {"carry_out", 1}}));
  EXPECT_FALSE(any_file_contains(kDummyKey));
}

// A stand-in transcript: one assistant message and its result, in session `session`.
std::string transcript(const std::string& session, const std::string& text) {
  json init = {{"type", "system"},
               {"subtype", "init"},
               {"session_id", session},
               {"model", "claude-stand-in"}};
  json assistant = {{"type", "assistant"},
                    {"session_id", session},
                    {"message",
                     {{"id", "msg_1"},
                      {"role", "assistant"},
                      {"model", "claude-stand-in"},
                      {"content", json::array({{{"type", "text"}, {"text", text}}})}}}};
  json result = {{"type", "result"},
                 {"subtype", "success"},
                 {"is_error", false},
                 {"num_turns", 1},
                 {"result", text},
                 {"stop_reason", "end_turn"},
                 {"session_id", session},
                 {"total_cost_usd", 0.001},
                 {"usage", {{"input_tokens", 10}, {"output_tokens", 5}}}};
  return init.dump() + "\n" + assistant.dump() + "\n" + result.dump() + "\n";
}

TEST_F(ApprovalGateTest, WithTheCliTransportCarryingOutResumesThePlansSession) {
  const auto plan_script = dir_ / "plan.ndjson";
  const auto resume_script = dir_ / "resume.ndjson";
  const auto runs = dir_ / "claude-runs.log";
  std::ofstream(plan_script) << transcript("sess-e2e-plan", "1. Find the flag.\n2. Rename it.");
  std::ofstream(resume_script) << transcript("sess-e2e-plan", "Renamed it in the same session.");
  env_ = {"FAKE_CLAUDE_SCRIPT=" + plan_script.string(),
          "FAKE_CLAUDE_RESUME_SCRIPT=" + resume_script.string(),
          "FAKE_CLAUDE_LOG=" + runs.string()};

  auto run = start_run({"--transport", "cli", "--claude-path", FAKE_CLAUDE_PATH});
  std::string token = token_of(*run);
  ASSERT_TRUE(run->wait_for_line("waiting for approval", kBound)) << run->out() << run->err();
  EXPECT_EQ(decide("approve", token, "ship it").status, 0);
  Finished done = finish(*run);

  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_TRUE(in_order(done.out,
                       {"transport: cli (chosen with --transport)", "planning (running Claude Code",
                        "  plan | 1. Find the flag.", "plan drafted (2 lines from claude-stand-in)",
                        "waiting for approval", "executing the plan (running Claude Code",
                        "  carry_out | Renamed it in the same session.", "done", "report: "}))
      << done.out;
  EXPECT_NE(done.out.find("resuming session sess-e2e-plan"), std::string::npos) << done.out;
  EXPECT_NE(report_of(done.out).find("Renamed it in the same session."), std::string::npos)
      << done.out;

  std::vector<json> invocations;
  std::ifstream in(runs);
  for (std::string line; std::getline(in, line);) invocations.push_back(json::parse(line));
  ASSERT_EQ(invocations.size(), 2u) << "each query ran the CLI once";
  auto has_arg = [](const json& run, const std::string& arg) {
    for (const auto& a : run["argv"]) {
      if (a == arg) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_arg(invocations[0], "plan")) << invocations[0].dump();  // --permission-mode plan
  EXPECT_FALSE(invocations[0].dump().find("--resume") != std::string::npos);
  EXPECT_TRUE(has_arg(invocations[1], "--resume=sess-e2e-plan")) << invocations[1].dump();
  // Resumed, the prompt only says the plan was approved: the session holds the rest.
  EXPECT_NE(invocations[1]["stdin"].get<std::string>().find("approved (\\\"ship it\\\")"),
            std::string::npos)
      << invocations[1]["stdin"];
  EXPECT_EQ(invocations[1]["stdin"].get<std::string>().find("1. Find the flag."),
            std::string::npos);
}

// The stand-in's runs, one JSON object a line ({"argv", "stdin", "pid", ...}), once `count` of them
// have started (bounded wait: each is a process starting); fewer if they never did.
std::vector<json> cli_runs(const std::filesystem::path& log, std::size_t count = 0) {
  std::vector<json> runs;
  auto deadline = std::chrono::steady_clock::now() + kBound;
  do {
    runs.clear();
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) runs.push_back(json::parse(line));
    if (runs.size() >= count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return runs;
}

// A `run` SIGKILLed while Claude Code plans takes the CLI down with it (no orphaned agent goes on
// with the task), and the `run` started again runs the plan query again, and only that.
TEST_F(ApprovalGateTest, ARunKilledWhileClaudeCodePlansTakesTheCliWithItAndPlansOnceMore) {
  const auto plan_script = dir_ / "plan.ndjson";
  const auto resume_script = dir_ / "resume.ndjson";
  const auto runs = dir_ / "claude-runs.log";
  const std::string plan = transcript("sess-e2e-plan", "1. Find the flag.\n2. Rename it.");
  // The first plan query never ends: Claude Code has started (its init line) and then hangs.
  std::ofstream(plan_script) << plan.substr(0, plan.find('\n') + 1) << "#hang\n";
  std::ofstream(resume_script) << transcript("sess-e2e-plan", "Renamed it.");
  env_ = {"FAKE_CLAUDE_SCRIPT=" + plan_script.string(),
          "FAKE_CLAUDE_RESUME_SCRIPT=" + resume_script.string(),
          "FAKE_CLAUDE_LOG=" + runs.string()};
  const std::vector<std::string> cli = {"--transport", "cli", "--claude-path", FAKE_CLAUDE_PATH};

  auto first = start_run(cli);
  ASSERT_TRUE(first->wait_for_line("planning (running Claude Code", kBound)) << first->out();
  auto started = cli_runs(runs, 1);
  ASSERT_EQ(started.size(), 1u) << first->out() << first->err();
  const pid_t claude = started[0]["pid"].get<pid_t>();
  ASSERT_TRUE(testing::process_is_running(claude));
  first->kill_hard();
  EXPECT_EQ(finish(*first).status, 128 + SIGKILL);
  EXPECT_TRUE(testing::stops_running_within(claude, kBound))
      << "the Claude Code CLI (pid " << claude << ") outlived the run that started it";
  if (testing::process_is_running(claude)) ::kill(claude, SIGKILL);

  std::ofstream(plan_script, std::ios::trunc) << plan;
  auto second = start_run(cli);
  std::string token = token_of(*second);
  ASSERT_TRUE(second->wait_for_line("waiting for approval", kBound)) << second->out();
  EXPECT_EQ(decide("approve", token, "go").status, 0);
  Finished done = finish(*second);
  EXPECT_EQ(done.status, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("planning (running Claude Code"), std::string::npos) << done.out;
  EXPECT_NE(done.out.find("attempt 2)"), std::string::npos) << done.out;
  EXPECT_NE(report_of(done.out).find("Renamed it."), std::string::npos) << done.out;
  EXPECT_EQ(cli_runs(runs).size(), 3u) << "the plan twice (killed, then whole), the carry-out once";
  EXPECT_EQ(effects(),
            (std::map<std::string, int>{{"plan", 2}, {"publish_token", 1}, {"carry_out", 1}}));
}

}  // namespace
}  // namespace durable
