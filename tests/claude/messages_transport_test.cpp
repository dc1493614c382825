// MessagesTransport against a real HTTP server on loopback speaking the Messages API's wire
// format: streamed and plain replies, tool use, errors and how they map to retries, timeouts,
// cancellation, and keeping the key out of everything but the request header.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "claude/claude_test_support.hpp"
#include "claude/loopback_server.hpp"
#include "durable/claude/errors.hpp"
#include "durable/claude/messages_transport.hpp"

namespace durable::claude {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::api_error;
using testing::json_reply;
using testing::LoopbackServer;
using testing::RecordingSink;
using testing::Reply;
using testing::sse;
using testing::streamed;
using testing::TestContext;
using testing::text_stream;

constexpr const char* kKey = "sk-ant-test-0123456789-secret";

class MessagesTransportTest : public ::testing::Test {
 protected:
  MessagesOptions options() {
    return {.base_url = server_.base_url(),
            .api_key = kKey,
            .default_model = "claude-test",
            .connect_timeout = 2s,
            .timeout = 10s};
  }
  AgentResult ask(AgentRequest request, MessagesOptions o) {
    MessagesTransport transport(std::move(o));
    return transport.query(request, test_.ctx, sink_);
  }
  AgentResult ask(AgentRequest request) { return ask(std::move(request), options()); }

  LoopbackServer server_;
  TestContext test_;
  RecordingSink recorder_;
  EventSink sink_ = recorder_.sink();
};

// Splits the stream's bytes into pieces of `size`, so events straddle chunk boundaries.
std::vector<std::string> resplit(const std::vector<std::string>& events, std::size_t size) {
  std::string all;
  for (const auto& e : events) all += e;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); i += size) out.push_back(all.substr(i, size));
  return out;
}

TEST_F(MessagesTransportTest, AStreamedReplyBecomesTextUsageAndStopReason) {
  server_.push(streamed(resplit(text_stream({"Hello", ", ", "world"}), 7)));
  AgentResult r =
      ask({.prompt = "greet me",
           .system = "be brief",
           .max_tokens = 99,
           .temperature = 0.5,
           .stop_sequences = {"STOP"},
           .tools = {{.name = "t", .description = "d", .input_schema = {{"type", "object"}}}}});
  EXPECT_EQ(r.text, "Hello, world");
  EXPECT_EQ(r.stop_reason, "end_turn");
  EXPECT_EQ(r.model, "claude-test");
  EXPECT_EQ(r.session_id, "msg_1");
  EXPECT_EQ(r.num_turns, 1);
  EXPECT_EQ(r.usage.input_tokens, 12);
  EXPECT_EQ(r.usage.output_tokens, 7);
  EXPECT_FALSE(r.is_error);
  EXPECT_EQ(recorder_.text(), "Hello, world");
  EXPECT_GE(recorder_.count(StreamEventKind::kText), 3u);

  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.header("x-api-key"), kKey);
  EXPECT_EQ(req.header("anthropic-version"), "2023-06-01");
  EXPECT_NE(req.header("content-type").find("application/json"), std::string::npos);
  json body = req.json();
  EXPECT_EQ(body["model"], "claude-test");
  EXPECT_EQ(body["max_tokens"], 99);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["system"], "be brief");
  EXPECT_EQ(body["temperature"], 0.5);
  EXPECT_EQ(body["stop_sequences"], json::array({"STOP"}));
  EXPECT_EQ(body["tools"][0]["name"], "t");
  EXPECT_EQ(body["tools"][0]["input_schema"]["type"], "object");
  EXPECT_EQ(body["metadata"]["user_id"], "exec-1/3") << "the activity's idempotency key";
  EXPECT_EQ(body["messages"], json::parse(R"([{"role":"user","content":"greet me"}])"));
}

TEST_F(MessagesTransportTest, AThinkingBudgetIsSentAsEnabledThinking) {
  server_.push(streamed(text_stream({"ok"})));
  ask({.prompt = "think first", .max_tokens = 4096, .thinking_budget_tokens = 2048});
  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 1u);
  json body = requests[0].json();
  EXPECT_EQ(body["thinking"], json::parse(R"({"type":"enabled","budget_tokens":2048})"));
  EXPECT_EQ(body["max_tokens"], 4096);
}

TEST_F(MessagesTransportTest, WithoutAThinkingBudgetNoThinkingIsSent) {
  server_.push(streamed(text_stream({"ok"})));
  ask({.prompt = "plain"});
  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].json().contains("thinking"));
}

