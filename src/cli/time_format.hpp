// Times as the `durable` tool shows them: UTC, ISO-8601, to the millisecond the journal keeps.
#pragma once

#include <cstdint>
#include <string>

#include "durable/clock.hpp"

namespace durable::cli {

// "2024-05-01T12:34:56.789Z"
std::string iso8601(TimePoint time);
// The same for milliseconds since the Unix epoch, as event data stores times.
std::string iso8601_ms(std::int64_t ms_since_epoch);

}  // namespace durable::cli
