// Integers read from JSON that came from outside the process: a journal row, a CLI's output.
//
// nlohmann's get<int>() converts a float, or an integer too large for the target, with a cast;
// for a value out of the target's range that is undefined behaviour. exact_integer<T> returns
// nothing instead, so the caller can report the field or fall back.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <utility>

#include "durable/codec.hpp"

namespace durable::detail {

template <std::integral T>
std::optional<T> exact_integer(const Json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    auto s = v.get<std::int64_t>();
    if (std::in_range<T>(s)) return static_cast<T>(s);
  }
  return std::nullopt;
}

}  // namespace durable::detail
