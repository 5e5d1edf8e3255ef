# Run by the install_<target> target of compaudit_install_plugin() (cmake -P): copies a built plugin library and its
# manifest into <plugin directory>/<NAME>/, where `compaudit plugins list` finds them with no COMPAUDIT_PLUGIN_PATH.
#   -DNAME=<target> -DLIBRARY=<lib<target>.so> -DMANIFEST=<placed manifest> [-DDESTINATION=<plugin directory>]
# Without DESTINATION the plugin directory is the host's user plugin directory, read from the environment when the
# target runs (host/core/src/registry.cpp): $XDG_DATA_HOME/compaudit/plugins, else ~/.local/share/compaudit/plugins.
foreach(var NAME LIBRARY MANIFEST)
  if(NOT ${var})
    message(FATAL_ERROR "CompauditInstallPlugin.cmake: -D${var}=... is required")
  endif()
endforeach()
if(DESTINATION)
  set(plugin_dir "${DESTINATION}")
elseif(NOT "$ENV{XDG_DATA_HOME}" STREQUAL "")
  set(plugin_dir "$ENV{XDG_DATA_HOME}/compaudit/plugins")
elseif(NOT "$ENV{HOME}" STREQUAL "")
  set(plugin_dir "$ENV{HOME}/.local/share/compaudit/plugins")
else()
  message(FATAL_ERROR "install_${NAME}: neither XDG_DATA_HOME nor HOME is set, so there is no user plugin directory; "
                      "give compaudit_install_plugin(${NAME} DESTINATION dir)")
endif()
# One folder per plugin: its library and manifest stay together (the manifest's `library` is relative to it), and a
# reinstall replaces exactly what the last one put there.
set(dir "${plugin_dir}/${NAME}")
file(MAKE_DIRECTORY "${dir}")
get_filename_component(library_name "${LIBRARY}" NAME)
get_filename_component(manifest_name "${MANIFEST}" NAME)
file(COPY_FILE "${LIBRARY}" "${dir}/${library_name}" ONLY_IF_DIFFERENT)
file(COPY_FILE "${MANIFEST}" "${dir}/${manifest_name}" ONLY_IF_DIFFERENT)
message(STATUS "Installed ${library_name} and ${manifest_name} into ${dir} (compaudit plugins list shows it)")
