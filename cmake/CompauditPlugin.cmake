# compaudit_add_plugin(NAME SOURCES src... MANIFEST file.toml [LINK targets...] [PRECOMPILE_HEADERS])
#
# Builds a compaudit plugin: a shared library with hidden symbols (only the COMPAUDIT_PLUGIN entry point is exported),
# linked to the SDK (and so to LibTorch), and copies the manifest next to the library so that
# `library = "lib<NAME>.so"` in the manifest resolves. The manifest's `library` is relative to the manifest. In the
# compaudit tree the plugin is also installed beside the built-in plugins.
#
# The manifest is the plugin's one declaration: at build time compaudit-manifest-header (installed with the SDK)
# generates <NAME>_manifest.h from it, on the plugin's include path, holding namespace <NAME>_manifest with `id`,
# `kind`, `version` (for COMPAUDIT_PLUGIN_MANIFEST), a metric's `needs`, and `Options`: one member per [[param]]
# of the manifest's type, default and doc, constructed from the host's Params (docs/plugin-authoring.md). A manifest
# the host would refuse, or whose `library` is not lib<NAME>.so, fails the build.
#
#   find_package(compaudit CONFIG REQUIRED)
#   compaudit_add_plugin(my_pruner SOURCES my_pruner.cpp MANIFEST my_pruner.toml)
function(compaudit_add_plugin name)
  cmake_parse_arguments(ARG "PRECOMPILE_HEADERS" "MANIFEST;OUTPUT_DIRECTORY" "SOURCES;LINK" ${ARGN})
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
  # Precompiled header (<ATen/ATen.h> + the SDK, compaudit_plugin_pch.h): the built-in plugins share one, compiled
  # once. A plugin of its own has none unless PRECOMPILE_HEADERS asks: for one source file compiling the header first
  # only adds time (the one-file scaffold: 8 s without, 17 s with it, 42 s with the old <torch/torch.h> one);
  # bench/plugin_build/README.md has the figures.
  if(COMPAUDIT_PLUGIN_PCH_TARGET AND TARGET "${COMPAUDIT_PLUGIN_PCH_TARGET}")
    target_precompile_headers(${name} REUSE_FROM ${COMPAUDIT_PLUGIN_PCH_TARGET})
  elseif(ARG_PRECOMPILE_HEADERS)
    target_precompile_headers(${name} PRIVATE "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/compaudit_plugin_pch.h")
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
  # Where the placed manifest is: compaudit_add_plugin_test(... PLUGIN ${name}) loads the plugin through it.
  set_target_properties(${name} PROPERTIES COMPAUDIT_MANIFEST "${out_dir}/${manifest_name}")
  # <NAME>_manifest.h from the manifest, regenerated whenever it changes (rewritten only when its text changes).
  if(TARGET compaudit_manifest_header)
    set(generator compaudit_manifest_header)
  else()
    set(generator compaudit::manifest_header)
  endif()
  string(MAKE_C_IDENTIFIER "${name}_manifest" header_namespace)
  set(header_dir "${CMAKE_CURRENT_BINARY_DIR}/${name}_generated")
  add_custom_command(OUTPUT "${header_dir}/${name}_manifest.h"
                     COMMAND ${CMAKE_COMMAND} -E make_directory "${header_dir}"
                     COMMAND ${generator} "${manifest_abs}" "${header_dir}/${name}_manifest.h" ${header_namespace}
                             "lib${name}.so"
                     DEPENDS "${manifest_abs}" ${generator}
                     COMMENT "Generating ${name}_manifest.h from ${manifest_name}")
  target_sources(${name} PRIVATE "${header_dir}/${name}_manifest.h")
  target_include_directories(${name} PRIVATE "${header_dir}")
  if(DEFINED COMPAUDIT_PLUGIN_SUBDIR AND PROJECT_NAME STREQUAL "compaudit")
    install(TARGETS ${name} LIBRARY DESTINATION "${COMPAUDIT_PLUGIN_SUBDIR}")
    install(FILES "${manifest_abs}" DESTINATION "${COMPAUDIT_PLUGIN_SUBDIR}")
  endif()
endfunction()

# compaudit_install_plugin(NAME [DESTINATION dir])
#
# Adds the target install_<NAME>: it builds the plugin and copies lib<NAME>.so and its manifest into
# <user plugin directory>/<NAME>/, where the host finds them with no COMPAUDIT_PLUGIN_PATH. The user plugin directory
# is read from the environment when the target runs, as the host reads it: $XDG_DATA_HOME/compaudit/plugins, else
# ~/.local/share/compaudit/plugins (DESTINATION overrides it). A target, not an install() rule: `cmake --install`
# keeps meaning CMAKE_INSTALL_PREFIX (and DESTDIR) and never writes into a home directory.
#
#   compaudit_add_plugin(my_pruner SOURCES my_pruner.cpp MANIFEST my_pruner.toml)
#   compaudit_install_plugin(my_pruner)      # cmake --build build --target install_my_pruner
function(compaudit_install_plugin name)
  cmake_parse_arguments(ARG "" "DESTINATION" "" ${ARGN})
  if(NOT TARGET ${name})
    message(FATAL_ERROR "compaudit_install_plugin(${name}): no target ${name}; call compaudit_add_plugin first")
  endif()
  set(destination)
  if(ARG_DESTINATION)
    get_filename_component(destination_abs "${ARG_DESTINATION}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
    set(destination "-DDESTINATION=${destination_abs}")
  endif()
  add_custom_target(install_${name}
                    COMMAND ${CMAKE_COMMAND} -DNAME=${name} "-DLIBRARY=$<TARGET_FILE:${name}>"
                            "-DMANIFEST=$<TARGET_PROPERTY:${name},COMPAUDIT_MANIFEST>" ${destination}
                            -P "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/CompauditInstallPlugin.cmake"
                    VERBATIM)
  add_dependencies(install_${name} ${name} ${name}_manifest)
endfunction()
