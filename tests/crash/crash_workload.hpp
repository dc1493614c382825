// The workload of the SIGKILL crash test, shared by the worker (which runs it) and the test
// (which checks what it left behind). Everything here is a pure function of its arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace durable::testing::crash {

// The retry policy of every activity in the workload. Generous, because each kill interrupts the
// attempts that were running and an interrupted attempt counts as failed.
constexpr int kMaxAttempts = 30;

// The value the resolver gives the deferred of job `n`.
inline std::int64_t approval_value(std::int64_t n) {
  return 7 * n + 1;
}

// Attempts 1 and 2 of an activity call fail for about a third of the calls, decided by a hash of
// the call's idempotency key and the attempt, so every process that runs an attempt agrees.
inline bool attempt_fails(std::string_view idempotency_key, int attempt) {
  if (attempt > 2) return false;
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : idempotency_key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h = (h ^ static_cast<std::uint64_t>(attempt)) * 1099511628211ull;
  return h % 3 == 0;
}

// The result of job `n` whose workflow drew `salt` (ctx.random() % 1000, as journaled):
// a = n^2, b = approval_value(n), c = a + b + salt, d = (c % 1000)^2.
inline std::int64_t expected_result(std::int64_t n, std::int64_t salt) {
  std::int64_t a = n * n;
  std::int64_t b = approval_value(n);
  std::int64_t c = a + b + salt;
  std::int64_t d = (c % 1000) * (c % 1000);
  return a + b + c + d;
}

inline std::string job_key(std::int64_t n) {
  return "job-" + std::to_string(n);
}

}  // namespace durable::testing::crash
