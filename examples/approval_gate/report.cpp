#include "report.hpp"

#include <fmt/format.h>

#include "workflow.hpp"

namespace approval_gate {
namespace {

using durable::Event;
using durable::EventType;
using durable::ExecutionStatus;
using durable::Json;

Json parse_or_empty(const std::string& text) {
  if (text.empty()) return Json::object();
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? Json::object() : value;
}

// How the compensation ended, from its journal events.
std::string compensation_line(const std::vector<Event>& history) {
  for (const Event& e : history) {
    if (e.name != kWithdrawActivity) continue;
    if (e.type == EventType::kActivityCompleted)
      return "  the plan was withdrawn (compensation ran)";
    if (e.type == EventType::kActivityFailed) {
      Json error = parse_or_empty(e.data).value("error", Json::object());
      return "  withdrawing the plan failed (compensation failed): " +
             error.value("message", std::string("unknown error"));
    }
  }
  return "  there was no plan to withdraw";
}

// Claude's texts, one or many lines, as an indented block.
std::string indented(const std::string& text) {
  std::string out = "    ";
  for (char c : text) {
    out += c;
    if (c == '\n') out += "    ";
  }
  return out;
}

}  // namespace

Report make_report(const durable::ExecutionRecord& record, const std::vector<Event>& history) {
  if (record.status == ExecutionStatus::kCompleted) {
    auto outcome = parse_or_empty(record.result).get<Outcome>();
    return {
        fmt::format("report: approved and carried out\n  reason: {}\n  plan:\n{}\n  result:\n{}",
                    outcome.reason.empty() ? "(none given)" : outcome.reason,
                    indented(outcome.plan), indented(outcome.result)),
        0};
  }
  Json error = parse_or_empty(record.error);
  const std::string type = error.value("type", std::string("unknown"));
  const std::string message = error.value("message", std::string());
  switch (record.status) {
    case ExecutionStatus::kFailed:
      if (type == kNotApprovedType) {
        // NotApproved messages are "<outcome>: <why>".
        auto colon = message.find(": ");
        std::string outcome = message.substr(0, colon);
        std::string why = colon == std::string::npos ? "" : message.substr(colon + 2);
        return {fmt::format("report: {} ({})\n{}", outcome, why, compensation_line(history)), 0};
      }
      return {fmt::format("report: failed ({}: {})\n{}", type, message, compensation_line(history)),
              1};
    case ExecutionStatus::kCancelled:
      return {fmt::format("report: cancelled\n{}", compensation_line(history)), 1};
    case ExecutionStatus::kNeedsAttention:
      return {
          fmt::format("report: needs attention ({}: {})\n  fix the code and resume execution {}",
                      type, message, record.id),
          1};
    default:
      return {fmt::format("report: not finished (status {})", durable::to_string(record.status)),
              1};
  }
}

Progress read_progress(const std::vector<Event>& history) {
  Progress progress;
  for (const Event& e : history) {
    if (e.type == EventType::kActivityStarted && e.name == kPublishActivity && !progress.token) {
      Json input = parse_or_empty(e.data).value("input", Json::array());
      if (input.is_array() && !input.empty() && input[0].is_string()) {
        progress.token = input[0].get<std::string>();
      }
    } else if (e.name == kApproval.name() && e.type == EventType::kDeferredAwaited) {
      progress.awaiting_approval = true;
      Json data = parse_or_empty(e.data);
      if (data.contains("deadline") && data["deadline"].is_number_integer()) {
        progress.deadline =
            durable::TimePoint{durable::Duration{data["deadline"].get<std::int64_t>()}};
      }
    } else if (e.name == kApproval.name() &&
               (e.type == EventType::kDeferredResolved || e.type == EventType::kDeferredTimedOut)) {
      progress.awaiting_approval = false;
      progress.decided = true;
    }
  }
  return progress;
}

}  // namespace approval_gate
