// pipeline_detail.h (internal) — the two halves of load_pipeline():
//   pipeline_sections.cpp  the plain tables ([audit], [data], [model], [training], [memorization], [report])
//   pipeline_plugins.cpp   everything that names a plugin ([[arm]] / [[arm.step]], [augmentation], [[metric]]):
//                          checked against the registry's manifests, sweeps expanded, control arm added.
//   pipeline_model_checks.cpp  compressor parameters that name layers or cuts, checked against the model.
//   pipeline_search.cpp    [search] (adds the searched arm) and [attribution].
#pragma once

#include <compaudit/host/error_list.h>
#include <compaudit/host/model_signature.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include "toml_reader.h"

#include <filesystem>
#include <functional>
#include <initializer_list>

namespace compaudit::host::detail {

/// pipeline_gates.cpp: the [[gate]] tables, checked against the pipeline's metrics and arms (read after them); each
/// gate's error recorded in `errors`.
void read_gates(const toml::table& root, const std::string& file, Pipeline& out, ErrorCollector& errors);

/// pipeline_search.cpp, [search] and [attribution] (docs/attribution.md). add_search_arm() is called with the
/// compressed arms (before the controls are added): it reads [search] name, uniform and finetune_epochs into `search`
/// and appends the searched arm (ArmSpec::search), and the uniform one (ArmSpec::search_uniform) when asked, to
/// `compressed`, so they get their reference, dense control and gate matches like any compressed arm. read_search() checks the rest of [search] once the gates are read (`gates_ok`:
/// every [[gate]] was read without error, so a gate name it misses is really missing); read_attribution() checks
/// [attribution], its arm patterns against the arms when `arms_ok` (every [[arm]] was read). Each table's errors are
/// recorded in `errors`.
void add_search_arm(const toml::table& root, const std::string& file, std::vector<ArmSpec>& compressed,
                    SearchSpec& search);
void read_search(const toml::table& root, const std::string& file, const Registry& registry,
                 const ModelSignature* model, bool gates_ok, Pipeline& out, ErrorCollector& errors);
void read_attribution(const toml::table& root, const std::string& file, bool arms_ok, Pipeline& out,
                      ErrorCollector& errors);

/// pipeline_plugins.cpp, shared with [search]: why `name` cannot name an arm ("" when it can: not empty, not
/// "dense", "dense+ft..." or "... control", no '@', '=' or ',').
std::string arm_name_problem(const std::string& name);
/// The installed plugin `id` of kind `kind`; otherwise fails at `key` naming near misses and the installed plugins.
const Manifest& find_plugin(TableReader& r, const std::string& key, const std::string& id, PluginKind kind,
                            const Registry& registry, const std::string& what);
/// The manifest's parameter `name`; otherwise throws Error(parameters) at `where` listing its parameters.
const ParamSpec& find_param(const Manifest& manifest, const std::string& name, const std::string& what,
                            const SourceLocation& where);
/// A single value written for `spec` (no sweep), checked against it (Error(parameters) at the value) and coerced.
ParamValue checked_param(const ParamSpec& spec, const toml::node& node, const std::string& file,
                         const std::string& what);

/// pipeline_user_data.cpp: [data] formats "npy", "npz" and "images" — their file / folder / array keys, and
/// `test_only` when no training source is given; check_test_only() (called after the common keys) refuses options
/// that need training data and makes normalize "none".
bool is_user_data_format(const std::string& format);
void read_user_data(TableReader& r, const std::filesystem::path& dir, DataSpec& d);
void check_test_only(TableReader& r, DataSpec& d);

/// Fails at `key` unless `value` is one of `ok`: `key = "value" is not one of "a", "b"`.
void one_of(TableReader& r, const std::string& key, const std::string& value, std::initializer_list<const char*> ok);

/// A data, model or predictions file named by `key` = `value`: relative to `dir` (the pipeline's directory), must
/// be a regular file. Returns the absolute path; throws Error(data) at the key otherwise.
std::string existing_file(TableReader& r, const std::string& key, const std::string& value,
                          const std::filesystem::path& dir);

/// Reads every table that does not name a plugin into `out`. `dir` is the pipeline file's directory. Each table's
/// error is recorded in `errors` and the next table read; true when [model], [training] and the seeds are settled
/// (what the plugin uses are checked against).
bool read_sections(const toml::table& root, const std::string& file, const std::filesystem::path& dir,
                   Pipeline& out, ErrorCollector& errors);

/// Reads the optional [run] table (isolation, cell_timeout, cell_memory_mb; pipeline_run.cpp).
void read_run(TableReader& root, const std::string& file, Pipeline& out);

/// Reads arms, augmentation and metrics, checking them against `registry`, and — when `model` is given — the
/// compressor parameters that name parts of the model against it (check_model_references). The error of each
/// [[arm]], [[metric]], [[gate]] and [augmentation] is recorded in `errors`, and the next one read.
void read_plugin_uses(const toml::table& root, const std::string& file, const Registry& registry, Pipeline& out,
                      const ModelSignature* model, ErrorCollector& errors);

/// pipeline_model_checks.cpp: every file of `spec.checkpoints` has the parameters (names and shapes) of `first`, the
/// signature of the first one; throws Error(data) naming the first file that differs and how. A file the
/// LibTorch-free reader cannot parse is left to the run, which checks it again when it loads the module.
void check_checkpoints_agree(const ModelSpec& spec, const ModelSignature& first);

/// pipeline_model_checks.cpp: checks the parameters of one step whose manifest says they refer to the model
/// (Manifest::refers_to: layer patterns, exclusions, layer types, cuts) against `model`. Throws Error(pipeline)
/// "<what>: <param>: ..." at where(param) — the value as written, or the step's table for a default.
void check_model_references(const Manifest& manifest, const Params& params, const ModelSignature& model,
                            const std::string& what, const std::function<SourceLocation(const std::string&)>& where);

}  // namespace compaudit::host::detail
