#include "progress.hpp"

#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace approval_gate {
namespace {

using durable::claude::StreamEvent;
using durable::claude::StreamEventKind;

std::mutex g_console_mutex;
std::optional<std::thread::id> g_holder;
std::vector<std::string> g_held_lines;

void write_line(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

class LineStream final : public ProgressPrinter::Stream {
 public:
  explicit LineStream(std::string label) : prefix_("  " + std::move(label) + " | ") {}

  durable::claude::EventSink sink() override {
    return [this](const StreamEvent& event) { on_event(event); };
  }

  void finish() override {
    std::lock_guard lock(mutex_);
    if (!pending_.empty()) say(prefix_ + pending_);
    pending_.clear();
  }

 private:
  void on_event(const StreamEvent& event) {
    std::lock_guard lock(mutex_);
    if (event.kind == StreamEventKind::kText) {
      pending_ += event.text;
      for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
        say(prefix_ + pending_.substr(0, nl));
        pending_.erase(0, nl + 1);
      }
    } else if (event.kind == StreamEventKind::kToolUse) {
      say(prefix_ + "[tool] " + event.data.value("name", std::string("?")));
    } else if (event.kind == StreamEventKind::kMessage) {
      // A CLI transcript message: its text (a kText event that follows) starts a new line, and
      // an assistant message's tool calls are shown by name.
      if (!pending_.empty()) say(prefix_ + pending_);
      pending_.clear();
      const nlohmann::json& data = event.data;
      if (!data.is_object() || data.value("type", "") != "assistant") return;
      auto message = data.find("message");
      if (message == data.end() || !message->is_object()) return;
      auto content = message->find("content");
      if (content == message->end() || !content->is_array()) return;
      for (const auto& block : *content) {
        if (block.is_object() && block.value("type", "") == "tool_use") {
          say(prefix_ + "[tool] " + block.value("name", std::string("?")));
        }
      }
    }
  }

  std::mutex mutex_;
  std::string prefix_;
  std::string pending_;
};

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

void ProgressPrinter::step(Step step, std::string_view detail) {
  std::string line(to_string(step));
  if (!detail.empty()) line += " (" + std::string(detail) + ")";
  say(line);
}

std::unique_ptr<ProgressPrinter::Stream> ProgressPrinter::stream(std::string label) {
  return std::make_unique<LineStream>(std::move(label));
}

ProgressPrinter& progress() {
  static ProgressPrinter printer;
  return printer;
}

void say(const std::string& line) {
  std::lock_guard lock(g_console_mutex);
  if (g_holder && *g_holder != std::this_thread::get_id()) {
    g_held_lines.push_back(line);
  } else {
    write_line(line);
  }
}

void hold_output() {
  std::lock_guard lock(g_console_mutex);
  g_holder = std::this_thread::get_id();
}

void release_output() {
  std::lock_guard lock(g_console_mutex);
  g_holder.reset();
  for (const auto& line : g_held_lines) write_line(line);
  g_held_lines.clear();
}

}  // namespace approval_gate
