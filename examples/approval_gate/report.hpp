// What `run` prints about an execution. Everything comes from the store (the execution's record
// and journal), so a restarted `run`, or one started after the end, prints the same report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <durable/journal_store.hpp>

namespace approval_gate {

struct Report {
  std::string text;  // several lines, the first "report: <outcome>"
  int exit_code = 0;
};

// For a final or parked record (anything else is a programming error).
Report make_report(const durable::ExecutionRecord& record,
                   const std::vector<durable::Event>& history);

// Where an unfinished execution is, as far as `run` tells the user.
struct Progress {
  std::optional<std::string> token;  // once the publishing step has started
  bool awaiting_approval = false;    // the wait is journaled and no decision has arrived yet
  bool decided = false;              // approved, rejected or timed out
  std::optional<durable::TimePoint> deadline;
};
Progress read_progress(const std::vector<durable::Event>& history);

}  // namespace approval_gate
