# `compaudit new-plugin` end to end: install compaudit into a temporary prefix (unless PREFIX is given), write one
# project of each kind, build it against the installed SDK with find_package(compaudit), and load it with
# `compaudit plugins inspect ID --load` (every load check: entry point, SDK ABI, LibTorch, C++ ABI, id, kind).
#   cmake -DEXE=<compaudit> -DBUILD_DIR=<build tree> -DWORK=<scratch dir> [-DPREFIX=<installed prefix>] -P this
include("${CMAKE_CURRENT_LIST_DIR}/installed_sdk.cmake")  # WORK emptied; PREFIX: the installed SDK
foreach(kind compressor metric augmentation)
  set(name "scaffold_${kind}")
  execute_process(COMMAND "${EXE}" new-plugin --kind ${kind} ${name} -o "${WORK}/${name}" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "new-plugin --kind ${kind} failed (${rc}): ${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${WORK}/${name}" -B "${WORK}/${name}/build"
                          "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring the ${kind} scaffold failed: ${out}${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK}/${name}/build" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building the ${kind} scaffold failed: ${out}${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "COMPAUDIT_PLUGIN_PATH=${WORK}/${name}/build"
                          "${EXE}" plugins inspect org.example.${kind}.${name} --load
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "checks: passed")
    message(FATAL_ERROR "the ${kind} scaffold does not load (${rc}): ${out}${err}")
  endif()
  message(STATUS "${kind} scaffold: built against ${PREFIX} and loaded, checks passed")
endforeach()
file(REMOVE_RECURSE "${WORK}")
