// pipeline_detail.h (internal) — the two halves of load_pipeline():
//   pipeline_sections.cpp  the plain tables ([audit], [data], [model], [training], [memorization], [report])
//   pipeline_plugins.cpp   everything that names a plugin ([[arm]] / [[arm.step]], [augmentation], [[metric]]):
//                          checked against the registry's manifests, sweeps expanded, control arm added.
#pragma once

#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include "toml_reader.h"

#include <filesystem>

namespace compaudit::host::detail {

/// Reads every table that does not name a plugin into `out`. `dir` is the pipeline file's directory.
void read_sections(const toml::table& root, const std::string& file, const std::filesystem::path& dir,
                   Pipeline& out);

/// Reads arms, augmentation and metrics, checking them against `registry`.
void read_plugin_uses(const toml::table& root, const std::string& file, const Registry& registry, Pipeline& out);

}  // namespace compaudit::host::detail
