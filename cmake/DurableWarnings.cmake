# Warnings as errors on our own code only (never on dependencies' headers).
add_library(durable_warnings INTERFACE)
target_compile_options(durable_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror)
