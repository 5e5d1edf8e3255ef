// pipeline_detail.h (internal) — the two halves of load_pipeline():
//   pipeline_sections.cpp  the plain tables ([audit], [data], [model], [training], [memorization], [report])
//   pipeline_plugins.cpp   everything that names a plugin ([[arm]] / [[arm.step]], [augmentation], [[metric]]):
//                          checked against the registry's manifests, sweeps expanded, control arm added.
//   pipeline_model_checks.cpp  compressor parameters that name layers or cuts, checked against the model.
#pragma once

#include <compaudit/host/model_signature.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include "toml_reader.h"

#include <filesystem>
#include <functional>

namespace compaudit::host::detail {

/// Reads every table that does not name a plugin into `out`. `dir` is the pipeline file's directory.
void read_sections(const toml::table& root, const std::string& file, const std::filesystem::path& dir,
                   Pipeline& out);

/// Reads the optional [run] table (isolation, cell_timeout, cell_memory_mb; pipeline_run.cpp).
void read_run(TableReader& root, const std::string& file, Pipeline& out);

/// Reads arms, augmentation and metrics, checking them against `registry`, and — when `model` is given — the
/// compressor parameters that name parts of the model against it (check_model_references).
void read_plugin_uses(const toml::table& root, const std::string& file, const Registry& registry, Pipeline& out,
                      const ModelSignature* model = nullptr);

/// pipeline_model_checks.cpp: checks the parameters of one step whose manifest says they refer to the model
/// (Manifest::refers_to: layer patterns, exclusions, layer types, cuts) against `model`. Throws Error(pipeline)
/// "<what>: <param>: ..." at where(param) — the value as written, or the step's table for a default.
void check_model_references(const Manifest& manifest, const Params& params, const ModelSignature& model,
                            const std::string& what, const std::function<SourceLocation(const std::string&)>& where);

}  // namespace compaudit::host::detail
