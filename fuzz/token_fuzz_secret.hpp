// The fixed secret shared by the token fuzzer and the seed generator (never a real store's).
#pragma once

#include <string_view>

namespace durable::fuzz {

inline constexpr std::string_view kTokenFuzzSecret = "durable-token-fuzz-secret-32byte";

}  // namespace durable::fuzz
