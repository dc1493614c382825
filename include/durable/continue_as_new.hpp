// ContinueAsNew: the awaitable WorkflowContext::continue_as_new returns.
//
// Awaiting it ends the current run of the workflow and starts the next run of the same execution
// with a new input and an empty history, so a long-running loop keeps its history bounded:
//
//   co_return co_await ctx.continue_as_new(state);   // any workflow
//   co_await ctx.continue_as_new(state);             // also fine: the line after never runs
//
// The awaiting coroutine is never resumed: its frame is destroyed (destructors run) and nothing
// after the co_await executes. Not awaiting the object is a [[nodiscard]] warning, and does
// nothing. See WorkflowContext::continue_as_new for what carries over to the next run.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

#include "durable/codec.hpp"
#include "durable/detail/core_api.hpp"

namespace durable {

namespace detail {
// The value of `co_await ctx.continue_as_new(x)`: converts to any type so that it can be
// co_returned from a workflow of any result type. Never actually produced.
struct NeverReturns {
  template <class T>
  [[noreturn]] operator T() const {
    std::terminate();
  }
};
}  // namespace detail

class [[nodiscard]] ContinueAsNew {
 public:
  ContinueAsNew(detail::ExecutionCore* core, Json input) : core_(core), input_(std::move(input)) {}
  ContinueAsNew(const ContinueAsNew&) = delete;
  ContinueAsNew& operator=(const ContinueAsNew&) = delete;

  bool await_ready() const noexcept { return false; }
  // Throws DecodeError (into the workflow) if the input does not fit the workflow's payload type.
  void await_suspend(std::coroutine_handle<>) {
    detail::continue_as_new(*core_, std::move(input_));
  }
  [[noreturn]] detail::NeverReturns await_resume() const noexcept { std::terminate(); }

 private:
  detail::ExecutionCore* core_;
  Json input_;
};

}  // namespace durable
