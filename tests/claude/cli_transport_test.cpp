// CliTransport against a stand-in executable replaying recorded NDJSON (success, error results,
// a crash, a hang), and against the real Claude Code CLI pointed at a loopback server when a
// `claude` binary is available.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "claude/claude_test_support.hpp"
#include "claude/loopback_server.hpp"
#include "durable/claude/cli_transport.hpp"
#include "durable/claude/errors.hpp"
#include "support/process_liveness.hpp"

namespace durable::claude {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RecordingSink;
using testing::TestContext;
namespace fs = std::filesystem;

// A fresh temporary directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "durable-claude-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

class CliTransportTest : public ::testing::Test {
 protected:
  CliOptions options(const std::string& replay) {
    return {.executable = FAKE_CLAUDE_PATH,
            .env = {{"FAKE_CLAUDE_SCRIPT", std::string(CLI_REPLAYS_DIR) + "/" + replay},
                    {"FAKE_CLAUDE_RECORD", (dir_.path / "record.json").string()}},
            .timeout = 20s,
            .kill_grace = 300ms};
  }
  AgentResult ask(const std::string& replay, AgentRequest request = {.prompt = "say hi"}) {
    CliTransport transport(options(replay));
    return transport.query(request, test_.ctx, sink_);
  }
  json record() {
    std::ifstream in(dir_.path / "record.json");
    return json::parse(in);
  }

  TempDir dir_;
  TestContext test_;
  RecordingSink recorder_;
  EventSink sink_ = recorder_.sink();
};

TEST_F(CliTransportTest, ASuccessfulRunBecomesTheResultAndTheTranscriptGoesToTheSink) {
  AgentResult r = ask("success.ndjson");
  EXPECT_EQ(r.text, "hello from loopback");
  EXPECT_EQ(r.session_id, "f6abb85a-d047-4e04-a617-9496e53cff38");
  EXPECT_EQ(r.stop_reason, "end_turn");
  EXPECT_EQ(r.model, "claude-opus-4-8");
  EXPECT_EQ(r.num_turns, 1);
  EXPECT_EQ(r.usage.input_tokens, 10);
  EXPECT_EQ(r.usage.output_tokens, 5);
  ASSERT_TRUE(r.cost_usd.has_value());
  EXPECT_DOUBLE_EQ(*r.cost_usd, 0.000175);
  EXPECT_FALSE(r.is_error);
  // system, the unknown type, assistant, result: every JSON line; the stray log line is skipped.
  EXPECT_EQ(recorder_.count(StreamEventKind::kMessage), 4u);
  EXPECT_EQ(recorder_.text(), "hello from loopback");
}

TEST_F(CliTransportTest, ThePromptGoesOnStdinAndTheOptionsAsFlags) {
  AgentRequest request{.prompt = "line one\nwith \"quotes\"",
                       .model = "claude-x",
                       .system = "sys",
                       .max_turns = 4,
                       .allowed_tools = {"Read", "Grep"},
                       .disallowed_tools = {"Bash"},
                       .permission_mode = "plan",
                       .cwd = dir_.path.string(),
                       .max_budget_usd = 1.5,
                       .resume_session_id = "sess-42"};
  ask("success.ndjson", request);
  json rec = record();
  std::vector<std::string> argv = rec["argv"];
  std::vector<std::string> expected = {
      "--output-format",   "stream-json", "--verbose",         "--input-format",
      "stream-json",       "-p",          "--model",           "claude-x",
      "--system-prompt",   "sys",         "--max-turns",       "4",
      "--max-budget-usd",  "1.5",         "--allowedTools",    "Read,Grep",
      "--disallowedTools", "Bash",        "--permission-mode", "plan",
      "--resume=sess-42"};
  EXPECT_EQ(argv, expected);
  EXPECT_EQ(rec["entrypoint"], "sdk-cpp");
  EXPECT_EQ(fs::canonical(rec["cwd"].get<std::string>()), fs::canonical(dir_.path));
  std::string in = rec["stdin"];
  ASSERT_FALSE(in.empty());
  EXPECT_EQ(in.back(), '\n') << "one line, then EOF";
  json message = json::parse(in);
  EXPECT_EQ(message, json::parse(R"({"type":"user","session_id":"","parent_tool_use_id":null,
      "message":{"role":"user","content":"line one\nwith \"quotes\""}})"));
}

TEST_F(CliTransportTest, MaxTurnsIsAResultMarkedAsError) {
  AgentResult r = ask("error_max_turns.ndjson");
  EXPECT_TRUE(r.is_error);
  EXPECT_EQ(r.stop_reason, "error_max_turns");
  EXPECT_EQ(r.num_turns, 2);
}

// A count that is not an integer the field can hold (a float beyond any integer, a negative
// fraction, an unsigned beyond int64) is ignored, never converted with undefined behaviour.
TEST_F(CliTransportTest, CountsThatDoNotFitTheirFieldFallBackAndTheRestIsKept) {
  AgentResult r = ask("out_of_range_counts.ndjson");
  EXPECT_FALSE(r.is_error);
  EXPECT_EQ(r.text, "odd numbers");
  EXPECT_EQ(r.num_turns, 1) << "falls back to the assistant turns seen";
  EXPECT_EQ(r.usage.input_tokens, 0);
  EXPECT_EQ(r.usage.output_tokens, 0);
  EXPECT_EQ(r.usage.cache_creation_input_tokens, 7);
  EXPECT_EQ(r.usage.cache_read_input_tokens, 0);
}

TEST_F(CliTransportTest, AnAuthenticationFailureIsPermanent) {
  try {
    ask("api_error_401.ndjson");
    FAIL() << "no error";
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.info().status, 401);
  }
}

