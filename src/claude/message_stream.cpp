#include "claude/message_stream.hpp"

#include "durable/claude/errors.hpp"

namespace durable::claude::detail {

namespace {

using nlohmann::json;

constexpr int kMaxBlocks = 4096;  // a bound on the content index, so bad data cannot grow memory

[[noreturn]] void protocol_error(const std::string& what) {
  throw RetryableError("Claude stream: " + what, {.status = 0, .type = "stream_error"});
}

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Overwrites the usage counters present in `from` (message_delta's usage is cumulative).
void merge_usage(json& into, const json& from) {
  if (!from.is_object()) return;
  if (!into.is_object()) into = json::object();
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (!it.value().is_null()) into[it.key()] = it.value();
  }
}

}  // namespace

void MessageStream::on_event(const SseEvent& event) {
  json data = json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (data.is_discarded() || !data.is_object()) {
    if (event.event == "ping") return;
    protocol_error("event '" + event.event + "' does not carry a JSON object");
  }
  // The event name is authoritative; a nameless event falls back to the data's type.
  std::string type = event.event != "message" ? event.event : string_at(data, "type");
  try {
    handle(type, data);
  } catch (const json::exception& e) {
    protocol_error("malformed '" + type + "' event: " + e.what());
  }
}

json& MessageStream::block(const json& data) {
  auto it = data.find("index");
  if (it == data.end() || !it->is_number_integer()) protocol_error("content event without index");
  auto index = it->get<std::int64_t>();
  if (index < 0 || index >= kMaxBlocks) protocol_error("content index out of range");
  json& content = message_["content"];
  if (!content.is_array()) content = json::array();
  while (content.size() <= static_cast<std::size_t>(index)) content.push_back(json::object());
  return content[static_cast<std::size_t>(index)];
}

void MessageStream::handle(const std::string& type, const json& data) {
  if (type == "message_start") {
    auto it = data.find("message");
    if (it == data.end() || !it->is_object()) protocol_error("message_start without a message");
    message_ = *it;
    if (!message_["content"].is_array()) message_["content"] = json::array();
    started_ = true;
    (*sink_)(
        {.kind = StreamEventKind::kStatus,
         .text = "message_start",
         .data = {{"id", string_at(message_, "id")}, {"model", string_at(message_, "model")}}});
  } else if (type == "content_block_start") {
    json& b = block(data);
    auto it = data.find("content_block");
    b = it != data.end() && it->is_object() ? *it : json::object();
    int index = data["index"].get<int>();
    if (string_at(b, "type") == "tool_use") {
      partial_json_[index].clear();
      (*sink_)({.kind = StreamEventKind::kToolInput,
                .index = index,
                .data = {{"id", string_at(b, "id")}, {"name", string_at(b, "name")}}});
    }
  } else if (type == "content_block_delta") {
    json& b = block(data);
    int index = data["index"].get<int>();
    auto it = data.find("delta");
    if (it == data.end() || !it->is_object()) protocol_error("content_block_delta without delta");
    const json& delta = *it;
    std::string kind = string_at(delta, "type");
    if (kind == "text_delta") {
      std::string text = string_at(delta, "text");
      std::string so_far = string_at(b, "text");
      b["text"] = so_far + text;
      (*sink_)({.kind = StreamEventKind::kText, .index = index, .text = text});
    } else if (kind == "input_json_delta") {
      std::string part = string_at(delta, "partial_json");
      partial_json_[index] += part;
      (*sink_)({.kind = StreamEventKind::kToolInput,
                .index = index,
                .text = part,
                .data = {{"id", string_at(b, "id")}, {"name", string_at(b, "name")}}});
    } else if (kind == "thinking_delta") {
      std::string text = string_at(delta, "thinking");
      b["thinking"] = string_at(b, "thinking") + text;
      (*sink_)({.kind = StreamEventKind::kThinking, .index = index, .text = text});
    } else if (kind == "signature_delta") {
      b["signature"] = string_at(b, "signature") + string_at(delta, "signature");
    } else if (kind == "citations_delta") {
      if (!b["citations"].is_array()) b["citations"] = json::array();
      if (auto c = delta.find("citation"); c != delta.end()) b["citations"].push_back(*c);
    }
    // Other delta types: ignored, as the SDKs' forward-compatible parsers do.
  } else if (type == "content_block_stop") {
    json& b = block(data);
    int index = data["index"].get<int>();
    if (auto it = partial_json_.find(index); it != partial_json_.end()) {
      if (it->second.empty()) {
        b["input"] = json::object();
      } else {
        json input = json::parse(it->second, nullptr, false);
        if (input.is_discarded()) protocol_error("tool input is not valid JSON");
        b["input"] = std::move(input);
      }
      partial_json_.erase(it);
      (*sink_)(
          {.kind = StreamEventKind::kToolUse,
           .index = index,
           .data = {
               {"id", string_at(b, "id")}, {"name", string_at(b, "name")}, {"input", b["input"]}}});
    }
  } else if (type == "message_delta") {
    if (auto it = data.find("delta"); it != data.end() && it->is_object()) {
      if (auto s = it->find("stop_reason"); s != it->end()) message_["stop_reason"] = *s;
      if (auto s = it->find("stop_sequence"); s != it->end()) message_["stop_sequence"] = *s;
    }
    if (auto it = data.find("usage"); it != data.end()) merge_usage(message_["usage"], *it);
  } else if (type == "message_stop") {
    complete_ = true;
  } else if (type == "ping") {
    (*sink_)({.kind = StreamEventKind::kStatus, .text = "ping"});
  } else if (type == "error") {
    const json& error = data.contains("error") && data["error"].is_object() ? data["error"] : data;
    std::string error_type = string_at(error, "type");
    std::string message = "Claude stream error: " + error_type + ": " + string_at(error, "message");
    ErrorInfo info{.status = 0, .type = error_type};
    if (is_retryable_error_type(error_type)) throw RetryableError(message, std::move(info));
    throw PermanentError(message, std::move(info));
  }
  // Unknown event types: ignored.
}

}  // namespace durable::claude::detail
