// Durations on the command line: a whole number and a unit, "250ms", "30s", "10m", "2h", "3d".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <durable/clock.hpp>

namespace approval_gate {

// nullopt for anything else (no unit, an unknown unit, a sign, a fraction, an overflow).
std::optional<durable::Duration> parse_duration(std::string_view text);

// The largest unit that divides `duration` exactly: 48h, 90s, 1500ms.
std::string format_duration(durable::Duration duration);

}  // namespace approval_gate