TEST_F(CliTransportTest, AnOverloadedApiIsRetryable) {
  try {
    ask("api_error_529.ndjson");
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().status, 529);
  }
}

TEST_F(CliTransportTest, AnErrorDuringExecutionIsRetryable) {
  EXPECT_THROW(ask("during_execution.ndjson"), RetryableError);
}

TEST_F(CliTransportTest, AChildThatDiesWithoutAResultIsRetryableAndSaysHow) {
  try {
    ask("no_result.ndjson");
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("exit status 3"), std::string::npos) << what;
    EXPECT_NE(what.find("something broke"), std::string::npos) << what;
  }
}

TEST_F(CliTransportTest, AMissingExecutableIsPermanent) {
  CliTransport transport({.executable = (dir_.path / "no-such-claude").string()});
  EXPECT_THROW(transport.query({.prompt = "p"}, test_.ctx, sink_), PermanentError);
}

TEST_F(CliTransportTest, AHangingChildIsKilledAtTheTimeout) {
  auto o = options("hang.ndjson");
  o.timeout = 300ms;
  CliTransport transport(o);
  auto start = std::chrono::steady_clock::now();
  try {
    transport.query({.prompt = "p"}, test_.ctx, sink_);
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().type, "timeout");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(CliTransportTest, AChildIgnoringSigtermIsKilledOnCancellation) {
  auto o = options("hang_ignoring_term.ndjson");
  CliTransport transport(o);
  pid_t pid = 0;
  auto sink = [&](const StreamEvent& e) {
    if (e.kind == StreamEventKind::kStatus && e.text == "spawned") pid = e.data["pid"];
    // Once the child has spoken, cancel: the transport must escalate to SIGKILL.
    if (e.kind == StreamEventKind::kMessage) test_.cancel->store(true);
  };
  try {
    transport.query({.prompt = "p"}, test_.ctx, sink);
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().type, "cancelled");
  }
  ASSERT_GT(pid, 0);
  EXPECT_NE(::kill(pid, 0), 0) << "the child is gone (killed and reaped)";
}

// What a SIGKILLed `approval_gate run` relies on: the CLI it started does not run on (and edit
// files) while the restarted process retries the same query.
TEST_F(CliTransportTest, TheChildDiesWhenTheProcessThatStartedItIsKilled) {
  int pid_pipe[2];
  ASSERT_EQ(::pipe(pid_pipe), 0);
  pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {  // the process that will be killed: runs a query that never ends
    ::close(pid_pipe[0]);
    CliTransport transport(options("hang.ndjson"));
    // The pid is passed on once the child has spoken: it has then printed all it will and waits,
    // so nothing but the parent-death signal can end it (no EOF, no SIGPIPE).
    pid_t child = 0;
    auto sink = [&](const StreamEvent& e) {
      if (e.kind == StreamEventKind::kStatus && e.text == "spawned") child = e.data["pid"];
      if (e.kind != StreamEventKind::kMessage || child == 0) return;
      [[maybe_unused]] auto n = ::write(pid_pipe[1], &child, sizeof child);
      child = 0;
    };
    try {
      transport.query({.prompt = "p"}, test_.ctx, sink);
    } catch (...) {
    }
    ::_exit(0);
  }
  ::close(pid_pipe[1]);
  pid_t claude = 0;
  ASSERT_EQ(::read(pid_pipe[0], &claude, sizeof claude), static_cast<ssize_t>(sizeof claude));
  ::close(pid_pipe[0]);
  ASSERT_EQ(::kill(runner, SIGKILL), 0);
  ASSERT_EQ(::waitpid(runner, nullptr, 0), runner);

  EXPECT_TRUE(durable::testing::stops_running_within(claude, 10s))
      << "fake claude " << claude << " outlived the process that started it";
  if (durable::testing::process_is_running(claude)) ::kill(claude, SIGKILL);
}

