# Packaging: `cmake --install` produces a relocatable CMake package usable with
#   find_package(durable CONFIG REQUIRED [COMPONENTS sqlite])
# giving durable::durable (engine + in-memory store) and one durable::<name> target per component.
#
# Each component gets its own export set and targets file, so that a consumer who does not use a
# component never needs that component's third-party dependency (e.g. SQLiteCpp).

# DURABLE_INSTALL is declared in the top-level CMakeLists.txt (tests/install needs it earlier).
if(NOT DURABLE_INSTALL)
  return()
endif()

include(CMakePackageConfigHelpers)

set(DURABLE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/durable"
    CACHE STRING "Where durableConfig.cmake is installed, relative to the prefix")
mark_as_advanced(DURABLE_INSTALL_CMAKEDIR)

# durable_component(<name> TARGET <library> PACKAGE <find_package name>
#                   PACKAGE_TARGET <target the package defines> HINT <where to get it>)
# Declares an optional component. <name> must be the library's EXPORT_NAME (durable::<name>).
# The generated durableConfig.cmake learns every declared component from here, so this is the only
# place to touch when adding one. A component whose library is not built is declared but not
# installed; asking for it then fails with a message saying so.
set(_durable_components_code "")
set(DURABLE_KNOWN_COMPONENTS "")
function(durable_component name)
  cmake_parse_arguments(ARG "" "TARGET;PACKAGE;PACKAGE_TARGET;HINT" "" ${ARGN})
  string(APPEND _durable_components_code
         "set(_durable_${name}_package \"${ARG_PACKAGE}\")\n"
         "set(_durable_${name}_package_target \"${ARG_PACKAGE_TARGET}\")\n"
         "set(_durable_${name}_hint \"${ARG_HINT}\")\n")
  set(_durable_components_code "${_durable_components_code}" PARENT_SCOPE)
  list(APPEND DURABLE_KNOWN_COMPONENTS ${name})
  set(DURABLE_KNOWN_COMPONENTS "${DURABLE_KNOWN_COMPONENTS}" PARENT_SCOPE)
  if(NOT TARGET ${ARG_TARGET})
    return()
  endif()
  get_target_property(export_name ${ARG_TARGET} EXPORT_NAME)
  if(NOT export_name STREQUAL name)
    message(FATAL_ERROR "durable_component(${name}): ${ARG_TARGET} exports as '${export_name}'")
  endif()
  install(TARGETS ${ARG_TARGET} EXPORT durable-${name}-targets
          ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
          RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  # Its link to durable::durable resolves through durableTargets, installed by the caller.
  install(EXPORT durable-${name}-targets
          NAMESPACE durable::
          DESTINATION "${DURABLE_INSTALL_CMAKEDIR}")
endfunction()

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/durable"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")

install(TARGETS durable EXPORT durableTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(EXPORT durableTargets
        NAMESPACE durable::
        DESTINATION "${DURABLE_INSTALL_CMAKEDIR}")

# The `durable` command-line tool, when built: a program, in no export set.
if(TARGET durable_cli)
  install(TARGETS durable_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()

durable_component(sqlite TARGET durable_sqlite
                  PACKAGE SQLiteCpp PACKAGE_TARGET SQLiteCpp HINT "Debian: libsqlitecpp-dev")
durable_component(claude TARGET durable_claude
                  PACKAGE CURL PACKAGE_TARGET CURL::libcurl HINT "Debian: libcurl4-openssl-dev")
# Later, once its library exists:
#   durable_component(postgres TARGET durable_postgres ...)

# Spliced into the config (configure_package_config_file substitutes @VAR@ only).
set(DURABLE_COMPONENTS_CODE "${_durable_components_code}")
# Checked by the config through PACKAGE_PREFIX_DIR, which is computed from the config's own
# location at load time: this is what keeps the package relocatable.
set(DURABLE_CONFIG_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/durableConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/durableConfig.cmake"
  INSTALL_DESTINATION "${DURABLE_INSTALL_CMAKEDIR}"
  PATH_VARS DURABLE_CONFIG_INCLUDEDIR)
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/durableConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/durableConfig.cmake"
              "${PROJECT_BINARY_DIR}/durableConfigVersion.cmake"
        DESTINATION "${DURABLE_INSTALL_CMAKEDIR}")
