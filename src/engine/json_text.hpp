// Event data as JSON text without a Json DOM per event.
//
// Contract: append_json(out, v) (declared in core_api.hpp) appends exactly the bytes v.dump()
// would produce (compact, ensure_ascii off, strict UTF-8 handling: it throws Json::type_error
// where dump() does), so journals written through it are byte-for-byte those written through
// dump(). Scalars, plain ASCII strings and arrays of them are written directly; anything else
// goes through dump().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "durable/detail/core_api.hpp"

namespace durable::detail {

// append_json(out, Json(s)) without the copy into a Json.
void append_json_string(std::string& out, std::string_view s);
// append_json(out, Json(value)) without the Json.
void append_json_integer(std::string& out, std::int64_t value);

// `{"<key>":<value>}`, the data of an event with one member, as Json{{key, value}}.dump() has it.
// `key` must need no escaping (the engine's fixed keys).
std::string json_member(std::string_view key, const Json& value);

}  // namespace durable::detail
