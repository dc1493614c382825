// Every error durable reports is a DurableError; the message always says what and where.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace durable {

class DurableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The store failed. retryable() is true for faults that may clear (busy, I/O, disk full).
class StoreError : public DurableError {
 public:
  StoreError(const std::string& what, bool retryable) : DurableError(what), retryable_(retryable) {}
  bool retryable() const { return retryable_; }

 private:
  bool retryable_;
};

// A writer's view of an execution's journal is out of date: another writer appended first.
class StaleWriteError : public StoreError {
 public:
  StaleWriteError(std::string execution_id, std::int64_t expected, std::int64_t actual);
  const std::string& execution_id() const { return execution_id_; }

 private:
  std::string execution_id_;
};

// A value did not decode into the type the code declares (payload, result, resolution).
class DecodeError : public DurableError {
 public:
  using DurableError::DurableError;
};

// A token that is malformed, forged, altered or for another deferred.
class InvalidToken : public DurableError {
 public:
  using DurableError::DurableError;
};

class UnknownWorkflow : public DurableError {
 public:
  using DurableError::DurableError;
};

class NoSuchExecution : public DurableError {
 public:
  using DurableError::DurableError;
};

// Thrown from an activity: fail now, whatever the retry policy says.
class NonRetryableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An activity that failed for good (retries exhausted or a non-retryable error), as the workflow
// sees it. type() is the C++ type name of what the activity threw ("std::runtime_error").
class ActivityError : public DurableError {
 public:
  ActivityError(std::string activity, std::string type, std::string message, int attempts);
  const std::string& activity() const { return activity_; }
  const std::string& type() const { return type_; }
  const std::string& message() const { return message_; }
  int attempts() const { return attempts_; }

 private:
  std::string activity_, type_, message_;
  int attempts_;
};

// A DurableQueue item that failed for good (the worker's retries exhausted or a non-retryable
// error), as the workflow awaiting DurableQueue::process sees it. type() is the C++ type name of
// what the worker's handler threw; attempts() counts deliveries.
class QueueItemFailed : public DurableError {
 public:
  QueueItemFailed(std::string queue, std::string key, std::string type, std::string message,
                  int attempts);
  const std::string& queue() const { return queue_; }
  const std::string& key() const { return key_; }
  const std::string& type() const { return type_; }
  const std::string& message() const { return message_; }
  int attempts() const { return attempts_; }

 private:
  std::string queue_, key_, type_, message_;
  int attempts_;
};

// Cancellation, as the workflow sees it at its next suspension point, and as a handle reports it.
class Cancelled : public DurableError {
 public:
  Cancelled() : DurableError("the execution was cancelled") {}
  using DurableError::DurableError;
};

// A handle's view of a failed execution.
class WorkflowFailed : public DurableError {
 public:
  WorkflowFailed(std::string type, std::string message);
  const std::string& type() const { return type_; }
  const std::string& message() const { return message_; }

 private:
  std::string type_, message_;
};

// A handle's view of an execution parked as needing attention (see Engine::resume).
class ExecutionParked : public DurableError {
 public:
  using DurableError::DurableError;
};

}  // namespace durable
