// How values become journal data and back: through nlohmann::json, so any type with ADL
// to_json/from_json (or NLOHMANN_DEFINE_TYPE_*) is storable.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "durable/errors.hpp"

// std::optional<T> is null or T (nlohmann_json 3.11 has no serializer of its own for it).
namespace nlohmann {
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value) {
      j = *value;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null()) {
      value.reset();
    } else {
      value = j.get<T>();
    }
  }
};
}  // namespace nlohmann

namespace durable {

using Json = nlohmann::json;

namespace detail {

// The integer `json` holds if T can hold it exactly, else nothing. nlohmann's get<T>() converts a
// float (2.5 becomes 2) or an integer out of range with a cast, and for a value outside T's range
// that is undefined behaviour; data from outside the process goes through this instead.
template <std::integral T>
std::optional<T> exact_integer(const Json& json) {
  if (json.is_number_unsigned()) {
    if (auto u = json.get<std::uint64_t>(); std::in_range<T>(u)) return static_cast<T>(u);
  } else if (json.is_number_integer()) {
    if (auto s = json.get<std::int64_t>(); std::in_range<T>(s)) return static_cast<T>(s);
  }
  return std::nullopt;
}

// json.get<T>(), except that an integral T takes only an integer it holds exactly. (Integers
// inside a user type go through that type's from_json.)
template <class T>
T get_checked(const Json& json) {
  if constexpr (std::integral<T> && !std::same_as<T, bool>) {
    if (!json.is_number()) return json.get<T>();  // nlohmann's own type_error
    if (auto v = exact_integer<T>(json)) return *v;
    throw Json::type_error::create(
        302, "the number " + json.dump() + " is not an integer the declared type holds", nullptr);
  } else {
    return json.get<T>();
  }
}

}  // namespace detail

template <class T>
Json encode(const T& value) {
  if constexpr (std::is_void_v<T>) {
    return nullptr;
  } else {
    return Json(value);
  }
}

// Throws DecodeError whose message starts with `where` (e.g. "execution X: input of workflow W").
template <class T>
T decode(const Json& json, std::string_view where) {
  if constexpr (std::is_void_v<T>) {
    return;
  } else {
    try {
      return detail::get_checked<T>(json);
    } catch (const Json::exception& e) {
      throw DecodeError(std::string(where) +
                        " does not decode into the declared type: " + e.what());
    }
  }
}

// As decode, but the context is built (`where()`, returning a std::string) only when decoding
// fails: for hot paths such as every value a workflow takes from its journal.
template <class T, class Where>
requires std::is_invocable_r_v<std::string, Where&> T decode_lazily(const Json& json,
                                                                    Where&& where) {
  if constexpr (std::is_void_v<T>) {
    return;
  } else {
    try {
      return detail::get_checked<T>(json);
    } catch (const Json::exception& e) {
      throw DecodeError(where() + " does not decode into the declared type: " + e.what());
    }
  }
}

}  // namespace durable
