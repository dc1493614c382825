#include "cli/timeline.hpp"

#include <fmt/format.h>

#include "cli/json_view.hpp"
#include "cli/time_format.hpp"

namespace durable::cli {
namespace {

// Long enough to recognise a value, short enough to keep a row on one screen line.
constexpr std::size_t kValueChars = 60;

std::string short_json(const Json& value) {
  return one_line(value.is_string() ? value.get<std::string>() : value.dump(), kValueChars);
}

std::string time_field(const Json& data, const char* key) {
  if (!data.contains(key) || !data[key].is_number_integer()) return "?";
  return iso8601_ms(data[key].get<std::int64_t>());
}

std::string int_field(const Json& data, const char* key) {
  if (!data.contains(key) || !data[key].is_number_integer()) return "?";
  return std::to_string(data[key].get<std::int64_t>());
}

std::string error_field(const Json& data) {
  return data.contains("error") ? describe_error(data["error"]) : "unknown error";
}

std::string summarize_data(EventType type, const Json& data) {
  switch (type) {
    case EventType::kStarted:
      return "input " + short_json(data.value("input", Json(nullptr)));
    case EventType::kActivityStarted:
      return "attempt " + int_field(data, "attempt") +
             (data.contains("input") ? ", input " + short_json(data["input"]) : "");
    case EventType::kActivityAttemptFailed:
      return fmt::format("attempt {} failed: {}; retry at {}", int_field(data, "attempt"),
                         error_field(data), time_field(data, "retry_at"));
    case EventType::kActivityCompleted:
    case EventType::kDeferredResolved:
    case EventType::kSideEffect:
      return "value " + short_json(data.value("value", Json(nullptr)));
    case EventType::kActivityFailed:
      return fmt::format("failed after {} attempt(s): {}", int_field(data, "attempts"),
                         error_field(data));
    case EventType::kTimerScheduled:
      return "due " + time_field(data, "due");
    case EventType::kDeferredAwaited:
      return data.contains("deadline") ? "deadline " + time_field(data, "deadline") : "no deadline";
    case EventType::kCompleted:
      return "result " + short_json(data.value("value", Json(nullptr)));
    case EventType::kFailed:
      return error_field(data);
    case EventType::kCancelled:
      return data.contains("error") ? error_field(data) : "";
    case EventType::kCompensationStarted:
      return fmt::format("{} compensation(s) because {}", int_field(data, "count"),
                         short_json(data.value("reason", Json("?"))));
    case EventType::kChildStarted:
      return fmt::format("child {} ({}), input {}", data.value("child", std::string("?")),
                         data.value("workflow", std::string("?")),
                         short_json(data.value("input", Json(nullptr))));
    case EventType::kChildCompleted:
    case EventType::kQueueItemCompleted:
      return "value " + short_json(data.value("value", Json(nullptr)));
    case EventType::kChildFailed:
    case EventType::kQueueItemFailed:
      return error_field(data);
    case EventType::kQueueItemEnqueued:
      return fmt::format("queue '{}', item '{}'", data.value("queue", std::string("?")),
                         data.value("key", std::string("?")));
    case EventType::kTimerFired:
    case EventType::kDeferredTimedOut:
    case EventType::kOpCancelled:
    case EventType::kPatchMarker:
      break;
  }
  return data.is_null() || (data.is_object() && data.empty()) ? "" : short_json(data);
}

}  // namespace

std::string describe_error(const Json& error, std::size_t max_chars) {
  if (!error.is_object() || !error.contains("message")) return one_line(error.dump(), max_chars);
  std::string text = error.value("type", std::string("error")) + ": " +
                     (error["message"].is_string() ? error["message"].get<std::string>()
                                                   : error["message"].dump());
  if (error.contains("compensations") && error["compensations"].is_number_integer()) {
    text += fmt::format(" ({} compensation(s) ran)", error["compensations"].get<int>());
  }
  return one_line(text, max_chars);
}

std::string summarize(const Event& event) {
  Json data = stored_json(event.data);
  try {
    if (data.is_object() || data.is_null()) return summarize_data(event.type, data);
  } catch (const Json::exception&) {
    // A field of an unexpected type: fall through and show the data as it is.
  }
  return short_json(data);
}

Table timeline(const std::vector<Event>& events) {
  Table table({"#", "TIME", "EVENT", "OP", "NAME", "DETAILS"});
  for (const Event& e : events) {
    table.add_row({std::to_string(e.index), iso8601(e.time), to_string(e.type),
                   e.op < 0 ? "-" : std::to_string(e.op), one_line(e.name, kValueChars),
                   summarize(e)});
  }
  return table;
}

std::string event_line(const Event& event) {
  // Event types padded to the longest name ("activity_attempt_failed"), so the lines align.
  std::string line = fmt::format(
      "#{}  {}  {:<23}  op={}  {}", event.index, iso8601(event.time), to_string(event.type),
      event.op < 0 ? "-" : std::to_string(event.op), one_line(event.name, kValueChars));
  std::string summary = summarize(event);
  if (!summary.empty()) line += "  " + summary;
  return line;
}

std::string stream_line(const StreamEntry& entry) {
  constexpr std::size_t kStreamDataChars = 200;
  std::string line = fmt::format("#{}  {}  {:<8}", entry.offset, iso8601(entry.time), entry.kind);
  Json data = Json::parse(entry.data.empty() ? "null" : entry.data, nullptr, false);
  if (entry.kind == "status" && data.is_object() && data.contains("status") &&
      data["status"].is_string()) {
    line += "  " + data["status"].get<std::string>();
    if (data.contains("waiting_on") && data["waiting_on"].is_string()) {
      line += "  " + one_line(data["waiting_on"].get<std::string>(), kValueChars);
    }
    if (data.contains("error") && data["error"].is_object() && data["error"].contains("message")) {
      line += "  " + one_line(data["error"]["message"].dump(), kStreamDataChars);
    }
    return line;
  }
  if (data.is_discarded()) return line + "  " + one_line(entry.data, kStreamDataChars);
  if (!data.is_null()) line += "  " + one_line(data.dump(), kStreamDataChars);
  return line;
}

}  // namespace durable::cli
