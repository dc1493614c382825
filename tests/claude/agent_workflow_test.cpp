// AgentActivity inside workflows: its result journals, a query interrupted by a crash runs again
// on recovery, a completed query never does; and the offline transport and the factory.
#include <gtest/gtest.h>

#include <cstdlib>

#include "claude/claude_test_support.hpp"
#include "claude/loopback_server.hpp"
#include "durable/claude/agent_activity.hpp"
#include "durable/claude/make_transport.hpp"
#include "support/engine_fixture.hpp"

namespace durable::claude {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::LoopbackServer;
using testing::streamed;
using testing::text_stream;

class AgentWorkflowTest : public durable::testing::EngineTest {
 protected:
  std::shared_ptr<Transport> messages() {
    return std::make_shared<MessagesTransport>(MessagesOptions{.base_url = server_.base_url(),
                                                               .api_key = "sk-test-workflow-key",
                                                               .default_model = "claude-test",
                                                               .connect_timeout = 2s,
                                                               .timeout = 20s});
  }
  // Runs `h` to its end, moving the manual clock past any retry backoff.
  template <class H>
  auto finish(Engine& engine, H& h) {
    for (int i = 0; i < 50 && !h.poll(); ++i) {
      engine.wait_idle();
      clock_.advance(10s);
    }
    return h.get();
  }

