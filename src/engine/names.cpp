// Stable names of enums, shared by storage, the CLI and JSON.
#include <array>
#include <utility>

#include "durable/execution_status.hpp"
#include "durable/journal_store.hpp"
#include "durable/queue_item.hpp"

namespace durable {
namespace {

constexpr std::array<std::pair<ExecutionStatus, std::string_view>, 6> kStatusNames{{
    {ExecutionStatus::kRunning, "running"},
    {ExecutionStatus::kWaiting, "waiting"},
    {ExecutionStatus::kCompleted, "completed"},
    {ExecutionStatus::kFailed, "failed"},
    {ExecutionStatus::kCancelled, "cancelled"},
    {ExecutionStatus::kNeedsAttention, "needs_attention"},
}};

constexpr std::array<const char*, 21> kEventNames{"unknown",
                                                  "started",
                                                  "activity_started",
                                                  "activity_attempt_failed",
                                                  "activity_completed",
                                                  "activity_failed",
                                                  "timer_scheduled",
                                                  "timer_fired",
                                                  "deferred_awaited",
                                                  "deferred_resolved",
                                                  "deferred_timed_out",
                                                  "side_effect",
                                                  "op_cancelled",
                                                  "completed",
                                                  "failed",
                                                  "cancelled",
                                                  "compensation_started",
                                                  "patch_marker",
                                                  "child_started",
                                                  "child_completed",
                                                  "child_failed"};

// Event types of DurableQueue and DurableRateLimiter (26..30).
constexpr std::array<std::pair<EventType, const char*>, 3> kQueueEventNames{{
    {EventType::kQueueItemEnqueued, "queue_item_enqueued"},
    {EventType::kQueueItemCompleted, "queue_item_completed"},
    {EventType::kQueueItemFailed, "queue_item_failed"},
}};

}  // namespace

std::string_view to_string(ExecutionStatus status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "unknown";
}

std::optional<ExecutionStatus> execution_status_from_string(std::string_view text) {
  for (const auto& [value, name] : kStatusNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

const char* to_string(EventType type) {
  auto i = static_cast<std::size_t>(type);
  if (i < kEventNames.size()) return kEventNames[i];
  for (const auto& [value, name] : kQueueEventNames) {
    if (value == type) return name;
  }
  return "unknown";
}

std::optional<EventType> event_type_from_int(int value) {
  for (const auto& [type, name] : kQueueEventNames) {
    if (static_cast<int>(type) == value) return type;
  }
  if (value < 1 || value >= static_cast<int>(kEventNames.size())) return std::nullopt;
  return static_cast<EventType>(value);
}

const char* to_string(QueueItemState state) {
  switch (state) {
    case QueueItemState::kReady:
      return "ready";
    case QueueItemState::kLeased:
      return "leased";
    case QueueItemState::kDone:
      return "done";
    case QueueItemState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<QueueItemState> queue_item_state_from_int(int value) {
  if (value < static_cast<int>(QueueItemState::kReady) ||
      value > static_cast<int>(QueueItemState::kFailed)) {
    return std::nullopt;
  }
  return static_cast<QueueItemState>(value);
}

}  // namespace durable
