#include "durable/claude/stream_publisher.hpp"

namespace durable::claude {

void StreamPublisher::on_event(const StreamEvent& event) {
  switch (event.kind) {
    case StreamEventKind::kText:
    case StreamEventKind::kThinking: {
      if (!pending_.empty() && (event.kind != pending_kind_ || event.index != pending_index_)) {
        flush();
      }
      if (pending_.empty()) {
        pending_kind_ = event.kind;
        pending_index_ = event.index;
        pending_since_ = std::chrono::steady_clock::now();
      }
      pending_ += event.text;
      if (pending_.size() >= kBatchChars ||
          std::chrono::steady_clock::now() - pending_since_ >= kBatchAge) {
        flush();
      }
      return;
    }
    case StreamEventKind::kToolInput:
      return;  // fragments; the complete call follows as kToolUse
    case StreamEventKind::kToolUse:
      flush();
      emit("claude.tool_use", event.data);
      return;
    case StreamEventKind::kToolResult:
      flush();
      emit("claude.tool_result", event.data);
      return;
    case StreamEventKind::kStatus: {
      if (event.text == "ping") return;
      flush();
      nlohmann::json data = event.data.is_object() ? event.data : nlohmann::json::object();
      data["status"] = event.text;
      emit("claude.status", std::move(data));
      return;
    }
    case StreamEventKind::kMessage:
      if (event.data.is_object() && event.data.value("type", "") == "assistant") return;
      flush();
      emit("claude.message", event.data);
      return;
  }
}

void StreamPublisher::flush() {
  if (pending_.empty()) return;
  std::string text = std::move(pending_);
  pending_.clear();
  emit(pending_kind_ == StreamEventKind::kThinking ? "claude.thinking" : "claude.text",
       {{"index", pending_index_}, {"text", std::move(text)}});
}

void StreamPublisher::finish(const AgentResult& result) {
  flush();
  emit("claude.result", {{"stop_reason", result.stop_reason},
                         {"usage", result.usage},
                         {"num_turns", result.num_turns},
                         {"model", result.model},
                         {"session_id", result.session_id},
                         {"cost_usd", result.cost_usd},
                         {"is_error", result.is_error}});
}

void StreamPublisher::emit(std::string_view kind, nlohmann::json data) {
  if (!data.is_object()) data = nlohmann::json{{"value", std::move(data)}};
  data["attempt"] = ctx_->attempt();
  ctx_->emit(kind, data);
}

}  // namespace durable::claude
