#include "engine/errors_json.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "durable/errors.hpp"

namespace durable::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

CaughtError describe_current_exception() {
  CaughtError caught;
  try {
    throw;
  } catch (const NonRetryableError& e) {
    caught.error = {{"type", demangle(typeid(e).name())}, {"message", e.what()}};
    caught.non_retryable = true;
  } catch (const std::exception& e) {
    caught.error = {{"type", demangle(typeid(e).name())}, {"message", e.what()}};
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    caught.error = {{"type", type ? demangle(type->name()) : "unknown"},
                    {"message", "a value that is not a std::exception was thrown"}};
  }
  return caught;
}

Json current_error_json(std::size_t compensations) {
  Json error = describe_current_exception().error;
  if (compensations > 0) error["compensations"] = compensations;
  return error;
}

}  // namespace durable::detail