TEST_F(MessagesTransportTest, APlainJsonReplyIsAcceptedWithoutStreaming) {
  server_.push(json_reply(200, {{"id", "msg_p"},
                                {"type", "message"},
                                {"role", "assistant"},
                                {"model", "claude-plain"},
                                {"content", {{{"type", "text"}, {"text", "plain answer"}}}},
                                {"stop_reason", "max_tokens"},
                                {"usage", {{"input_tokens", 3}, {"output_tokens", 4}}}}));
  auto o = options();
  o.stream = false;
  AgentResult r = ask({.prompt = "hi"}, o);
  EXPECT_EQ(r.text, "plain answer");
  EXPECT_EQ(r.stop_reason, "max_tokens");
  EXPECT_EQ(r.model, "claude-plain");
  EXPECT_EQ(r.usage.output_tokens, 4);
  EXPECT_FALSE(server_.messages_requests()[0].json().contains("stream"));
}

TEST_F(MessagesTransportTest, UnknownEventsPingsAndCommentsAreIgnored) {
  auto events = text_stream({"ok"});
  events.insert(events.begin() + 1, ": keep-alive comment\n\n");
  events.insert(events.begin() + 2, sse("future_event", {{"type", "future_event"}, {"x", 1}}));
  events.insert(events.begin() + 3, "event: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n");
  server_.push(streamed(events));
  EXPECT_EQ(ask({.prompt = "p"}).text, "ok");
}

std::vector<std::string> tool_use_stream() {
  auto delta = [](const std::string& part) {
    return sse("content_block_delta",
               {{"type", "content_block_delta"},
                {"index", 1},
                {"delta", {{"type", "input_json_delta"}, {"partial_json", part}}}});
  };
  return {
      sse("message_start", {{"type", "message_start"},
                            {"message",
                             {{"id", "msg_t"},
                              {"type", "message"},
                              {"role", "assistant"},
                              {"model", "claude-test"},
                              {"content", json::array()},
                              {"usage", {{"input_tokens", 20}, {"output_tokens", 1}}}}}}),
      sse("content_block_start", {{"type", "content_block_start"},
                                  {"index", 0},
                                  {"content_block", {{"type", "text"}, {"text", ""}}}}),
      sse("content_block_delta", {{"type", "content_block_delta"},
                                  {"index", 0},
                                  {"delta", {{"type", "text_delta"}, {"text", "Checking."}}}}),
      sse("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}),
      sse("content_block_start", {{"type", "content_block_start"},
                                  {"index", 1},
                                  {"content_block",
                                   {{"type", "tool_use"},
                                    {"id", "toolu_1"},
                                    {"name", "weather"},
                                    {"input", json::object()}}}}),
      delta(""),
      delta("{\"ci"),
      delta("ty\": \"Par"),
      delta("is\"}"),
      sse("content_block_stop", {{"type", "content_block_stop"}, {"index", 1}}),
      sse("message_delta", {{"type", "message_delta"},
                            {"delta", {{"stop_reason", "tool_use"}}},
                            {"usage", {{"output_tokens", 30}}}}),
      sse("message_stop", {{"type", "message_stop"}}),
  };
}

TEST_F(MessagesTransportTest, ToolUseAssemblesPartialJsonAndSendsTheHandlersAnswerBack) {
  server_.push(streamed(resplit(tool_use_stream(), 5)));
  server_.push(streamed(text_stream({"It is 21C in Paris."})));
  std::vector<json> seen;
  auto o = options();
  o.tool_handler = [&](const std::string& name, const json& input) -> json {
    seen.push_back({{"name", name}, {"input", input}});
    return {{"celsius", 21}};
  };
  AgentResult r = ask({.prompt = "weather in Paris?",
                       .tools = {{.name = "weather", .input_schema = {{"type", "object"}}}}},
                      o);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["name"], "weather");
  EXPECT_EQ(seen[0]["input"], json::parse(R"({"city":"Paris"})"));
  EXPECT_EQ(r.text, "It is 21C in Paris.");
  EXPECT_EQ(r.num_turns, 2);
  EXPECT_EQ(r.usage.input_tokens, 20 + 12);
  EXPECT_EQ(r.usage.output_tokens, 30 + 7);
  EXPECT_EQ(recorder_.count(StreamEventKind::kToolUse), 1u);
  EXPECT_EQ(recorder_.count(StreamEventKind::kToolResult), 1u);

  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 2u);
  json messages = requests[1].json()["messages"];
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1]["role"], "assistant");
  EXPECT_EQ(messages[1]["content"][1]["type"], "tool_use");
  EXPECT_EQ(messages[1]["content"][1]["input"], json::parse(R"({"city":"Paris"})"));
  EXPECT_EQ(messages[2]["role"], "user");
  EXPECT_EQ(messages[2]["content"][0]["type"], "tool_result");
  EXPECT_EQ(messages[2]["content"][0]["tool_use_id"], "toolu_1");
  EXPECT_EQ(messages[2]["content"][0]["content"], R"({"celsius":21})");
  EXPECT_EQ(requests[1].json()["metadata"]["user_id"], "exec-1/3");
}

