# Driver for the `install` CTest test (cmake -P; arguments come from tests/install/CMakeLists.txt).
# Install -> move the prefix -> probe find_package(durable) -> build and run a consumer.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR PROBE_DIR GENERATOR CXX_COMPILER VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n  ${ARGN}\n${out}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()

# Configure outside projects exactly like the main build: same generator, compiler and flags.
set(configure_args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
                   "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
if(GENERATOR_PLATFORM)
  list(APPEND configure_args -A "${GENERATOR_PLATFORM}")
endif()
if(GENERATOR_TOOLSET)
  list(APPEND configure_args -T "${GENERATOR_TOOLSET}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()

set(first_prefix "${WORK_DIR}/a")
set(prefix "${WORK_DIR}/b")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${first_prefix}"
    ${config_args})

# Relocatable means nothing in the package remembers where it was first installed.
file(RENAME "${first_prefix}" "${prefix}")
file(GLOB_RECURSE package_files "${prefix}/*.cmake" "${prefix}/*.pc")
if(NOT package_files)
  message(FATAL_ERROR "no CMake package files were installed under ${prefix}")
endif()
foreach(f IN LISTS package_files)
  file(READ "${f}" text)
  string(FIND "${text}" "${first_prefix}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${f} contains the original install prefix ${first_prefix}")
  endif()
endforeach()

# What find_package(durable) offers and refuses (configure only).
run("configuring the package probe" "${CMAKE_COMMAND}" -S "${PROBE_DIR}" -B "${WORK_DIR}/probe"
    ${configure_args} "-DCMAKE_PREFIX_PATH=${prefix}" "-DEXPECTED_PREFIX=${prefix}"
    "-DEXPECTED_VERSION=${VERSION}")

# A real program, built against the moved prefix.
set(consumer_build "${WORK_DIR}/consumer")
run("configuring the consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${consumer_build}"
    ${configure_args} "-DCMAKE_PREFIX_PATH=${prefix}")
run("building the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

set(exe "${consumer_build}/durable_consumer")
if(CONFIG AND EXISTS "${consumer_build}/${CONFIG}/durable_consumer")
  set(exe "${consumer_build}/${CONFIG}/durable_consumer")
endif()
run("running the consumer" "${exe}")
message(STATUS "consumer said: ${run_output}")
if(NOT run_output MATCHES "^durable consumer: memory=hello consumer, sqlite=hello consumer\n$")
  message(FATAL_ERROR "unexpected consumer output:\n${run_output}")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "install test passed")
