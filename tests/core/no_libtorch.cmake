# Runs the front-end commands under LD_DEBUG=libs and fails if the dynamic linker opened LibTorch.
# The check that libcompaudit_host appears in the trace shows that the trace works (so the test can fail).
set(commands "--help" "plugins list" "plugins list --json"
             "plugins inspect org.test.compressor.prune --plugin-path ${DATA}/plugins"
             "validate --plugin-path ${DATA}/plugins ${DATA}/pipelines/good/sweep.toml")
foreach(args IN LISTS commands)
  separate_arguments(argv UNIX_COMMAND "${args}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_DEBUG=libs ${EXE} ${argv}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE trace)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compaudit ${args} exited with ${rc}: ${out}")
  endif()
  if(NOT trace MATCHES "libcompaudit_host")
    message(FATAL_ERROR "LD_DEBUG trace of 'compaudit ${args}' does not show libcompaudit_host; cannot check")
  endif()
  if(trace MATCHES "libtorch|libc10")
    string(REGEX MATCH "[^\n]*(libtorch|libc10)[^\n]*" line "${trace}")
    message(FATAL_ERROR "compaudit ${args} loaded LibTorch: ${line}")
  endif()
  message(STATUS "compaudit ${args}: LibTorch not loaded")
endforeach()
