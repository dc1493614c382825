// The errors a Claude query throws, split the way the official SDKs retry:
//
//   RetryableError   408, 409, 429, 5xx, 529, connection failures, timeouts, an `overloaded_error`
//                    or `api_error` event mid-stream, a truncated stream. The Activity's retry
//                    policy decides whether another attempt runs.
//   PermanentError   400, 401, 402, 403, 404, 413 and other errors retrying cannot fix. A
//                    durable::NonRetryableError, so the activity fails at once.
//
// A response header `x-should-retry: true|false` overrides the table. Messages never contain the
// API key or token (transports redact them).
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "durable/errors.hpp"

namespace durable::claude {

struct ErrorInfo {
  int status = 0;            // HTTP status; 0 when there was no response (connection, timeout)
  std::string type{};        // error.type from the body or stream ("rate_limit_error"), or ours
  std::string request_id{};  // the `request-id` response header, when there was one
  // The delay the server suggested (`retry-after-ms`, else `retry-after`). Informational: the
  // engine's retry backoff is durable time and follows the activity's RetryPolicy, not this.
  std::optional<std::chrono::milliseconds> retry_after{};
};

class RetryableError : public std::runtime_error {
 public:
  RetryableError(const std::string& what, ErrorInfo info)
      : std::runtime_error(what), info_(std::move(info)) {}
  const ErrorInfo& info() const { return info_; }

 private:
  ErrorInfo info_;
};

class PermanentError : public NonRetryableError {
 public:
  PermanentError(const std::string& what, ErrorInfo info)
      : NonRetryableError(what), info_(std::move(info)) {}
  const ErrorInfo& info() const { return info_; }

 private:
  ErrorInfo info_;
};

// Whether an HTTP status is worth another attempt, per the official SDKs' table.
inline bool is_retryable_status(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

// Whether an error.type (from a body or an `error` stream event) is worth another attempt.
inline bool is_retryable_error_type(const std::string& type) {
  return type == "overloaded_error" || type == "api_error" || type == "rate_limit_error" ||
         type == "timeout_error";
}

}  // namespace durable::claude
