#include "progress.hpp"

#include <cstdio>
#include <mutex>

namespace approval_gate {
namespace {

std::mutex g_console_mutex;

using durable::Json;

// The member `name` of `data` if it is an object that has one, or null.
const Json* member(const Json& data, const char* name) {
  if (!data.is_object()) return nullptr;
  auto it = data.find(name);
  return it == data.end() ? nullptr : &*it;
}

std::string string_member(const Json& data, const char* name) {
  const Json* value = member(data, name);
  return value && value->is_string() ? value->get<std::string>() : std::string();
}

}  // namespace

std::string_view to_string(Step step) {
  switch (step) {
    case Step::kPlanning:
      return "planning";
    case Step::kPlanDrafted:
      return "plan drafted";
    case Step::kWaiting:
      return "waiting for approval";
    case Step::kApproved:
      return "approved";
    case Step::kRejected:
      return "not approved";
    case Step::kCoolingDown:
      return "cooling down";
    case Step::kExecuting:
      return "executing the plan";
    case Step::kDone:
      return "done";
    case Step::kWithdrawing:
      return "withdrawing the plan";
  }
  return "?";
}

Json progress_entry(Step step, std::string_view detail, std::string_view query) {
  Json data{{"step", to_string(step)}};
  if (!detail.empty()) data["detail"] = detail;
  if (!query.empty()) data["query"] = query;
  return data;
}

void ProgressPrinter::step(Step step, std::string_view detail) {
  std::string line(to_string(step));
  if (!detail.empty()) line += " (" + std::string(detail) + ")";
  say(line);
}

void ProgressPrinter::entry(const durable::StreamEntry& entry) {
  const Json data = Json::parse(entry.data.empty() ? "{}" : entry.data, nullptr, false);
  const std::string prefix = "  " + label_ + " | ";
  if (entry.kind == "progress") {
    flush();
    std::string line = string_member(data, "step");
    if (line.empty()) return;
    if (std::string detail = string_member(data, "detail"); !detail.empty()) {
      line += " (" + detail + ")";
    }
    say(line);
    if (std::string query = string_member(data, "query"); !query.empty()) label_ = query;
  } else if (entry.kind == "claude.text") {
    const Json* index = member(data, "index");
    std::int64_t at = index && index->is_number_integer() ? index->get<std::int64_t>() : 0;
    if (at != pending_index_) flush();  // a new content block starts a new line
    pending_index_ = at;
    pending_ += string_member(data, "text");
    for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      say(prefix + pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
  } else if (entry.kind == "claude.tool_use") {
    flush();
    std::string name = string_member(data, "name");
    say(prefix + "[tool] " + (name.empty() ? "?" : name));
  } else if (entry.kind == "claude.message" || entry.kind == "claude.result") {
    flush();  // a CLI transcript message or the query's end: the text so far is a whole line
  }
}

void ProgressPrinter::flush() {
  if (!pending_.empty()) say("  " + label_ + " | " + pending_);
  pending_.clear();
  pending_index_ = -1;
}

void say(const std::string& line) {
  std::lock_guard lock(g_console_mutex);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace approval_gate
