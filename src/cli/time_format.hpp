// Times as the `durable` tool shows them: UTC, ISO-8601, to the millisecond the journal keeps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "durable/clock.hpp"

namespace durable::cli {

// "2024-05-01T12:34:56.789Z"
std::string iso8601(TimePoint time);
// The same for milliseconds since the Unix epoch, as event data stores times.
std::string iso8601_ms(std::int64_t ms_since_epoch);

// "90s", "15m", "36h", "30d", "500ms": a non-negative whole number and a unit; nullopt otherwise.
std::optional<Duration> parse_duration(std::string_view text);

// A point in time as the options of `durable list` take it: UTC ISO-8601
// ("2024-05-01T12:00:00Z", optionally with milliseconds ".250Z") or a duration ago ("24h" is
// now - 24 h). nullopt for anything else.
std::optional<TimePoint> parse_time(std::string_view text, TimePoint now);

}  // namespace durable::cli