// The real Claude Code CLI, if there is one: $DURABLE_CLAUDE_CLI, the configured
// DURABLE_CLAUDE_CLI, the build tree's npm cache, then PATH.
std::string real_cli() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("DURABLE_CLAUDE_CLI"); env && *env) candidates.push_back(env);
  candidates.push_back(DURABLE_CLAUDE_CLI);
  candidates.push_back(DURABLE_CLAUDE_NPM_BIN);
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    for (std::size_t start = 0, end; start <= p.size(); start = end + 1) {
      end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) candidates.push_back(p.substr(start, end - start) + "/claude");
    }
  }
  for (const auto& c : candidates) {
    if (!c.empty() && ::access(c.c_str(), X_OK) == 0) return c;
  }
  return {};
}

class RealCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_ = real_cli();
    if (cli_.empty()) {
      GTEST_SKIP() << "no `claude` binary (set DURABLE_CLAUDE_CLI, or `npm install "
                      "@anthropic-ai/claude-code`): the real-CLI test did not run";
    }
    ::unsetenv("ANTHROPIC_AUTH_TOKEN");
    ::unsetenv("CLAUDE_CODE_OAUTH_TOKEN");
    server_.set_fallback([this](const testing::HttpRequest& req) -> testing::Reply {
      if (req.method == "POST" && req.path == "/v1/messages") {
        json body = req.json();
        std::string model = body.value("model", "claude-test");
        if (body.value("stream", false)) {
          return testing::streamed(testing::text_stream({"hello from ", "loopback"}, model));
        }
        return testing::json_reply(200, {{"id", "msg_x"},
                                         {"type", "message"},
                                         {"role", "assistant"},
                                         {"model", model},
                                         {"content", {{{"type", "text"}, {"text", "ok"}}}},
                                         {"stop_reason", "end_turn"},
                                         {"usage", {{"input_tokens", 1}, {"output_tokens", 1}}}});
      }
      if (req.method == "HEAD") return testing::Reply{.status = 200};
      return testing::api_error(404, "not_found_error", "not on the loopback server");
    });
  }
  CliOptions options() {
    return {.executable = cli_,
            .env = {{"ANTHROPIC_BASE_URL", server_.base_url()},
                    {"ANTHROPIC_API_KEY", kDummyKey},
                    {"CLAUDE_CODE_MAX_RETRIES", "0"},
                    {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
                    {"CLAUDE_CONFIG_DIR", (config_.path).string()}},
            .timeout = 60s,
            .kill_grace = 2s};
  }

  static constexpr const char* kDummyKey = "sk-ant-dummy-loopback-0000";
  std::string cli_;
  testing::LoopbackServer server_;
  TempDir config_, work_;
  TestContext test_;
  RecordingSink recorder_;
  EventSink sink_ = recorder_.sink();
};

TEST_F(RealCliTest, TheRealCliAnswersThroughTheLoopbackServerAndResumesItsSession) {
  CliTransport transport(options());
  AgentResult r =
      transport.query({.prompt = "say hi", .cwd = work_.path.string()}, test_.ctx, sink_);
  for (const auto& req : server_.requests()) {
    std::cout << "real CLI request: " << req.method << " " << req.target << "\n";
  }
  EXPECT_EQ(r.text, "hello from loopback");
  EXPECT_FALSE(r.is_error);
  EXPECT_FALSE(r.session_id.empty());
  EXPECT_GE(r.num_turns, 1);
  EXPECT_TRUE(r.cost_usd.has_value());
  auto requests = server_.messages_requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().header("x-api-key"), kDummyKey);
  EXPECT_NE(requests.back().body.find("say hi"), std::string::npos);
  EXPECT_EQ(recorder_.dump().find(kDummyKey), std::string::npos);
  EXPECT_EQ(json(r).dump().find(kDummyKey), std::string::npos);

  // The session continues: the next request carries the first exchange.
  AgentResult again = transport.query(
      {.prompt = "and again", .cwd = work_.path.string(), .resume_session_id = r.session_id},
      test_.ctx, sink_);
  EXPECT_EQ(again.text, "hello from loopback");
  auto after = server_.messages_requests();
  ASSERT_GT(after.size(), requests.size());
  std::string last = after.back().body;
  EXPECT_NE(last.find("say hi"), std::string::npos) << "resumed without the earlier prompt";
  EXPECT_NE(last.find("and again"), std::string::npos);
}

TEST_F(RealCliTest, TheRealCliReportsAnAuthenticationFailureAsPermanent) {
  server_.push(testing::api_error(401, "authentication_error", "invalid x-api-key"));
  CliTransport transport(options());
  try {
    AgentResult r =
        transport.query({.prompt = "say hi", .cwd = work_.path.string()}, test_.ctx, sink_);
    FAIL() << "no error; result: " << json(r).dump();
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.info().status, 401) << e.what();
    EXPECT_EQ(std::string(e.what()).find(kDummyKey), std::string::npos);
  }
}

}  // namespace
}  // namespace durable::claude
