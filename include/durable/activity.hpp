// Activity<R(Args...)>: a named unit of non-deterministic work (I/O, an API call).
//
// An activity runs on the engine's worker pool until it succeeds or its retry policy gives up.
// Its result is journaled once and never recomputed on replay. Each attempt is journaled before
// it starts, so an activity never runs more times than it has attempts, even across crashes; an
// attempt interrupted by a crash counts as failed and the next attempt runs on recovery.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "durable/codec.hpp"
#include "durable/retry_policy.hpp"

namespace durable {

namespace detail {
// Where ActivityContext::emit sends entries (the engine's store); thread-safe.
class ActivityStream {
 public:
  virtual ~ActivityStream() = default;
  // Appends one entry to the execution's event stream, deduplicated by `key`; durable when it
  // returns. Throws StoreError when the store refuses it.
  virtual void append(const std::string& execution_id, std::string_view kind, std::string data,
                      std::string key) = 0;
};

// Selects the engine's ActivityContext constructor, which shares the names instead of copying
// them for every attempt.
struct SharedNames {};
}  // namespace detail

// What an attempt knows about itself. Valid for the duration of the attempt; used on the worker
// thread that runs it.
class ActivityContext {
 public:
  ActivityContext(std::string execution_id, std::string activity, int op, int attempt,
                  std::shared_ptr<const std::atomic<bool>> cancelled,
                  std::shared_ptr<detail::ActivityStream> stream = nullptr, std::int64_t run = 1)
      : ActivityContext(detail::SharedNames{},
                        std::make_shared<const std::string>(std::move(execution_id)),
                        std::make_shared<const std::string>(std::move(activity)), op, attempt,
                        std::move(cancelled), std::move(stream), run) {}
  // The engine's: `execution_id` and `activity` are not null, and are never modified.
  ActivityContext(detail::SharedNames, std::shared_ptr<const std::string> execution_id,
                  std::shared_ptr<const std::string> activity, int op, int attempt,
                  std::shared_ptr<const std::atomic<bool>> cancelled,
                  std::shared_ptr<detail::ActivityStream> stream, std::int64_t run)
      : execution_id_(std::move(execution_id)),
        activity_(std::move(activity)),
        op_(op),
        attempt_(attempt),
        run_(run),
        cancelled_(std::move(cancelled)),
        stream_(std::move(stream)) {}

  const std::string& execution_id() const { return *execution_id_; }
  const std::string& activity() const { return *activity_; }
  int attempt() const { return attempt_; }  // 1-based
  // Stable across attempts, replays and restarts: pass it to external APIs so that a retried
  // call is recognised as the same call ("<execution id>/<operation index>"; from the second run
  // of a workflow that continued as new, "<execution id>/run<N>/<operation index>").
  std::string idempotency_key() const {
    std::string run = run_ == 1 ? std::string() : "run" + std::to_string(run_) + "/";
    return *execution_id_ + "/" + run + std::to_string(op_);
  }
  // True once the attempt timed out, the execution was cancelled or the engine is stopping:
  // long-running activities should check it and return early.
  bool cancelled() const { return cancelled_->load(std::memory_order_relaxed); }

  // Appends an entry of `kind` ("progress", "log", "claude.text", ...) with `data` to the
  // execution's event stream (stream_entry.hpp) at once, while the attempt runs: live subscribers
  // see it without waiting for the activity to finish. Not journaled; durable when it returns.
  // Deduplication ("on retries"): the n-th emit of an attempt has key
  // "[run<N>/]act:<op>:<attempt>:<n>", so a retried or repeated delivery of that same append never
  // duplicates it; a new attempt (after a failure, a timeout or a crash) is new output and
  // appears again under its own attempt number. Entries emitted after the execution finished
  // are dropped. Throws StoreError if the store refuses it (retryable faults are retried a few
  // times first). Without an engine (a context built by hand) it does nothing.
  void emit(std::string_view kind, const Json& data = Json::object()) {
    if (!stream_) return;
    std::string run = run_ == 1 ? std::string() : "run" + std::to_string(run_) + "/";
    std::string key = run + "act:" + std::to_string(op_) + ":" + std::to_string(attempt_) + ":" +
                      std::to_string(emitted_++);
    stream_->append(*execution_id_, kind, data.dump(), std::move(key));
  }
  // Shorthand for emit("progress", data).
  void report_progress(const Json& data) { emit("progress", data); }

 private:
  // Shared, not copied: the engine makes a context for every attempt. Kept alive by the context.
  std::shared_ptr<const std::string> execution_id_;
  std::shared_ptr<const std::string> activity_;
  int op_;
  int attempt_;
  std::int64_t run_;
  std::shared_ptr<const std::atomic<bool>> cancelled_;
  std::shared_ptr<detail::ActivityStream> stream_;
  std::uint64_t emitted_ = 0;
};

namespace detail {

// The type-erased description of an activity the engine schedules. Lives as long as the
// Activity object or the longest-running attempt, whichever is later.
struct ActivitySpec {
  std::string name;
  ActivityOptions options;
};

// One bound call: runs the user function with its arguments and encodes the result. It is called
// with the spec it was bound with (Activity::spec() of the same Activity), which holds the
// function: the call itself carries only the arguments, so that for small trivially copyable
// ones it fits std::function's local storage and binding or copying it does not allocate.
using ActivityCall = std::function<Json(const ActivitySpec&, ActivityContext&)>;

// The spec of an Activity<R(Args...)>: the function its bound calls run.
template <class Function>
struct TypedActivitySpec : ActivitySpec {
  TypedActivitySpec(std::string name, ActivityOptions options, Function fn)
      : ActivitySpec{std::move(name), std::move(options)}, function(std::move(fn)) {}
  Function function;
};

}  // namespace detail

template <class Signature>
class Activity;

template <class R, class... Args>
class Activity<R(Args...)> {
 public:
  using Result = R;
  using Function = std::function<R(ActivityContext&, Args...)>;

  // `fn` takes (ActivityContext&, Args...) or just (Args...).
  template <class F>
  Activity(std::string name, F fn, ActivityOptions options = {})
      : spec_(std::make_shared<Spec>(std::move(name), std::move(options), wrap(std::move(fn)))) {}

  const std::string& name() const { return spec_->name; }
  const ActivityOptions& options() const { return spec_->options; }

  // For the workflow context: the spec and a call bound to `args`.
  const std::shared_ptr<const detail::ActivitySpec>& spec() const { return spec_; }
  // The call must be made with spec() (see detail::ActivityCall).
  detail::ActivityCall bind(Args... args) const {
    // Captured one by one, not as a std::tuple (which is never trivially copyable).
    return [... a = std::move(args)](const detail::ActivitySpec& spec, ActivityContext& ctx) {
      const Function& fn = static_cast<const Spec&>(spec).function;
      if constexpr (std::is_void_v<R>) {
        fn(ctx, a...);
        return Json(nullptr);
      } else {
        return encode<R>(fn(ctx, a...));
      }
    };
  }

 private:
  template <class F>
  static Function wrap(F fn) {
    if constexpr (std::is_invocable_v<F&, ActivityContext&, Args...>) {
      return Function(std::move(fn));
    } else {
      static_assert(std::is_invocable_v<F&, Args...>,
                    "an activity function takes (ActivityContext&, Args...) or (Args...)");
      return [fn = std::move(fn)](ActivityContext&, Args... args) mutable {
        return fn(std::move(args)...);
      };
    }
  }

  using Spec = detail::TypedActivitySpec<Function>;

  std::shared_ptr<const detail::ActivitySpec> spec_;  // a Spec
};

}  // namespace durable
