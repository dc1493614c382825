// The compiled side of detail/core_api.hpp: thin forwards into ExecutionCore.
#include "durable/detail/core_api.hpp"

#include <cmath>

#include "durable/workflow.hpp"
#include "durable/workflow_context.hpp"
#include "engine/execution_core.hpp"
#include "engine/ids.hpp"

namespace durable {

Duration RetryPolicy::backoff_after(int attempt) const {
  double ms = static_cast<double>(initial_backoff.count()) * std::pow(multiplier, attempt - 1);
  double cap = static_cast<double>(max_backoff.count());
  if (max_backoff.count() > 0 && ms > cap) ms = cap;
  return Duration{static_cast<Duration::rep>(ms)};
}

// Through side_effect<T>, so a journaled value that does not decode parks the execution as any
// other side effect's would (the journal bytes are those of Json(value), as before).
TimePoint WorkflowContext::now() {
  return TimePoint{Duration{side_effect<std::int64_t>(
      "now", [&] { return detail::clock_now(*core_).time_since_epoch().count(); })}};
}

std::uint64_t WorkflowContext::random() {
  return side_effect<std::uint64_t>("random", [] { return detail::secure_random_u64(); });
}

std::string WorkflowContext::uuid() {
  return side_effect<std::string>("uuid", [] {
    return detail::format_uuid_v4(detail::secure_random_u64(), detail::secure_random_u64());
  });
}

namespace detail {

int begin_activity(ExecutionCore& core, std::shared_ptr<const ActivitySpec> spec, ActivityCall call,
                   std::string input) {
  return core.begin_activity(std::move(spec), std::move(call), std::move(input));
}
int begin_timer(ExecutionCore& core, std::string_view name, std::optional<Duration> after,
                std::optional<TimePoint> at) {
  return core.begin_timer(name, after, at);
}
int begin_deferred(ExecutionCore& core, std::string_view name, std::optional<Duration> timeout) {
  return core.begin_deferred(name, timeout);
}
int begin_child(ExecutionCore& core, std::shared_ptr<const WorkflowSpec> spec, Json input,
                std::optional<std::string> id) {
  return core.begin_child(std::move(spec), std::move(input), std::move(id));
}
int begin_queue_item(ExecutionCore& core, std::string_view queue, std::string_view key,
                     Json payload) {
  return core.begin_queue_item(queue, key, std::move(payload));
}
Json acquire_permit(ExecutionCore& core, const RateLimit& limit) {
  return core.acquire_permit(limit);
}
const Outcome* outcome(ExecutionCore& core, int op) {
  return core.outcome(op);
}
void wait(ExecutionCore& core, int op, Waiter* waiter) {
  core.wait(op, waiter);
}
void release(ExecutionCore& core, int op) noexcept {
  core.release(op);
}
void park_on_decode_error(ExecutionCore& core, int /*op*/, const DecodeError& error) {
  core.park("durable::DecodeError", error.what());
}
std::string describe_op(ExecutionCore& core, int op) {
  return core.describe_op(op);
}
void continue_as_new(ExecutionCore& core, Json input) {
  core.continue_as_new(std::move(input));
}

bool patched(ExecutionCore& core, std::string_view change_id, bool record) {
  return core.patched(change_id, record);
}
Json side_effect(ExecutionCore& core, std::string_view name, const std::function<Json()>& make) {
  return core.side_effect(name, make);
}
void add_compensation(ExecutionCore& core, std::shared_ptr<const ActivitySpec> spec,
                      ActivityCall call, std::string input) {
  core.add_compensation(std::move(spec), std::move(call), std::move(input));
}
std::string token(ExecutionCore& core, std::string_view deferred) {
  return core.token(deferred);
}
const std::string& execution_id(const ExecutionCore& core) {
  return core.id();
}
bool is_replaying(const ExecutionCore& core) {
  return core.is_replaying();
}
void emit(ExecutionCore& core, std::string_view kind, const Json& data) {
  core.emit(kind, data);
}
TimePoint clock_now(ExecutionCore& core) {
  return core.clock_now();
}

}  // namespace detail
}  // namespace durable
