// When an activity attempt fails, whether and when to try again.
#pragma once

#include <string>
#include <vector>

#include "durable/clock.hpp"

namespace durable {

struct RetryPolicy {
  int max_attempts = 3;  // including the first; 1 means no retry
  Duration initial_backoff{1000};
  double multiplier = 2.0;
  Duration max_backoff{60'000};
  // C++ type names ("std::invalid_argument", "my::BadInput") that fail at once. An activity can
  // also throw durable::NonRetryableError.
  std::vector<std::string> non_retryable_errors{};

  // The wait after failed attempt `attempt` (1-based) before the next one.
  Duration backoff_after(int attempt) const;
};

struct ActivityOptions {
  RetryPolicy retry;
  // Per-attempt limit; zero means none. A timed-out attempt counts as failed; the activity is
  // asked to stop through ActivityContext::cancelled() and its late result is discarded.
  Duration timeout{0};
};

}  // namespace durable
