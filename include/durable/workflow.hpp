// Workflow<R(P)>: a named, deterministic coroutine Task<R>(WorkflowContext&, P).
//
// Its execution id comes from its idempotency key (when the options give one), so starting it
// twice with the same key starts it once. The body is kept by the Workflow object: keep workflows
// alive (typically as namespace-scope constants) while an engine may run them.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "durable/codec.hpp"
#include "durable/task.hpp"
#include "durable/workflow_context.hpp"

namespace durable {

template <class P>
struct WorkflowOptions {
  // Derives the idempotency key from the payload; without it every start is a new execution.
  std::function<std::string(const P&)> idempotency_key{};
};

namespace detail {

// The type-erased workflow the engine registers and runs.
struct WorkflowSpec {
  std::string name;
  std::function<Task<Json>(WorkflowContext&, Json)> run;  // decodes input, encodes the result
  std::function<void(const Json&)> check_input;           // throws DecodeError
};

}  // namespace detail

template <class Signature>
class Workflow;

template <class R, class P>
class Workflow<R(P)> {
 public:
  using Result = R;
  using Payload = P;
  using Body = std::function<Task<R>(WorkflowContext&, P)>;

  Workflow(std::string name, Body body, WorkflowOptions<P> options = {})
      : options_(std::move(options)),
        spec_(make_spec(std::move(name), std::make_shared<Body>(std::move(body)))) {}

  const std::string& name() const { return spec_->name; }
  std::optional<std::string> idempotency_key(const P& payload) const {
    if (!options_.idempotency_key) return std::nullopt;
    return options_.idempotency_key(payload);
  }
  const std::shared_ptr<const detail::WorkflowSpec>& spec() const { return spec_; }

 private:
  static std::shared_ptr<const detail::WorkflowSpec> make_spec(std::string name,
                                                               std::shared_ptr<Body> body) {
    auto spec = std::make_shared<detail::WorkflowSpec>();
    spec->name = std::move(name);
    spec->run = [body](WorkflowContext& ctx, Json input) {
      return run(body, ctx, std::move(input));
    };
    spec->check_input = [where = "input of workflow '" + spec->name + "'"](const Json& input) {
      (void)decode<P>(input, where);
    };
    return spec;
  }

  static Task<Json> run(std::shared_ptr<Body> body, WorkflowContext& ctx, Json input) {
    std::optional<P> payload;
    try {
      payload.emplace(decode<P>(input, "execution " + ctx.execution_id() + ": input"));
    } catch (const DecodeError& e) {
      detail::park_on_decode_error(ctx.core(), -1, e);
    }
    if constexpr (std::is_void_v<R>) {
      co_await (*body)(ctx, std::move(*payload));
      co_return Json(nullptr);
    } else {
      R result = co_await (*body)(ctx, std::move(*payload));
      co_return encode<R>(result);
    }
  }

  WorkflowOptions<P> options_;
  std::shared_ptr<const detail::WorkflowSpec> spec_;
};

template <class R, class P>
Op<R> WorkflowContext::child(const Workflow<R(P)>& workflow, std::type_identity_t<P> payload,
                             const ChildOptions& options) {
  return Op<R>(core_, detail::begin_child(*core_, workflow.spec(), encode<P>(payload), options.id));
}

}  // namespace durable
