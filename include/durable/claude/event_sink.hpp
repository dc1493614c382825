// EventSink: where a query's stream goes while it runs (text deltas, tool input, thinking,
// status, CLI transcript messages).
//
// AgentActivity publishes the stream to the execution's event stream (stream_publisher.hpp); a
// sink is an optional extra callback the caller supplies. It is called on the activity's worker
// thread, in stream order, only while a query runs live: a replayed query produces no events. It
// never receives a secret.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace durable::claude {

enum class StreamEventKind {
  kStatus,      // progress: "message_start", "turn", "retry", "ping", "spawned", …; text names it
  kText,        // a text delta; text holds it
  kToolInput,   // a fragment of a tool call's input JSON; text holds it, data {id, name}
  kToolUse,     // a complete tool call; data {id, name, input}
  kToolResult,  // what the tool handler answered; data {tool_use_id, content, is_error}
  kThinking,    // a thinking delta; text holds it
  kMessage,     // one CLI transcript message (system/assistant/user/result); data holds it
};

struct StreamEvent {
  StreamEventKind kind = StreamEventKind::kStatus;
  int index = 0;  // content block index, where there is one
  std::string text{};
  nlohmann::json data{};
};

using EventSink = std::function<void(const StreamEvent&)>;

// A sink that discards everything.
inline EventSink discard_events() {
  return [](const StreamEvent&) {};
}

}  // namespace durable::claude
