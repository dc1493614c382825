// The life cycle of an execution, as stored and as reported.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace durable {

enum class ExecutionStatus : std::uint8_t {
  kRunning = 1,  // runnable or running workflow code / an activity
  kWaiting = 2,  // suspended on a timer or a deferred; holds no thread
  kCompleted = 3,
  kFailed = 4,          // the workflow failed (compensations, if any, have run)
  kCancelled = 5,       // cancelled (compensations, if any, have run)
  kNeedsAttention = 6,  // parked: the code no longer matches the journal, or data did not decode
};

// Stable lower-case names ("running", "needs_attention") for storage, the CLI and JSON.
std::string_view to_string(ExecutionStatus status);
std::optional<ExecutionStatus> execution_status_from_string(std::string_view text);

inline bool is_final(ExecutionStatus s) {
  return s == ExecutionStatus::kCompleted || s == ExecutionStatus::kFailed ||
         s == ExecutionStatus::kCancelled;
}

}  // namespace durable
