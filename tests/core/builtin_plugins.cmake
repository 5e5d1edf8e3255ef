# Every built-in plugin: its manifest parses, and its library passes every load check (entry point, SDK ABI, LibTorch
# version, C++ ABI, and the descriptor's id and kind equal to the manifest's) through `plugins inspect ID --load`.
# This catches a manifest whose id or kind drifted from its COMPAUDIT_PLUGIN line.
#   cmake -DEXE=<compaudit> -P this
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=COMPAUDIT_PLUGIN_PATH XDG_DATA_HOME=/nonexistent
                        "${EXE}" plugins list --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plugins list failed (${rc}): ${err}")
endif()
string(JSON n_errors LENGTH "${json}" errors)
if(n_errors GREATER 0)
  string(JSON first GET "${json}" errors 0 message)
  string(JSON file GET "${json}" errors 0 file)
  message(FATAL_ERROR "${n_errors} built-in manifest(s) do not parse, e.g. ${file}: ${first}")
endif()
string(JSON n LENGTH "${json}" plugins)
if(n EQUAL 0)
  message(FATAL_ERROR "no built-in plugins found (build the plugins first)")
endif()
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON id GET "${json}" plugins ${i} id)
  string(JSON origin GET "${json}" plugins ${i} origin)
  if(NOT origin STREQUAL "built-in")
    continue()
  endif()
  execute_process(COMMAND "${EXE}" plugins inspect "${id}" --load RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "checks: passed")
    message(FATAL_ERROR "built-in plugin ${id} does not load (${rc}): ${err}")
  endif()
  message(STATUS "${id}: loaded, checks passed")
endforeach()
