#include "cli/time_format.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace durable::cli {

std::string iso8601(TimePoint time) {
  return iso8601_ms(time.time_since_epoch().count());
}

std::string iso8601_ms(std::int64_t ms_since_epoch) {
  // Floor division, so times before 1970 still get a millisecond part in [0, 1000).
  std::int64_t seconds = ms_since_epoch / 1000;
  std::int64_t ms = ms_since_epoch % 1000;
  if (ms < 0) {
    ms += 1000;
    seconds -= 1;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return fmt::format("@{}ms", ms_since_epoch);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, ms);
}

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  std::int64_t count = 0;
  std::from_chars(text.data(), text.data() + digits, count);
  std::string_view unit = text.substr(digits);
  using namespace std::chrono;
  if (unit == "ms") return Duration{count};
  if (unit == "s") return duration_cast<Duration>(seconds{count});
  if (unit == "m") return duration_cast<Duration>(minutes{count});
  if (unit == "h") return duration_cast<Duration>(hours{count});
  if (unit == "d") return duration_cast<Duration>(hours{24 * count});
  return std::nullopt;
}

std::optional<TimePoint> parse_time(std::string_view text, TimePoint now) {
  if (auto ago = parse_duration(text)) return now - *ago;
  std::string s(text);
  std::tm utc{};
  int ms = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
                  &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(s).substr(19);
  if (rest.size() == 5 && rest[0] == '.') {
    auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + 4, ms);
    if (ec != std::errc{} || end != rest.data() + 4) return std::nullopt;
    rest.remove_prefix(4);
  }
  if (rest != "Z") return std::nullopt;
  if (utc.tm_mon < 1 || utc.tm_mon > 12 || utc.tm_mday < 1 || utc.tm_mday > 31 ||
      utc.tm_hour > 23 || utc.tm_min > 59 || utc.tm_sec > 60) {
    return std::nullopt;
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  std::time_t seconds = timegm(&utc);
  return TimePoint{Duration{static_cast<std::int64_t>(seconds) * 1000 + ms}};
}

}  // namespace durable::cli
