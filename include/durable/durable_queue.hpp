// DurableQueue<P, R>: work handed from workflows (or anyone) to workers, durably, with leases.
//
//   DurableQueue<Image, Thumb> thumbnails("thumbnails");
//
//   // In a workflow: enqueued exactly once (with this op's journal event), awaited durably.
//   Thumb t = co_await thumbnails.process(ctx, image);
//
//   // Anywhere that runs an engine on the same store (this or another process):
//   engine.add_worker(thumbnails, [](const Image& image) { return render(image); },
//                     WorkerOptions{.concurrency = 4});
//   engine.offer(thumbnails, "upload-17", image);  // from outside any workflow
//
// Delivery is at least once: a worker that dies mid-item loses its lease, and the item goes to
// the next worker once the lease expires, so handlers should be idempotent per item key. The
// result is stored exactly once (the first completion by the lease owner) and resumes the waiting
// workflow, also after restarts of either side. A failure for good surfaces in the workflow as
// QueueItemFailed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "durable/codec.hpp"
#include "durable/op.hpp"
#include "durable/retry_policy.hpp"
#include "durable/workflow_context.hpp"

namespace durable {

struct WorkerOptions {
  // Items handled at once; each runs on a thread of its own (never the scheduler thread).
  std::size_t concurrency = 1;
  // How long an item stays the worker's without news. Renewed every lease/3 while the handler
  // runs; a worker that stops renewing (it died) loses the item when the lease runs out.
  Duration lease{30'000};
  // Real time between looks at a queue that had nothing to hand out.
  std::chrono::milliseconds poll_interval{100};
  // When a failed item is tried again. max_attempts counts deliveries (a delivery lost to a dead
  // worker counts too); the wait before the next delivery is backoff_after(attempt).
  RetryPolicy retry{};
  // Prefix of the store owner names (each thread's is "<owner>#<n>"); by default host, pid and a
  // random part, unique per worker instance.
  std::string owner{};
};

// What a handler knows about the delivery it runs. Valid during the call, on the worker thread.
class WorkerContext {
 public:
  WorkerContext(std::string queue, std::string key, std::string owner, int attempt,
                std::shared_ptr<const std::atomic<bool>> cancelled)
      : queue_(std::move(queue)),
        key_(std::move(key)),
        owner_(std::move(owner)),
        attempt_(attempt),
        cancelled_(std::move(cancelled)) {}

  const std::string& queue() const { return queue_; }
  const std::string& key() const { return key_; }
  const std::string& owner() const { return owner_; }
  int attempt() const { return attempt_; }  // 1-based delivery count
  // True once the lease is lost or the engine is stopping: the result will be discarded, so a
  // long handler should return early.
  bool cancelled() const { return cancelled_->load(std::memory_order_relaxed); }

 private:
  std::string queue_, key_, owner_;
  int attempt_;
  std::shared_ptr<const std::atomic<bool>> cancelled_;
};

namespace detail {
// A handler over JSON: the payload in, the result out; throws to fail the delivery.
using QueueHandler = std::function<Json(WorkerContext&, const Json& payload)>;
}  // namespace detail

template <class P, class R>
class DurableQueue {
 public:
  using Payload = P;
  using Result = R;

  // Items live in the store under this name: every process declaring the queue with the same
  // name shares them.
  explicit DurableQueue(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  // Enqueues `payload` under the key "<execution id>/<operation index>" (from the second run of
  // an execution that continued as new, "<execution id>/run<N>/<operation index>", the form of
  // ActivityContext::idempotency_key) and waits for the item's result (or throws QueueItemFailed,
  // or Cancelled). Workflow code only.
  Op<R> process(WorkflowContext& ctx, const P& payload) const {
    return process(ctx, payload, std::string_view{});
  }
  // The same with an explicit idempotency key: if an item with `key` already exists in the queue
  // (offered from outside, or by another execution), that item's outcome is the result.
  Op<R> process(WorkflowContext& ctx, const P& payload, std::string_view key) const {
    int op = detail::begin_queue_item(ctx.core(), name_, key, encode<P>(payload));
    return Op<R>(&ctx.core(), op);
  }

  // The type-erased form of a handler taking (WorkerContext&, P) or (P) and returning R.
  template <class F>
  detail::QueueHandler handler(F fn) const {
    return [fn = std::move(fn), name = name_](WorkerContext& ctx, const Json& json) mutable {
      P payload = decode<P>(json, "queue '" + name + "', item '" + ctx.key() + "': payload");
      if constexpr (std::is_invocable_v<F&, WorkerContext&, P>) {
        return call(fn, ctx, std::move(payload));
      } else {
        static_assert(std::is_invocable_v<F&, P>,
                      "a queue handler takes (WorkerContext&, P) or (P) and returns R");
        return call(fn, std::move(payload));
      }
    };
  }

 private:
  template <class F, class... A>
  static Json call(F& fn, A&&... args) {
    if constexpr (std::is_void_v<R>) {
      fn(std::forward<A>(args)...);
      return nullptr;
    } else {
      return encode<R>(fn(std::forward<A>(args)...));
    }
  }

  std::string name_;
};

}  // namespace durable
