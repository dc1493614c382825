#include "cli/time_format.hpp"

#include <fmt/format.h>

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

}  // namespace durable::cli
