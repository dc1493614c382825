// Op<T>: the awaitable result of starting a durable operation (ctx.run, ctx.sleep, ctx.await).
//
// Creating an Op takes the workflow's next operation index; awaiting it starts the operation (or,
// on replay, returns the journaled outcome at once, without suspending). An Op that is never
// awaited never starts. Ops are move-only and belong to the workflow code that created them.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "durable/detail/core_api.hpp"
#include "durable/errors.hpp"

namespace durable {

namespace detail {
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
}  // namespace detail

template <class T>
class [[nodiscard]] Op {
 public:
  using Result = T;

  Op(detail::ExecutionCore* core, int op) : core_(core), op_(op) {}
  Op(Op&& other) noexcept
      : core_(std::exchange(other.core_, nullptr)), op_(other.op_), waiter_(other.waiter_) {}
  Op& operator=(Op&&) = delete;
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;
  ~Op() {
    if (core_) detail::release(*core_, op_);
  }

  bool await_ready() const { return detail::outcome(*core_, op_) != nullptr; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_.handle = h;
    detail::wait(*core_, op_, &waiter_);
  }
  T await_resume() { return take(); }

  // For combinators.
  int index() const { return op_; }
  detail::ExecutionCore* core() const { return core_; }
  const detail::Outcome* outcome() const { return detail::outcome(*core_, op_); }

  // Decodes the outcome (which must exist) and releases the op.
  T take() {
    const detail::Outcome* out = detail::outcome(*core_, op_);
    auto* core = std::exchange(core_, nullptr);
    using Kind = detail::Outcome::Kind;
    switch (out->kind) {
      case Kind::kError: {
        Json error = out->data;
        detail::release(*core, op_);
        if (error.contains("child")) {
          throw WorkflowFailed(error.value("type", ""), error.value("message", ""));
        }
        if (error.contains("queue")) {
          throw QueueItemFailed(error.value("queue", ""), error.value("key", ""),
                                error.value("type", ""), error.value("message", ""),
                                error.value("attempts", 0));
        }
        throw ActivityError(error.value("activity", ""), error.value("type", ""),
                            error.value("message", ""), error.value("attempts", 0));
      }
      case Kind::kCancelled:
        detail::release(*core, op_);
        throw Cancelled();
      case Kind::kTimedOut:
        detail::release(*core, op_);
        if constexpr (detail::IsOptional<T>::value) {
          return std::nullopt;
        } else {
          throw DurableError(detail::describe_op(*core, op_) + " timed out");
        }
      case Kind::kValue:
        break;
    }
    try {
      if constexpr (std::is_void_v<T>) {
        detail::release(*core, op_);
        return;
      } else {
        T value = decode_lazily<T>(
            out->data, [&] { return detail::describe_op(*core, op_) + ": journaled value"; });
        detail::release(*core, op_);
        return value;
      }
    } catch (const DecodeError& e) {
      detail::park_on_decode_error(*core, op_, e);
    }
  }

 private:
  detail::ExecutionCore* core_;
  int op_;
  detail::Waiter waiter_;
};

}  // namespace durable
