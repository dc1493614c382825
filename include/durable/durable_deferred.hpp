// DurableDeferred<T>: a named durable wait point, resolved from outside the workflow.
//
// Inside a workflow, ctx.token(deferred) gives an opaque token naming this execution and this
// deferred, authenticated with the store's secret; ctx.await(deferred[, timeout]) waits for it.
// Any process sharing the store resolves it with Engine::resolve(token, value). A resolution that
// arrives before the workflow awaits is kept (no lost wake-up); the first resolution wins.
// A deferred resolves once per execution: awaiting the same name again returns the same value.
#pragma once

#include <string>

#include "durable/codec.hpp"

namespace durable {

template <class T>
class DurableDeferred {
 public:
  using Value = T;
  explicit DurableDeferred(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  // Throws DecodeError if `value` is not a T.
  void check(const Json& value) const {
    (void)decode<T>(value, "resolution of deferred '" + name_ + "'");
  }

 private:
  std::string name_;
};

}  // namespace durable
