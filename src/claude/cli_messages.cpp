#include "claude/cli_messages.hpp"

#include <cstdlib>
#include <regex>

#include "durable/claude/errors.hpp"
#include "durable/codec.hpp"

namespace durable::claude::detail {

namespace {

using nlohmann::json;

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A count the CLI reports, or `fallback` when it is missing or not an integer T can hold.
template <class T>
T count_at(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  return durable::detail::exact_integer<T>(*it).value_or(fallback);
}

// The HTTP status an is_error result names ("API Error: 401 {...}"), when it names one.
int status_in(const json& result) {
  if (auto it = result.find("api_error_status"); it != result.end()) {
    if (auto status = durable::detail::exact_integer<int>(*it)) return *status;
  }
  static const std::regex kStatus(R"(API Error: (\d{3}))");
  std::smatch m;
  std::string text = string_at(result, "result");
  if (std::regex_search(text, m, kStatus)) return std::atoi(m[1].str().c_str());
  return 0;
}

}  // namespace

void CliSession::on_message(const json& message) {
  (*sink_)({.kind = StreamEventKind::kMessage, .data = message});
  std::string type = string_at(message, "type");
  if (auto id = string_at(message, "session_id"); !id.empty()) session_id_ = id;
  if (type == "system") {
    if (auto model = string_at(message, "model"); !model.empty()) model_ = model;
  } else if (type == "assistant") {
    auto it = message.find("message");
    if (it == message.end() || !it->is_object()) return;
    ++assistant_turns_;
    if (auto model = string_at(*it, "model"); !model.empty()) model_ = model;
    auto content = it->find("content");
    if (content == it->end() || !content->is_array()) return;
    std::string text;
    for (const json& b : *content) {
      if (!b.is_object()) continue;
      std::string kind = string_at(b, "type");
      if (kind == "text") {
        text += string_at(b, "text");
      } else if (kind == "thinking") {
        (*sink_)({.kind = StreamEventKind::kThinking, .text = string_at(b, "thinking")});
      }
    }
    if (!text.empty()) {
      last_text_ = text;
      (*sink_)({.kind = StreamEventKind::kText, .text = text});
    }
  } else if (type == "result") {
    result_ = message;
  }
  // user, stream_event and unknown types: only forwarded.
}

AgentResult CliSession::finish(const std::string& exit_description) const {
  if (!result_) {
    throw RetryableError("Claude CLI ended without a result (" + exit_description + ")",
                         {.status = 0, .type = "cli_no_result"});
  }
  const json& r = *result_;
  AgentResult out;
  out.session_id = session_id_;
  out.model = model_;
  out.text = r.contains("result") ? string_at(r, "result") : last_text_;
  std::string subtype = string_at(r, "subtype");
  out.stop_reason = string_at(r, "stop_reason");
  out.num_turns = count_at<int>(r, "num_turns", assistant_turns_);
  if (auto it = r.find("total_cost_usd"); it != r.end() && it->is_number()) {
    out.cost_usd = it->get<double>();
  }
  if (auto it = r.find("usage"); it != r.end() && it->is_object()) {
    out.usage.input_tokens = count_at<std::int64_t>(*it, "input_tokens", 0);
    out.usage.output_tokens = count_at<std::int64_t>(*it, "output_tokens", 0);
    out.usage.cache_creation_input_tokens =
        count_at<std::int64_t>(*it, "cache_creation_input_tokens", 0);
    out.usage.cache_read_input_tokens = count_at<std::int64_t>(*it, "cache_read_input_tokens", 0);
  }
  bool is_error = r.contains("is_error") && r["is_error"].is_boolean() && r["is_error"].get<bool>();
  if (subtype == "error_max_turns" || subtype == "error_max_budget_usd") {
    // A legitimate end the caller decides about; another attempt would end the same way.
    out.is_error = true;
    out.stop_reason = subtype;
    return out;
  }
  if (subtype == "error_during_execution") {
    throw RetryableError(
        "Claude CLI: error during execution" + (out.text.empty() ? std::string() : ": " + out.text),
        {.status = 0, .type = subtype});
  }
  if (subtype != "success" && !subtype.empty()) {
    // An error subtype this version does not know: reported, not retried blindly.
    out.is_error = true;
    out.stop_reason = subtype;
    return out;
  }
  if (is_error) {
    int status = status_in(r);
    std::string message = "Claude CLI: " + (out.text.empty() ? "error" : out.text);
    ErrorInfo info{.status = status, .type = "cli_error"};
    if (status != 0 && !is_retryable_status(status)) throw PermanentError(message, info);
    throw RetryableError(message, info);
  }
  return out;
}

}  // namespace durable::claude::detail
