# compaudit_add_plugin(NAME SOURCES src... MANIFEST file.toml [LINK targets...])
#
# Builds a compaudit plugin: a shared library with hidden symbols (only the COMPAUDIT_PLUGIN entry point is exported),
# linked to the SDK (and so to LibTorch), with a precompiled header for LibTorch, and copies the manifest next to the
# library so that `library = "lib<NAME>.so"` in the manifest resolves. The manifest's `library` is relative to the
# manifest. In the compaudit tree the plugin is also installed beside the built-in plugins.
#
#   find_package(compaudit CONFIG REQUIRED)
#   compaudit_add_plugin(my_pruner SOURCES my_pruner.cpp MANIFEST my_pruner.toml)
function(compaudit_add_plugin name)
  cmake_parse_arguments(ARG "" "MANIFEST;OUTPUT_DIRECTORY" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_SOURCES OR NOT ARG_MANIFEST)
    message(FATAL_ERROR "compaudit_add_plugin(${name}): SOURCES and MANIFEST are required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  set_property(GLOBAL APPEND PROPERTY COMPAUDIT_PLUGIN_TARGETS ${name})
  if(TARGET compaudit_sdk)
    target_link_libraries(${name} PRIVATE compaudit_sdk ${ARG_LINK})
  else()
    target_link_libraries(${name} PRIVATE compaudit::sdk ${ARG_LINK})
  endif()
  set_target_properties(${name} PROPERTIES PREFIX "lib" CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                                           CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  # Keep unresolved symbols an error at link time, not a surprise at load time.
  target_link_options(${name} PRIVATE "LINKER:--no-undefined"
                      "LINKER:--version-script=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/compaudit_plugin.map")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/compaudit_plugin.map")
  if(COMPAUDIT_PLUGIN_PCH_TARGET AND TARGET "${COMPAUDIT_PLUGIN_PCH_TARGET}")
    target_precompile_headers(${name} REUSE_FROM ${COMPAUDIT_PLUGIN_PCH_TARGET})
  else()
    target_precompile_headers(${name} PRIVATE "$<BUILD_INTERFACE:${CMAKE_CURRENT_FUNCTION_LIST_DIR}/compaudit_plugin_pch.h>")
  endif()
  set(out_dir "${ARG_OUTPUT_DIRECTORY}")
  if(NOT out_dir)
    if(DEFINED COMPAUDIT_PLUGIN_OUTPUT_DIR)
      set(out_dir "${COMPAUDIT_PLUGIN_OUTPUT_DIR}")
    else()
      set(out_dir "${CMAKE_CURRENT_BINARY_DIR}")
    endif()
  endif()
  set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${out_dir}")
  get_filename_component(manifest_name "${ARG_MANIFEST}" NAME)
  get_filename_component(manifest_abs "${ARG_MANIFEST}" ABSOLUTE)
  # A build step of its own (not POST_BUILD): an edited manifest reaches the build tree even when the library does
  # not need relinking.
  add_custom_command(OUTPUT "${out_dir}/${manifest_name}"
                     COMMAND ${CMAKE_COMMAND} -E copy_if_different "${manifest_abs}" "${out_dir}/${manifest_name}"
                     DEPENDS "${manifest_abs}"
                     COMMENT "Placing manifest ${manifest_name} beside lib${name}.so")
  add_custom_target(${name}_manifest DEPENDS "${out_dir}/${manifest_name}")
  add_dependencies(${name} ${name}_manifest)
  if(DEFINED COMPAUDIT_PLUGIN_SUBDIR AND PROJECT_NAME STREQUAL "compaudit")
    install(TARGETS ${name} LIBRARY DESTINATION "${COMPAUDIT_PLUGIN_SUBDIR}")
    install(FILES "${manifest_abs}" DESTINATION "${COMPAUDIT_PLUGIN_SUBDIR}")
  endif()
endfunction()