  LoopbackServer server_;
};

TEST(AgentTypes, RequestAndResultRoundTripAndToleratemissingKeys) {
  AgentResult r{.text = "t",
                .session_id = "s",
                .stop_reason = "end_turn",
                .usage = {.input_tokens = 1, .output_tokens = 2},
                .cost_usd = 0.25,
                .num_turns = 3,
                .model = "m",
                .is_error = true};
  EXPECT_EQ(json(r).get<AgentResult>().cost_usd, 0.25);
  EXPECT_EQ(json(r), json(json(r).get<AgentResult>()));
  AgentRequest q{.prompt = "p", .temperature = 0.1, .tools = {{.name = "x"}}, .max_budget_usd = 2};
  EXPECT_EQ(json(q), json(json(q).get<AgentRequest>()));
  auto sparse = json::parse(R"({"prompt":"only"})").get<AgentRequest>();
  EXPECT_EQ(sparse.prompt, "only");
  EXPECT_EQ(sparse.max_tokens, 1024);
  EXPECT_FALSE(sparse.temperature.has_value());
}

TEST_F(AgentWorkflowTest, AQueryInterruptedByACrashRunsAgainButACompletedOneNever) {
  server_.push(streamed(text_stream({"first answer"})));
  auto held = streamed(text_stream({"never delivered"}));
  held.hold = true;  // the server keeps the second query open until released
  server_.push(held);
  server_.push(streamed(text_stream({"second answer"})));

  auto transport = messages();
  const AgentActivity ask{"ask", transport};
  const Workflow<std::string(std::string)> two_questions{
      "two_questions", [&](WorkflowContext& ctx, std::string topic) -> Task<std::string> {
        // Named requests: GCC 12 mishandles non-trivial temporaries inside co_await.
        const AgentRequest one{.prompt = "one: " + topic};
        const AgentRequest two{.prompt = "two: " + topic};
        AgentResult a = co_await ctx.run(ask, one);
        AgentResult b = co_await ctx.run(ask, two);
        co_return a.text + " / " + b.text;
      }};
  auto setup = [&](Engine& e) { e.add(two_questions); };

  std::string id;
  {
    Engine& engine = boot(setup);
    id = engine.start(two_questions, std::string("crashes")).id();
    ASSERT_TRUE(server_.wait_for_messages_requests(2)) << "the second query never started";
    crash();  // while the server holds the second query open
  }
  server_.release();

  Engine& engine = boot(setup);
  auto h = engine.handle<std::string>(id);
  EXPECT_EQ(finish(engine, h), "first answer / second answer");

  auto requests = server_.messages_requests();
  ASSERT_EQ(requests.size(), 3u) << "only the interrupted query runs again";
  EXPECT_EQ(requests[0].json()["messages"][0]["content"], "one: crashes");
  EXPECT_EQ(requests[1].json()["messages"][0]["content"], "two: crashes");
  EXPECT_EQ(requests[2].json()["messages"][0]["content"], "two: crashes");
  EXPECT_EQ(requests[1].json()["metadata"]["user_id"], requests[2].json()["metadata"]["user_id"])
      << "the idempotency key is stable across attempts and restarts";
  EXPECT_NE(requests[0].json()["metadata"]["user_id"], requests[1].json()["metadata"]["user_id"]);

  // The journal holds the small typed result, and no secret.
  bool found = false;
  for (const auto& e : store_->load_events(id, 0)) {
    EXPECT_EQ(e.data.find("sk-test-workflow-key"), std::string::npos);
    if (e.type == EventType::kActivityCompleted) found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(AgentWorkflowTest, StreamedTextReachesTheExecutionsEventStreamInBatches) {
  // 300 deltas of 4 characters: more than one batch, far fewer entries than deltas.
  std::vector<std::string> pieces(300, "abc ");
  std::string whole;
  for (const auto& p : pieces) whole += p;
  server_.push(streamed(text_stream(pieces)));
  const AgentActivity ask{"ask", messages()};
  const Workflow<std::string(std::string)> wf{
      "streaming", [&](WorkflowContext& ctx, std::string p) -> Task<std::string> {
        const AgentRequest request{.prompt = p};
        AgentResult r = co_await ctx.run(ask, request);
        co_return r.text;
      }};
  Engine& engine = boot([&](Engine& e) { e.add(wf); });
  auto h = engine.start(wf, std::string("talk"));
  auto sub = engine.subscribe(h.id());
  EXPECT_EQ(finish(engine, h), whole);

  std::string text;
  std::size_t text_entries = 0;
  json result;
  while (auto entry = sub.next(20s)) {
    EXPECT_EQ(entry->data.find("sk-test-workflow-key"), std::string::npos) << entry->data;
    json data = json::parse(entry->data);
    if (entry->kind == "claude.text") {
      ++text_entries;
      text += data["text"].get<std::string>();
      EXPECT_EQ(data["attempt"], 1);
    } else if (entry->kind == "claude.result") {
      result = data;
    }
  }
  EXPECT_TRUE(sub.ended());
  EXPECT_EQ(text, whole);
  EXPECT_GE(text_entries, 2u);
  EXPECT_LE(text_entries, whole.size() / StreamPublisher::kBatchChars + 2);
  EXPECT_EQ(result["stop_reason"], "end_turn");
  EXPECT_EQ(result["usage"]["output_tokens"], 7);
}

TEST_F(AgentWorkflowTest, PublishingToTheStreamCanBeTurnedOff) {
  server_.push(streamed(text_stream({"quiet"})));
  const AgentActivity ask{"ask", messages(), {.publish_to_stream = false}};
  const Workflow<std::string(std::string)> wf{
      "quiet", [&](WorkflowContext& ctx, std::string p) -> Task<std::string> {
        const AgentRequest request{.prompt = p};
        AgentResult r = co_await ctx.run(ask, request);
        co_return r.text;
      }};
  Engine& engine = boot([&](Engine& e) { e.add(wf); });
  auto h = engine.start(wf, std::string("p"));
  EXPECT_EQ(finish(engine, h), "quiet");
  for (const auto& e : store_->read_stream(h.id(), 0, 1000)) {
    EXPECT_EQ(e.kind.rfind("claude.", 0), std::string::npos) << e.kind;
  }
}

TEST_F(AgentWorkflowTest, ARetryableFailureIsRetriedByTheActivityPolicy) {
  server_.push(testing::api_error(529, "overloaded_error", "Overloaded"));
  server_.push(streamed(text_stream({"after a retry"})));
  const AgentActivity ask{"ask", messages()};
  const Workflow<std::string(std::string)> wf{
      "wf", [&](WorkflowContext& ctx, std::string p) -> Task<std::string> {
        const AgentRequest request{.prompt = p};
        AgentResult r = co_await ctx.run(ask, request);
        co_return r.text;
      }};
  Engine& engine = boot([&](Engine& e) { e.add(wf); });
  auto h = engine.start(wf, std::string("p"));
  EXPECT_EQ(finish(engine, h), "after a retry");
  EXPECT_EQ(server_.messages_requests().size(), 2u);
}

TEST_F(AgentWorkflowTest, APermanentFailureFailsTheActivityAtOnce) {
  server_.push(testing::api_error(401, "authentication_error", "invalid x-api-key"));
  const AgentActivity ask{"ask", messages()};
  const Workflow<std::string(std::string)> wf{
      "wf", [&](WorkflowContext& ctx, std::string p) -> Task<std::string> {
        const AgentRequest request{.prompt = p};
        try {
          co_await ctx.run(ask, request);
        } catch (const ActivityError& e) {
          co_return e.type() + " after " + std::to_string(e.attempts());
        }
        co_return "no error";
      }};
  Engine& engine = boot([&](Engine& e) { e.add(wf); });
  auto h = engine.start(wf, std::string("p"));
  EXPECT_EQ(finish(engine, h), "durable::claude::PermanentError after 1");
}

TEST_F(AgentWorkflowTest, TheOfflineTransportAlwaysSaysItIsOffline) {
  auto offline = std::make_shared<OfflineTransport>(
      OfflineOptions{.script = {{.text = "scripted one"}, {.text = "scripted two"}}});
  testing::RecordingSink recorder;
  const AgentActivity ask{"ask", offline, {.sink = recorder.sink()}};
  const Workflow<std::string(std::string)> wf{
      "wf", [&](WorkflowContext& ctx, std::string p) -> Task<std::string> {
        const AgentRequest request{.prompt = p};
        AgentResult a = co_await ctx.run(ask, request);
        AgentResult b = co_await ctx.run(ask, request);
        co_return a.model + "|" + a.text + "|" + b.text;
      }};
  Engine& engine = boot([&](Engine& e) { e.add(wf); });
  EXPECT_EQ(engine.execute(wf, std::string("p")),
            "offline|[offline] scripted one|[offline] scripted two");
  EXPECT_EQ(recorder.text(), "[offline] scripted one[offline] scripted two");
}

TEST(MakeTransport, NeverPicksOfflineSilentlyWhenAKeyIsSet) {
  ::setenv("ANTHROPIC_API_KEY", "sk-env-key-1234", 1);
  EXPECT_NE(dynamic_cast<MessagesTransport*>(make_transport(TransportKind::kAuto).get()), nullptr);
  EXPECT_THROW(make_transport(TransportKind::kOffline), std::invalid_argument);
  EXPECT_NE(dynamic_cast<OfflineTransport*>(
                make_transport(TransportKind::kOffline, {.offline_despite_key = true}).get()),
            nullptr);
  ::unsetenv("ANTHROPIC_API_KEY");
  ::unsetenv("ANTHROPIC_AUTH_TOKEN");
  EXPECT_NE(dynamic_cast<OfflineTransport*>(make_transport(TransportKind::kAuto).get()), nullptr);
  EXPECT_NE(dynamic_cast<CliTransport*>(make_transport(TransportKind::kCli).get()), nullptr);
}

}  // namespace
}  // namespace durable::claude
