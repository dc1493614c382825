// What a sound journal looks like after any sequence of crashes and faults, checked from the
// events alone. Shared by the fault-injection and SIGKILL crash tests.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "durable/codec.hpp"
#include "durable/journal_store.hpp"

namespace durable::testing {

// What the journal says about one activity operation.
struct ActivityOpSummary {
  std::string name;
  std::vector<int> attempts_started;  // from kActivityStarted, in journal order
  int completed = 0;                  // kActivityCompleted events
  int failed = 0;                     // kActivityFailed events
};

struct JournalSummary {
  std::vector<std::string> violations;  // empty when the journal is sound
  std::map<int, ActivityOpSummary> activities;
};

// Checks an execution's journal: indices 0..next_index-1 with no gap or duplicate, event 0 is
// kStarted, activity attempts are numbered 1, 2, ... and end in at most one outcome, a timer is
// scheduled once and fires at most once, a deferred is awaited once and resolved at most once,
// nothing follows an op's outcome, and a final execution ends with exactly one final event. When
// `finished` is true every activity, timer and deferred op must have its outcome.
inline JournalSummary check_journal(const std::string& id, const std::vector<Event>& events,
                                    std::int64_t next_index, bool finished) {
  JournalSummary out;
  auto bad = [&](std::string message) {
    out.violations.push_back(fmt::format("execution {}: {}", id, message));
  };
  if (static_cast<std::int64_t>(events.size()) != next_index) {
    bad(fmt::format("{} events but next_index is {}", events.size(), next_index));
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].index != static_cast<std::int64_t>(i)) {
      bad(fmt::format("event at position {} has index {}", i, events[i].index));
    }
  }
  if (events.empty() || events[0].type != EventType::kStarted) bad("event 0 is not 'started'");

  struct OpEvents {
    int scheduled = 0, outcomes = 0;
    bool timer = false, deferred = false;
  };
  std::map<int, OpEvents> ops;
  int final_events = 0;
  for (const Event& e : events) {
    if (e.op < 0) {
      if (e.type == EventType::kCompleted || e.type == EventType::kFailed ||
          e.type == EventType::kCancelled) {
        ++final_events;
        if (&e != &events.back()) bad(fmt::format("final event {} is not the last", e.index));
      }
      continue;
    }
    OpEvents& op = ops[e.op];
    if (op.outcomes > 0) {
      bad(fmt::format("event {} ({}) follows the outcome of op {}", e.index, to_string(e.type),
                      e.op));
    }
    switch (e.type) {
      case EventType::kActivityStarted: {
        ActivityOpSummary& a = out.activities[e.op];
        a.name = e.name;
        int attempt = Json::parse(e.data).at("attempt").get<int>();
        if (attempt != static_cast<int>(a.attempts_started.size()) + 1) {
          bad(fmt::format("op {} starts attempt {} after {} attempts", e.op, attempt,
                          a.attempts_started.size()));
        }
        a.attempts_started.push_back(attempt);
        break;
      }
      case EventType::kActivityCompleted:
        ++out.activities[e.op].completed;
        ++op.outcomes;
        break;
      case EventType::kActivityFailed:
        ++out.activities[e.op].failed;
        ++op.outcomes;
        break;
      case EventType::kTimerScheduled:
        op.timer = true;
        ++op.scheduled;
        break;
      case EventType::kDeferredAwaited:
        op.deferred = true;
        ++op.scheduled;
        break;
      case EventType::kTimerFired:
      case EventType::kDeferredResolved:
      case EventType::kDeferredTimedOut:
      case EventType::kSideEffect:
      case EventType::kOpCancelled:
        ++op.outcomes;
        break;
      default:
        break;
    }
  }
  for (const auto& [index, op] : ops) {
    if (op.scheduled > 1) bad(fmt::format("op {} is scheduled {} times", index, op.scheduled));
    if (op.outcomes > 1) bad(fmt::format("op {} has {} outcomes", index, op.outcomes));
    if (finished && op.outcomes == 0) bad(fmt::format("op {} has no outcome", index));
  }
  if (finished && final_events != 1) bad(fmt::format("{} final events", final_events));
  if (!finished && final_events != 0) bad("an unfinished execution has a final event");
  return out;
}

}  // namespace durable::testing
