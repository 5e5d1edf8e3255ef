# Included by the -P test scripts that build plugins against the installed SDK: starts an empty scratch folder WORK
# and, unless PREFIX is given, installs the build tree BUILD_DIR into WORK/prefix and sets PREFIX to it.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
if(NOT PREFIX)
  set(PREFIX "${WORK}/prefix")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}" RESULT_VARIABLE rc
                  OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed: ${err}")
  endif()
endif()
