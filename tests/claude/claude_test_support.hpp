// Helpers shared by the Claude tests: an ActivityContext outside an engine, and a sink that
// records what it is given.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "durable/activity.hpp"
#include "durable/claude/event_sink.hpp"

namespace durable::claude::testing {

// An attempt's context as the engine would make it: execution "exec-1", operation 3, attempt 1.
struct TestContext {
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  ActivityContext ctx{"exec-1", "ask", 3, 1, cancel};
};

struct RecordingSink {
  mutable std::mutex mutex;
  std::vector<StreamEvent> events;

  EventSink sink() {
    return [this](const StreamEvent& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
  }
  std::string text() const {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& e : events) {
      if (e.kind == StreamEventKind::kText) out += e.text;
    }
    return out;
  }
  // Everything the sink saw, as one string: for "never contains" checks.
  std::string dump() const {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& e : events) out += e.text + "|" + e.data.dump() + "\n";
    return out;
  }
  std::size_t count(StreamEventKind kind) const {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& e : events) n += e.kind == kind;
    return n;
  }
};

}  // namespace durable::claude::testing
