// How values become journal data and back: through nlohmann::json, so any type with ADL
// to_json/from_json (or NLOHMANN_DEFINE_TYPE_*) is storable.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

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
      return json.get<T>();
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
      return json.get<T>();
    } catch (const Json::exception& e) {
      throw DecodeError(where() + " does not decode into the declared type: " + e.what());
    }
  }
}

}  // namespace durable
