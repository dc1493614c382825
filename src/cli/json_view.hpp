// The JSON shapes `durable ... --json` prints: stable field names for scripts
// (docs/operations.md). JSON text stored in the journal is embedded as JSON, not as strings.
#pragma once

#include <string>

#include "durable/codec.hpp"
#include "durable/journal_store.hpp"

namespace durable::cli {

// Stored JSON text as a value: empty text is null; text that does not parse (a damaged row) is
// kept as a string, so nothing is hidden from the operator.
Json stored_json(const std::string& text);

// {"id", "workflow", "status", "waiting_on", "cancel_requested", "events", "created_at",
//  "updated_at", "input", "result", "error", "run", "forked_from"}; times in UTC ISO-8601.
Json execution_json(const ExecutionRecord& record);

// {"index", "time", "type", "op", "name", "data"}; `op` is null for an execution-level event.
Json event_json(const Event& event);

// {"offset", "time", "kind", "data", "key"}: one entry of an execution's event stream.
Json stream_entry_json(const StreamEntry& entry);

}  // namespace durable::cli
