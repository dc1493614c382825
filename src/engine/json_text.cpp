#include "engine/json_text.hpp"

#include <charconv>

namespace durable::detail {
namespace {

template <class Int>
void append_integer(std::string& out, Int value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;  // 24 characters hold every 64-bit integer
  out.append(buffer, end);
}

// nlohmann writes a string byte for byte unless it holds a control character, '"', '\\' or a
// byte of a multi-byte UTF-8 sequence (escaped, validated); only the plain case is done here.
bool is_plain_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void append_json(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_integer:
      append_integer(out, value.get<std::int64_t>());
      return;
    case Json::value_t::number_unsigned:
      append_integer(out, value.get<std::uint64_t>());
      return;
    case Json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      if (!is_plain_ascii(s)) break;
      out += '"';
      out += s;
      out += '"';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& element : value) {
        if (!first) out += ',';
        first = false;
        append_json(out, element);
      }
      out += ']';
      return;
    }
    default:
      break;
  }
  out += value.dump();
}

void append_json_string(std::string& out, std::string_view s) {
  if (!is_plain_ascii(s)) {
    out += Json(s).dump();
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

void append_json_integer(std::string& out, std::int64_t value) {
  append_integer(out, value);
}

std::string json_member(std::string_view key, const Json& value) {
  std::string out = "{\"";
  out += key;
  out += "\":";
  append_json(out, value);
  out += '}';
  return out;
}

}  // namespace durable::detail
