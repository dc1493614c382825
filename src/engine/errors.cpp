#include "durable/errors.hpp"

#include <fmt/format.h>

namespace durable {

StaleWriteError::StaleWriteError(std::string execution_id, std::int64_t expected,
                                 std::int64_t actual)
    : StoreError(fmt::format("execution {}: stale write: the writer expected next event index {} "
                             "but the journal's next index is {}",
                             execution_id, expected, actual),
                 /*retryable=*/false),
      execution_id_(std::move(execution_id)) {}

ActivityError::ActivityError(std::string activity, std::string type, std::string message,
                             int attempts)
    : DurableError(fmt::format("activity '{}' failed after {} attempt{}: {}: {}", activity,
                               attempts, attempts == 1 ? "" : "s", type, message)),
      activity_(std::move(activity)),
      type_(std::move(type)),
      message_(std::move(message)),
      attempts_(attempts) {}

QueueItemFailed::QueueItemFailed(std::string queue, std::string key, std::string type,
                                 std::string message, int attempts)
    : DurableError(fmt::format("queue '{}', item '{}' failed after {} attempt{}: {}: {}", queue,
                               key, attempts, attempts == 1 ? "" : "s", type, message)),
      queue_(std::move(queue)),
      key_(std::move(key)),
      type_(std::move(type)),
      message_(std::move(message)),
      attempts_(attempts) {}

WorkflowFailed::WorkflowFailed(std::string type, std::string message)
    : DurableError(fmt::format("workflow failed: {}: {}", type, message)),
      type_(std::move(type)),
      message_(std::move(message)) {}

}  // namespace durable
