// all(...) and race(...) over durable operations (activities, sleeps, deferred waits).
//
// Both take their Ops by value. all waits for every op and returns their values in argument order
// (void becomes std::monostate); if any failed, it throws the failure of the first failed op in
// argument order. race returns the outcome of the op whose outcome was journaled first, as a
// variant indexed by argument position, and stops the others (a running activity is asked to
// cancel, a timer or wait is dropped). Both are deterministic on replay: the journal decides.
#pragma once

#include <cstddef>
#include <optional>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "durable/op.hpp"

namespace durable {

namespace detail {

template <class T>
using ValueOf = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
ValueOf<T> take_value(Op<T>& op) {
  if constexpr (std::is_void_v<T>) {
    op.take();
    return {};
  } else {
    return op.take();
  }
}

template <class... T>
class AllOf {
 public:
  explicit AllOf(Op<T>... ops) : ops_(std::move(ops)...) {}

  bool await_ready() const {
    return std::apply([](const auto&... op) { return ((op.outcome() != nullptr) && ...); }, ops_);
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_.handle = h;
    waiter_.remaining = 0;
    std::apply([&](auto&... op) { ((op.outcome() ? 0 : ++waiter_.remaining), ...); }, ops_);
    std::apply([&](auto&... op) { (wait_one(op), ...); }, ops_);
  }
  std::tuple<ValueOf<T>...> await_resume() {
    return std::apply([](auto&... op) { return std::tuple<ValueOf<T>...>{take_value(op)...}; },
                      ops_);
  }

 private:
  template <class U>
  void wait_one(Op<U>& op) {
    if (!op.outcome()) wait(*op.core(), op.index(), &waiter_);
  }

  std::tuple<Op<T>...> ops_;
  Waiter waiter_;
};

template <class T>
class AllOfRange {
 public:
  explicit AllOfRange(std::vector<Op<T>> ops) : ops_(std::move(ops)) {}

  bool await_ready() const {
    for (const auto& op : ops_) {
      if (!op.outcome()) return false;
    }
    return true;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_.handle = h;
    waiter_.remaining = 0;
    for (auto& op : ops_) waiter_.remaining += op.outcome() ? 0 : 1;
    for (auto& op : ops_) {
      if (!op.outcome()) wait(*op.core(), op.index(), &waiter_);
    }
  }
  std::vector<ValueOf<T>> await_resume() {
    std::vector<ValueOf<T>> values;
    values.reserve(ops_.size());
    for (auto& op : ops_) values.push_back(take_value(op));
    return values;
  }

 private:
  std::vector<Op<T>> ops_;
  Waiter waiter_;
};

template <class... T>
class RaceOf {
 public:
  using Result = std::variant<ValueOf<T>...>;
  explicit RaceOf(Op<T>... ops) : ops_(std::move(ops)...) {}

  bool await_ready() const {
    return std::apply([](const auto&... op) { return ((op.outcome() != nullptr) || ...); }, ops_);
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_.handle = h;
    waiter_.any = true;
    std::apply([&](auto&... op) { (wait(*op.core(), op.index(), &waiter_), ...); }, ops_);
  }
  Result await_resume() {
    std::size_t winner = first_journaled(std::index_sequence_for<T...>{});
    std::optional<Result> result;
    take_winner(winner, result, std::index_sequence_for<T...>{});
    return std::move(*result);
  }

 private:
  template <std::size_t... I>
  std::size_t first_journaled(std::index_sequence<I...>) const {
    std::size_t best = sizeof...(T);
    std::int64_t best_index = 0;
    auto consider = [&](std::size_t i, const Outcome* out) {
      if (out && (best == sizeof...(T) || out->index < best_index)) {
        best = i;
        best_index = out->index;
      }
    };
    (consider(I, std::get<I>(ops_).outcome()), ...);
    return best;
  }
  template <std::size_t... I>
  void take_winner(std::size_t winner, std::optional<Result>& result, std::index_sequence<I...>) {
    ((winner == I ? (result.emplace(std::in_place_index<I>, take_value(std::get<I>(ops_))), 0) : 0),
     ...);
  }

  std::tuple<Op<T>...> ops_;
  Waiter waiter_;
};

}  // namespace detail

template <class... T>
requires(sizeof...(T) > 0) detail::AllOf<T...> all(Op<T>... ops) {
  return detail::AllOf<T...>(std::move(ops)...);
}

template <class T>
detail::AllOfRange<T> all(std::vector<Op<T>> ops) {
  return detail::AllOfRange<T>(std::move(ops));
}

template <class... T>
requires(sizeof...(T) > 1) detail::RaceOf<T...> race(Op<T>... ops) {
  return detail::RaceOf<T...>(std::move(ops)...);
}

}  // namespace durable
