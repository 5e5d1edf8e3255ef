# compaudit_add_plugin_test(NAME SOURCES test.cpp... [PLUGIN target] [MANIFEST file.toml] [LINK targets...])
#
# Builds a unit test of a plugin written with compaudit/testing.h and Catch2 v2 (a main is provided), and registers
# it with ctest (exit code 77 = skipped; run with -w NoTests, so an executable that runs no test case fails). PLUGIN
# names the compaudit_add_plugin target under test: the test waits for it to be built and gets
# COMPAUDIT_TEST_MANIFEST, the path of its placed manifest, so compaudit::testing::load_plugin_under_test<Kind>(params)
# opens it as the host does. MANIFEST instead names any manifest file (its `library` relative to it). Call
# enable_testing() in your top-level CMakeLists.txt.
#
#   find_package(compaudit CONFIG REQUIRED)
#   enable_testing()
#   compaudit_add_plugin(my_pruner SOURCES my_pruner.cpp MANIFEST my_pruner.toml)
#   compaudit_add_plugin_test(my_pruner_test SOURCES my_pruner_test.cpp PLUGIN my_pruner)
#   # cmake --build build && ctest --test-dir build
function(compaudit_add_plugin_test name)
  cmake_parse_arguments(ARG "" "PLUGIN;MANIFEST" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "compaudit_add_plugin_test(${name}): SOURCES are required")
  endif()
  if(NOT TARGET Catch2::Catch2)
    find_package(Catch2 2 REQUIRED)
  endif()
  # One Catch2 main per project, compiled once.
  if(NOT TARGET compaudit_plugin_test_main)
    set(main "${CMAKE_BINARY_DIR}/compaudit_plugin_test_main.cpp")
    file(CONFIGURE OUTPUT "${main}" CONTENT "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n")
    add_library(compaudit_plugin_test_main STATIC "${main}")
    target_link_libraries(compaudit_plugin_test_main PUBLIC Catch2::Catch2)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  if(TARGET compaudit_sdk_testing)
    set(testing compaudit_sdk_testing)
  else()
    set(testing compaudit::sdk_testing)
  endif()
  target_link_libraries(${name} PRIVATE ${testing} compaudit_plugin_test_main ${ARG_LINK})
  set_target_properties(${name} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  if(ARG_PLUGIN)
    add_dependencies(${name} ${ARG_PLUGIN})
    target_compile_definitions(${name} PRIVATE
                               COMPAUDIT_TEST_MANIFEST="$<TARGET_PROPERTY:${ARG_PLUGIN},COMPAUDIT_MANIFEST>")
  elseif(ARG_MANIFEST)
    get_filename_component(manifest_abs "${ARG_MANIFEST}" ABSOLUTE)
    target_compile_definitions(${name} PRIVATE COMPAUDIT_TEST_MANIFEST="${manifest_abs}")
  endif()
  add_test(NAME ${name} COMMAND ${name} -w NoTests)
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
endfunction()
