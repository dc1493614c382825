// MessagesTransport: a query as `POST {base}/v1/messages` with a streamed (SSE) reply, over
// libcurl.
//
// Credentials and the endpoint come from the options or, when those are empty, from the
// environment at query time: ANTHROPIC_API_KEY (sent as `x-api-key`) or ANTHROPIC_AUTH_TOKEN
// (sent as `Authorization: Bearer`), and ANTHROPIC_BASE_URL (default https://api.anthropic.com).
// The activity's idempotency key is sent as `metadata.user_id`.
//
// Tool use: with a tool handler, a reply that stops for `tool_use` is answered by calling the
// handler for each tool call and sending the results back, up to max_turns requests in all. The
// whole loop is one activity attempt: a retried attempt starts the conversation over.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/claude/transport.hpp"

namespace durable::claude {

// Answers one tool call. The returned JSON becomes the tool_result content (a string as is,
// anything else as its JSON text). A throw becomes a tool_result with is_error set and the
// exception's message as content.
using ToolHandler =
    std::function<nlohmann::json(const std::string& name, const nlohmann::json& input)>;

struct MessagesOptions {
  std::string base_url{};    // empty: $ANTHROPIC_BASE_URL, else https://api.anthropic.com
  std::string api_key{};     // empty: $ANTHROPIC_API_KEY
  std::string auth_token{};  // empty: $ANTHROPIC_AUTH_TOKEN (used when there is no API key)
  std::string default_model = "claude-sonnet-4-5";
  std::vector<std::string> beta{};  // `anthropic-beta` values
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{600'000};  // the whole request, reply included
  bool stream = true;
  ToolHandler tool_handler{};
  int default_max_turns = 10;  // tool-use loop bound when the request says 0
};

class MessagesTransport final : public Transport {
 public:
  explicit MessagesTransport(MessagesOptions options = {});
  ~MessagesTransport() override;

  AgentResult query(const AgentRequest& request, ActivityContext& ctx,
                    const EventSink& sink) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace durable::claude