TEST_F(MessagesTransportTest, TheToolLoopStopsAtMaxTurns) {
  server_.push(streamed(tool_use_stream()));
  auto o = options();
  o.tool_handler = [](const std::string&, const json&) -> json { return "x"; };
  AgentResult r = ask({.prompt = "loop", .max_turns = 1}, o);
  EXPECT_TRUE(r.is_error);
  EXPECT_EQ(r.stop_reason, "error_max_turns");
  EXPECT_EQ(server_.messages_requests().size(), 1u);
}

TEST_F(MessagesTransportTest, WithoutAHandlerAToolUseReplyIsReturnedAsIs) {
  server_.push(streamed(tool_use_stream()));
  AgentResult r = ask({.prompt = "p"});
  EXPECT_EQ(r.stop_reason, "tool_use");
  EXPECT_EQ(r.text, "Checking.");
}

TEST_F(MessagesTransportTest, AnOverloadedErrorEventMidStreamIsRetryable) {
  auto events = text_stream({"partial"});
  events.resize(4);
  events.push_back(sse(
      "error",
      {{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}}));
  server_.push(streamed(events));
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().type, "overloaded_error");
    EXPECT_NE(std::string(e.what()).find("Overloaded"), std::string::npos);
  }
}

TEST_F(MessagesTransportTest, AnInvalidRequestErrorEventMidStreamIsPermanent) {
  auto events = text_stream({"partial"});
  events.resize(2);
  events.push_back(
      sse("error",
          {{"type", "error"}, {"error", {{"type", "invalid_request_error"}, {"message", "bad"}}}}));
  server_.push(streamed(events));
  EXPECT_THROW(ask({.prompt = "p"}), PermanentError);
}

TEST_F(MessagesTransportTest, RateLimitedIsRetryableAndCarriesRetryAfter) {
  server_.push(api_error(429, "rate_limit_error", "slow down", {{"retry-after", "7"}}));
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().status, 429);
    EXPECT_EQ(e.info().type, "rate_limit_error");
    EXPECT_EQ(e.info().request_id, "req_test");
    ASSERT_TRUE(e.info().retry_after.has_value());
    EXPECT_EQ(*e.info().retry_after, 7000ms);
  }
}

TEST_F(MessagesTransportTest, RetryAfterMsTakesPrecedenceOverRetryAfter) {
  server_.push(api_error(429, "rate_limit_error", "slow down",
                         {{"retry-after", "9"}, {"retry-after-ms", "1500"}}));
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().retry_after, std::optional(1500ms));
  }
}

TEST_F(MessagesTransportTest, OverloadedStatus529IsRetryable) {
  server_.push(api_error(529, "overloaded_error", "Overloaded"));
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().status, 529);
    EXPECT_EQ(e.info().type, "overloaded_error");
  }
}

TEST_F(MessagesTransportTest, UnauthorizedIsPermanentAndItsMessageNeverShowsTheKey) {
  // A server that echoes the key back: the error must still not carry it.
  server_.push(api_error(401, "authentication_error", std::string("invalid x-api-key ") + kKey));
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const PermanentError& e) {
    EXPECT_EQ(e.info().status, 401);
    EXPECT_EQ(e.info().type, "authentication_error");
    EXPECT_EQ(std::string(e.what()).find(kKey), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[redacted]"), std::string::npos);
  }
}

TEST_F(MessagesTransportTest, NonRetryableStatusesArePermanent) {
  for (int status : {400, 403, 404, 413}) {
    server_.push(api_error(status, "some_error", "no"));
    EXPECT_THROW(ask({.prompt = "p"}), PermanentError) << status;
  }
  for (int status : {408, 409, 500, 504}) {
    server_.push(api_error(status, "api_error", "again"));
    EXPECT_THROW(ask({.prompt = "p"}), RetryableError) << status;
  }
}

