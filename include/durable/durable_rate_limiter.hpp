// DurableRateLimiter: a named limit shared by every execution (and every process sharing the
// store), fixed window or token bucket.
//
//   const auto api = DurableRateLimiter::fixed_window("maps-api", 10, std::chrono::seconds(1));
//   co_await api.acquire(ctx);                 // in a workflow
//   co_await ctx.run(geocode, address);
//
// Each decision is taken atomically by the store (JournalStore::acquire_permit) at the engine
// clock's time and journaled as a side effect, so a replay follows the same path without asking
// again. A refused execution sleeps durably (a timer, surviving restarts) until the store's
// answer and asks again. A crash between the store's decision and the journal write may spend a
// permit that nobody uses: the limit errs on the safe side, never granting more.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "durable/errors.hpp"
#include "durable/journal_store.hpp"
#include "durable/task.hpp"
#include "durable/workflow_context.hpp"

namespace durable {

class DurableRateLimiter {
 public:
  // `permits` per window of `window`; windows are aligned to the epoch.
  static DurableRateLimiter fixed_window(std::string name, std::int64_t permits, Duration window) {
    return DurableRateLimiter(
        RateLimit{std::move(name), RateLimitKind::kFixedWindow, permits, window});
  }
  // Bursts of up to `burst` permits, then one permit every `refill_every`.
  static DurableRateLimiter token_bucket(std::string name, std::int64_t burst,
                                         Duration refill_every) {
    return DurableRateLimiter(
        RateLimit{std::move(name), RateLimitKind::kTokenBucket, burst, refill_every});
  }

  const std::string& name() const { return limit_.name; }
  const RateLimit& limit() const { return limit_; }

  // Returns once the execution holds a permit, sleeping durably while it is refused. Workflow
  // code only; each attempt is two operations (the decision and, when refused, the sleep).
  Task<void> acquire(WorkflowContext& ctx) const { return acquire_with(ctx, limit_); }

 private:
  explicit DurableRateLimiter(RateLimit limit) : limit_(std::move(limit)) {
    if (limit_.name.empty() || limit_.permits < 1 || limit_.period.count() <= 0) {
      throw DurableError("DurableRateLimiter '" + limit_.name +
                         "': needs a name, at least 1 permit and a positive period");
    }
  }

  // Takes the limit by value: the coroutine may outlive a temporary limiter.
  static Task<void> acquire_with(WorkflowContext& ctx, RateLimit limit) {
    const std::string sleep_name = "rate limit " + limit.name;
    for (;;) {
      Json decision = detail::acquire_permit(ctx.core(), limit);
      if (decision.value("granted", false)) co_return;
      TimePoint retry_at{Duration{decision.at("retry_at").get<std::int64_t>()}};
      co_await ctx.sleep_until(sleep_name, retry_at);
    }
  }

  RateLimit limit_;
};

}  // namespace durable
