#include "duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <utility>

namespace approval_gate {
namespace {

// Largest first, so that format_duration picks the largest unit that fits.
constexpr std::array<std::pair<std::string_view, std::int64_t>, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

}  // namespace

std::optional<durable::Duration> parse_duration(std::string_view text) {
  std::int64_t count = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc{} || end == text.data() || count < 0) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  for (const auto& [name, ms] : kUnits) {
    if (unit != name) continue;
    if (count > std::numeric_limits<std::int64_t>::max() / ms) return std::nullopt;
    return durable::Duration{count * ms};
  }
  return std::nullopt;
}

std::string format_duration(durable::Duration duration) {
  const std::int64_t ms = duration.count();
  for (const auto& [name, unit_ms] : kUnits) {
    if (ms != 0 && ms % unit_ms == 0) return std::to_string(ms / unit_ms) + std::string(name);
  }
  return std::to_string(ms) + "ms";
}

}  // namespace approval_gate