TEST_F(MessagesTransportTest, XShouldRetryOverridesTheStatusTable) {
  server_.push(api_error(400, "invalid_request_error", "try again", {{"x-should-retry", "true"}}));
  EXPECT_THROW(ask({.prompt = "p"}), RetryableError);
  server_.push(api_error(500, "api_error", "do not", {{"x-should-retry", "false"}}));
  EXPECT_THROW(ask({.prompt = "p"}), PermanentError);
}

TEST_F(MessagesTransportTest, ADroppedConnectionIsRetryable) {
  auto reply = streamed(text_stream({"cut", "off"}));
  reply.chunks.resize(4);
  reply.drop = true;
  server_.push(reply);
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().status, 0) << e.what();
    EXPECT_EQ(e.info().type, "connection_error") << e.what();
  }
}

TEST_F(MessagesTransportTest, AStreamThatEndsWithoutMessageStopIsRetryable) {
  auto events = text_stream({"cut"});
  events.pop_back();
  server_.push(streamed(events));
  EXPECT_THROW(ask({.prompt = "p"}), RetryableError);
}

TEST_F(MessagesTransportTest, ARefusedConnectionIsRetryable) {
  std::string url;
  {
    LoopbackServer closed;
    url = closed.base_url();
  }
  auto o = options();
  o.base_url = url;
  EXPECT_THROW(ask({.prompt = "p"}, o), RetryableError);
}

TEST_F(MessagesTransportTest, ASlowServerHitsTheTimeout) {
  auto reply = streamed(text_stream({"late"}));
  reply.hold = true;  // the server blocks (bounded) until released
  server_.push(reply);
  auto o = options();
  o.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  try {
    ask({.prompt = "p"}, o);
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().type, "timeout") << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, LoopbackServer::kMaxHold / 2);
  server_.release();
}

TEST_F(MessagesTransportTest, CancellationAbortsTheTransfer) {
  auto reply = streamed(text_stream({"never"}));
  reply.hold = true;
  server_.push(reply);
  std::thread canceller([&] {
    server_.wait_for_messages_requests(1);
    test_.cancel->store(true);
  });
  try {
    ask({.prompt = "p"});
    FAIL() << "no error";
  } catch (const RetryableError& e) {
    EXPECT_EQ(e.info().type, "cancelled") << e.what();
  }
  canceller.join();
  server_.release();
}

TEST_F(MessagesTransportTest, TheKeyIsSentAsAHeaderButAppearsNowhereElse) {
  server_.push(streamed(text_stream({"fine"})));
  AgentResult r = ask({.prompt = "p"});
  EXPECT_EQ(server_.messages_requests()[0].header("x-api-key"), kKey);
  EXPECT_EQ(server_.messages_requests()[0].body.find(kKey), std::string::npos);
  EXPECT_EQ(json(r).dump().find(kKey), std::string::npos);
  EXPECT_EQ(recorder_.dump().find(kKey), std::string::npos);
}

TEST_F(MessagesTransportTest, AnAuthTokenIsSentAsBearerWhenThereIsNoKey) {
  server_.push(streamed(text_stream({"fine"})));
  auto o = options();
  o.api_key.clear();
  o.auth_token = "tok-0123456789";
  ::unsetenv("ANTHROPIC_API_KEY");
  ask({.prompt = "p"}, o);
  auto req = server_.messages_requests()[0];
  EXPECT_EQ(req.header("authorization"), "Bearer tok-0123456789");
  EXPECT_EQ(req.header("x-api-key"), "");
}

TEST_F(MessagesTransportTest, BaseUrlAndKeyComeFromTheEnvironment) {
  server_.push(streamed(text_stream({"env"})));
  ::setenv("ANTHROPIC_BASE_URL", server_.base_url().c_str(), 1);
  ::setenv("ANTHROPIC_API_KEY", "sk-from-env-123", 1);
  AgentResult r = ask({.prompt = "p"}, {.default_model = "m"});
  ::unsetenv("ANTHROPIC_BASE_URL");
  ::unsetenv("ANTHROPIC_API_KEY");
  EXPECT_EQ(r.text, "env");
  EXPECT_EQ(server_.messages_requests()[0].header("x-api-key"), "sk-from-env-123");
}

TEST_F(MessagesTransportTest, NoCredentialsIsAPermanentError) {
  ::unsetenv("ANTHROPIC_API_KEY");
  ::unsetenv("ANTHROPIC_AUTH_TOKEN");
  auto o = options();
  o.api_key.clear();
  EXPECT_THROW(ask({.prompt = "p"}, o), PermanentError);
  EXPECT_TRUE(server_.messages_requests().empty());
}

}  // namespace
}  // namespace durable::claude
