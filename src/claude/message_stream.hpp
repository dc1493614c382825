// MessageStream: rebuilds a Messages API reply from its server-sent events, so that a streamed
// reply ends up as the same JSON message a non-streamed one is.
//
// Handles message_start, content_block_start/delta/stop (text_delta, input_json_delta — the
// fragments are concatenated and parsed at the block's stop, an empty whole meaning {} —
// thinking_delta, signature_delta, citations_delta), message_delta (stop reason, cumulative
// usage), message_stop and ping; ignores unknown events and delta types. An `error` event throws
// RetryableError or PermanentError by its error.type; malformed data throws RetryableError (a
// corrupted stream is worth another attempt). Forwards deltas to the sink as they arrive.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "claude/sse_parser.hpp"
#include "durable/claude/event_sink.hpp"

namespace durable::claude::detail {

class MessageStream {
 public:
  explicit MessageStream(const EventSink& sink) : sink_(&sink) {}

  void on_event(const SseEvent& event);
  // True once message_stop arrived.
  bool complete() const { return complete_; }
  bool started() const { return started_; }
  // The message so far: {id, type, role, model, content[], stop_reason, stop_sequence, usage}.
  const nlohmann::json& message() const { return message_; }

 private:
  void handle(const std::string& type, const nlohmann::json& data);
  nlohmann::json& block(const nlohmann::json& data);

  const EventSink* sink_;
  nlohmann::json message_ = nlohmann::json::object();
  std::map<int, std::string> partial_json_{};
  bool started_ = false;
  bool complete_ = false;
};

}  // namespace durable::claude::detail
