# Warnings as errors on our own code only (never on dependencies' headers).
add_library(durable_warnings INTERFACE)
target_compile_options(durable_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror)
if(DURABLE_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC's -Wmaybe-uninitialized reports false positives inside libstdc++ (<regex>, <functional>)
  # when sanitizer instrumentation changes inlining; GCC's manual calls it unreliable there.
  target_compile_options(durable_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
