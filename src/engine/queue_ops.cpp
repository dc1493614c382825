// The workflow side of DurableQueue and DurableRateLimiter inside ExecutionCore: a queue item op
// (OpKind::kQueue) and a rate-limit decision (a side effect). Scheduler thread only.
#include <fmt/format.h>

#include "engine/execution_core.hpp"
#include "engine/scheduler.hpp"

namespace durable::detail {

std::string queue_deferred_name(const std::string& queue, const std::string& key) {
  return fmt::format("queue:{}/{}", queue, key);
}

int ExecutionCore::begin_queue_item(std::string_view queue, std::string_view key, Json payload) {
  if (queue.empty()) throw DurableError("DurableQueue: the queue name is empty");
  // The default key names this operation (and, after continue-as-new, the run, whose operation
  // indexes start again); computed before begin() takes the index.
  std::string run = run_ == 1 ? std::string() : fmt::format("run{}/", run_);
  std::string item_key =
      key.empty() ? fmt::format("{}/{}{}", id_, run, next_op_) : std::string(key);
  int op = begin(OpKind::kQueue, queue);
  OpState& st = ops_[op];
  if (st.from_journal && st.queue_key != item_key) {
    park("durable::NonDeterminism",
         fmt::format("execution {} (workflow '{}'): the code no longer matches the journal at "
                     "operation {}: the journal holds queue '{}' item '{}' but the code asked "
                     "for item '{}'",
                     id_, spec_->name, op, st.name, st.queue_key, item_key));
  }
  st.queue_key = std::move(item_key);
  st.input = std::move(payload);
  return op;
}

// Looks in the store for the item's end: the resolution of this op's deferred (written by the
// completion of an item this op enqueued), or else the end of an item somebody else enqueued
// under the same key first (then nobody resolves our deferred, so it is polled).
void ExecutionCore::check_queue_item(int op, OpState& st) {
  if (st.outcome || st.outcome_pending) return;
  const std::string deferred = deferred_key(queue_deferred_name(st.name, st.queue_key));
  std::optional<DeferredRecord> record;
  std::optional<QueueItem> item;
  try {
    record = scheduler_.store().get_deferred(id_, deferred);
    if (!record) item = scheduler_.store().get_item(st.name, st.queue_key);
  } catch (const StoreError& e) {
    scheduler_.fault(fmt::format("execution {}: reading queue '{}' item '{}': {}", id_, st.name,
                                 st.queue_key, e.what()));
    scheduler_.arm(*this, op, scheduler_.clock().now() + Duration{100}, TimerKind::kQueuePoll);
    return;
  }
  bool ok = false;
  Json value;
  if (record && record->state == DeferredState::kResolved) {
    Json resolution = Json::parse(record->value, nullptr, false);
    ok = resolution.is_object() && resolution.value("ok", false);
    value = resolution.is_object() ? resolution.value(ok ? "value" : "error", Json(nullptr))
                                   : Json(nullptr);
  } else if (item && (item->waiter_execution_id != id_ || item->waiter_deferred != deferred)) {
    if (!is_final(item->state)) {
      scheduler_.arm(*this, op, scheduler_.clock().now() + Duration{1000}, TimerKind::kQueuePoll);
      return;
    }
    ok = item->state == QueueItemState::kDone;
    const std::string& text = ok ? item->result : item->error;
    value = text.empty() ? Json(nullptr) : Json::parse(text, nullptr, false);
  } else {
    return;  // not ended yet (or not enqueued yet: the commit that does it will wake us)
  }
  if (ok) {
    complete_op(op, Outcome::Kind::kValue, EventType::kQueueItemCompleted,
                {{"value", std::move(value)}});
    return;
  }
  Json error = value.is_object() ? value : Json::object();
  if (!error.contains("type")) error["type"] = "unknown";
  if (!error.contains("message")) error["message"] = value.is_null() ? "" : value.dump();
  if (!error.contains("attempts")) error["attempts"] = item ? item->attempts : 0;
  error["queue"] = st.name;
  error["key"] = st.queue_key;
  complete_op(op, Outcome::Kind::kError, EventType::kQueueItemFailed, {{"error", error}});
}

Json ExecutionCore::acquire_permit(const RateLimit& limit) {
  return side_effect("rate limit " + limit.name, [&] {
    TimePoint now = scheduler_.clock().now();
    try {
      PermitDecision decision = scheduler_.store().acquire_permit(limit, now);
      if (decision.granted) return Json{{"granted", true}};
      return Json{{"granted", false}, {"retry_at", decision.retry_at.time_since_epoch().count()}};
    } catch (const StoreError& e) {
      // Journaled as a refusal with a short wait, so the workflow's path stays deterministic.
      scheduler_.fault(
          fmt::format("execution {}: rate limiter '{}': {}", id_, limit.name, e.what()));
      return Json{{"granted", false},
                  {"retry_at", (now + Duration{1000}).time_since_epoch().count()},
                  {"error", e.what()}};
    }
  });
}

}  // namespace durable::detail
