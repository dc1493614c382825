// CliSession: folds the CLI's stream-json messages into an AgentResult.
//
// Message types: system (init: session id, model), assistant (an API message; its text is the
// latest answer), user (tool results), stream_event (a raw API stream event), result (the
// outcome). Unknown types are ignored. Each message also goes to the sink as kMessage, and text
// and thinking as kText / kThinking.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "durable/claude/event_sink.hpp"
#include "durable/claude/types.hpp"

namespace durable::claude::detail {

class CliSession {
 public:
  explicit CliSession(const EventSink& sink) : sink_(&sink) {}

  void on_message(const nlohmann::json& message);
  bool has_result() const { return result_.has_value(); }
  // The outcome. Throws RetryableError or PermanentError for results that are errors to retry or
  // to give up on (see cli_transport.hpp); without a result message, throws RetryableError
  // naming `exit_description` (how the child ended).
  AgentResult finish(const std::string& exit_description) const;

 private:
  const EventSink* sink_;
  std::string session_id_{};
  std::string model_{};
  std::string last_text_{};
  int assistant_turns_ = 0;
  std::optional<nlohmann::json> result_{};
};

}  // namespace durable::claude::detail
