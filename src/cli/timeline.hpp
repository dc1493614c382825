// An execution's journal as a readable timeline (`durable show`, `durable events`): one line per
// event with a short summary of its data, e.g.
//   "attempt 2 failed: std::runtime_error: boom; retry at 2024-05-01T12:00:01.200Z".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cli/table.hpp"
#include "durable/codec.hpp"
#include "durable/journal_store.hpp"

namespace durable::cli {

// "type: message" for an error as the journal stores it ({"type", "message", "compensations"?});
// anything else is shown as compact JSON. Cut to `max_chars` (see one_line).
std::string describe_error(const Json& error, std::size_t max_chars = 120);

// A one-line summary of the event's data (docs/journal-format.md lists the shapes). Never throws:
// data that is missing or not the documented shape is shown as it is, shortened.
std::string summarize(const Event& event);

// Columns #, TIME, EVENT, OP, NAME, DETAILS.
Table timeline(const std::vector<Event>& events);

// One event as one line of `durable events`: "#3  <time>  activity_completed  op=0  name  ...".
std::string event_line(const Event& event);

// One stream entry as one line of `durable events`: "#3  <time>  status  waiting  timer 'nap'"
// for a status change, "#4  <time>  progress  {"done":1}" (compact JSON, shortened) otherwise.
std::string stream_line(const StreamEntry& entry);

}  // namespace durable::cli
