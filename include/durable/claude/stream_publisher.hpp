// StreamPublisher: an EventSink that publishes a Claude query's stream to the execution's event
// stream (stream_entry.hpp) through ActivityContext::emit, as it arrives. AgentActivity uses it.
//
// Entries (all carry "attempt", the activity attempt they come from):
//   claude.text        {"index", "text"}   text deltas, batched: a batch is published when it
//   claude.thinking    {"index", "text"}   reaches kBatchChars, when kBatchAge has passed since its
//                                          first delta (checked as deltas arrive), when another
//                                          kind of event comes, and at the end of the query
//   claude.tool_use    {"id", "name", "input"}   a complete tool call (input fragments are not
//                                                published one by one)
//   claude.tool_result {"tool_use_id", "content", "is_error"}
//   claude.status      {"status", ...}     "message_start", "turn", "retry", "spawned", ...
//                                          (pings are not published)
//   claude.message     a CLI transcript message other than "assistant" (whose content arrives
//                      as the entries above): system, user (tool results), result
//   claude.result      {"stop_reason", "usage", "num_turns", "model", "session_id", "cost_usd",
//                       "is_error"}   once the query returned
// Secrets never reach it: the transports never give a sink a key or token.
//
// Threading: used on the activity's worker thread only, like the ActivityContext it holds.
#pragma once

#include <chrono>
#include <string>

#include "durable/activity.hpp"
#include "durable/claude/event_sink.hpp"
#include "durable/claude/types.hpp"

namespace durable::claude {

class StreamPublisher {
 public:
  static constexpr std::size_t kBatchChars = 512;
  static constexpr std::chrono::milliseconds kBatchAge{250};

  explicit StreamPublisher(ActivityContext& ctx) : ctx_(&ctx) {}

  void on_event(const StreamEvent& event);
  // Publishes the pending batch, if any.
  void flush();
  // Flushes, then publishes claude.result.
  void finish(const AgentResult& result);

 private:
  void emit(std::string_view kind, nlohmann::json data);

  ActivityContext* ctx_;
  StreamEventKind pending_kind_ = StreamEventKind::kText;
  int pending_index_ = 0;
  std::string pending_;
  std::chrono::steady_clock::time_point pending_since_{};
};

}  // namespace durable::claude
