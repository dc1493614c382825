// Errors as journal data: {"type": "<C++ type>", "message": "..."}.
#pragma once

#include <cstddef>
#include <exception>
#include <string>

#include "durable/codec.hpp"

namespace durable::detail {

std::string demangle(const char* mangled);

// Describes the exception being handled (call inside a catch block).
struct CaughtError {
  Json error;
  bool non_retryable = false;
};
CaughtError describe_current_exception();

Json current_error_json(std::size_t compensations);

}  // namespace durable::detail
