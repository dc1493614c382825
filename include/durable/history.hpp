// HistoryEntry: one journal event as Engine::timeline returns it, decoded for tools and programs
// that inspect executions (what `durable show` prints as its timeline).
#pragma once

#include <cstdint>
#include <string>

#include "durable/clock.hpp"
#include "durable/codec.hpp"
#include "durable/journal_store.hpp"

namespace durable {

struct HistoryEntry {
  std::int64_t index = 0;  // the event's index in the journal (0 is `started`)
  EventType type = EventType::kStarted;
  std::string type_name;  // to_string(type): "activity_completed"
  // The operation (step) the event belongs to, as `durable show` and Engine::restart number
  // them; -1 for an execution-level event (started, completed, failed, ...).
  std::int32_t op = -1;
  std::string name;  // the step's name (activity, timer, deferred); the workflow for event 0
  Json data;         // the event's data (docs/journal-format.md); null when it carries none
  TimePoint time{};
};

}  // namespace durable
