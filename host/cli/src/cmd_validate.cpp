// `compaudit validate PIPELINE.toml` — parses and checks a pipeline against the manifests (no library is opened)
// and prints the arms after sweep expansion; every error of the file at once. With --load it also creates every
// plugin the pipeline uses, as `run` does before any work (compaudit/host/plugin_check.h), in this process.
#include "commands.h"

#include <compaudit/host/engine_api.h>
#include <compaudit/host/error_list.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/plugin_check.h>
#include <compaudit/host/registry.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace compaudit::cli {
namespace {
using nlohmann::json;

json params_json(const Params& p) {
  json j = json::object();
  for (const auto& [name, value] : p.values()) j[name] = std::visit([](const auto& x) { return json(x); }, value);
  return j;
}

json values_json(const std::vector<ParamValue>& values) {
  json j = json::array();
  for (const auto& v : values) j.push_back(std::visit([](const auto& x) { return json(x); }, v));
  return j;
}

std::string values_text(const std::vector<ParamValue>& values) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : ", ") + to_string(v);
  return s;
}

std::string params_text(const Params& p) {
  std::string s;
  for (const auto& [name, value] : p.values()) s += fmt::format("{}{}={}", s.empty() ? "" : ", ", name, to_string(value));
  return s;
}

json error_json(const Error& e) {
  return {{"file", e.where().file},      {"line", e.where().line},   {"column", e.where().column},
          {"category", to_string(e.code())}, {"message", e.message()}};
}

// Every error of the file (ErrorList), or the one.
json errors_json(const Error& e) {
  json all = json::array();
  if (const auto* list = dynamic_cast<const host::ErrorList*>(&e))
    for (const auto& one : list->errors()) all.push_back(error_json(one));
  else
    all.push_back(error_json(e));
  return all;
}

json creation_failure_json(const host::PluginCreationFailure& f) {
  return {{"file", f.where.file},     {"line", f.where.line}, {"column", f.where.column}, {"category", "plugin"},
          {"plugin", f.plugin},       {"manifest", f.manifest}, {"uses", f.uses},
          {"message", fmt::format("{} cannot be created: {}", f.plugin, f.error)}};
}

// --load: every plugin of the pipeline created through the engine (LibTorch is loaded for it). Prints the failures
// and returns exit_plugin, exit_engine without an engine, exit_ok when every plugin was created.
int load_plugins(const host::Pipeline& pipeline, const host::Registry& registry, bool as_json) {
  const host::EngineApi* api = open_engine();
  if (!api) return host::exit_engine;
  const std::vector<host::PluginCreationFailure> failures = api->create_plugins(pipeline, registry);
  if (failures.empty()) return host::exit_ok;
  if (as_json) {
    json errors = json::array();
    for (const auto& f : failures) errors.push_back(creation_failure_json(f));
    std::cout << json{{"valid", false}, {"error", errors.front()}, {"errors", errors}}.dump(2) << '\n';
  } else {
    std::cerr << "compaudit validate: " << host::creation_failures_text(failures) << '\n';
  }
  return host::exit_plugin;
}

// What a pipeline's K allows, said before anything runs (docs/science.md): paired tests compare a reference and a
// candidate model on the same examples and work at K = 1; population tests compare K models per arm.
std::string statistics_text(const host::Pipeline& p) {
  const std::size_t k = p.seeds.size();
  if (k == 1)
    return "paired tests per model pair (flips, exact McNemar, paired bootstrap, KL); population tests across seeds "
           "(Welch per class) need K >= 2 and are refused; a PIE at K = 1 is any example whose label changed";
  return fmt::format("paired tests per seed pair (K = {} pairs) and population tests across seeds (Welch per class, "
                     "PIEs){}", k, k < 5 ? "; at K < 5 population tests have little power" : "");
}

std::string model_text(const host::Pipeline& p) {
  const auto& m = p.model;
  if (m.arch == "predictions") return "saved predictions " + m.predictions;
  std::string out = m.arch;
  if (!m.hidden.empty()) out += fmt::format(" [{}]", fmt::join(m.hidden, ", "));
  if (!m.checkpoints.empty()) out += fmt::format(", {} checkpoints (pretrained, one per seed)", m.checkpoints.size());
  else if (m.pretrained) out += ", pretrained " + m.path;
  else if (!m.path.empty()) out += fmt::format(", {} (init = {})", m.path, m.init);
  return out;
}

json pipeline_json(const host::Pipeline& p) {
  json arms = json::array();
  for (const auto& a : p.arms) {
    json steps = json::array();
    for (const auto& s : a.steps) steps.push_back({{"plugin", s.plugin}, {"params", params_json(s.params)}});
    arms.push_back({{"name", a.name}, {"base_name", a.base_name}, {"finetune_epochs", a.finetune_epochs},
                    {"sweep", a.sweep}, {"level", a.level}, {"steps", steps}, {"predictions", a.predictions},
                    {"reference", a.name == "dense" ? "" : host::reference_of(p, a)}, {"control_of", a.control_of},
                    {"search", a.search}, {"search_uniform", a.search_uniform}});
  }
  json metrics = json::array();
  for (const auto& m : p.metrics) metrics.push_back({{"plugin", m.plugin}, {"params", params_json(m.params)}});
  json j{{"valid", true},   {"path", p.path},       {"name", p.name},         {"seeds", p.seeds},
         {"output", p.output}, {"data_format", p.data.format}, {"model", p.model.arch}, {"arms", arms},
         {"metrics", metrics}, {"cells", p.arms.size() * p.seeds.size()}};
  j["augmentation"] = p.augmentation ? json{{"plugin", p.augmentation->plugin},
                                            {"params", params_json(p.augmentation->params)}}
                                     : json(nullptr);
  j["memorization"] = p.memorization.enabled;
  j["statistics"] = statistics_text(p);
  j["training_epochs"] = p.training.epochs;
  j["pretrained"] = p.model.pretrained;
  json gates = json::array();
  for (const auto& g : p.gates)
    gates.push_back({{"name", g.name}, {"arm", g.arm}, {"metric", g.metric}, {"statistic", g.statistic},
                     {"class", g.class_name}, {"min", g.min ? json(*g.min) : json(nullptr)},
                     {"max", g.max ? json(*g.max) : json(nullptr)}});
  j["gates"] = gates;
  const auto& at = p.attribution;
  j["attribution"] = at.enabled ? json{{"arms", at.arms}, {"critical_class", at.critical_class}, {"split", at.split},
                                       {"examples", at.examples}}
                                : json(nullptr);
  const auto& s = p.search;
  j["search"] = s.enabled ? json{{"name", s.name}, {"plugin", s.plugin}, {"parameter", s.parameter},
                                 {"values", values_json(s.values)}, {"params", params_json(s.params)}, {"gates", s.gates},
                                 {"critical_class", s.critical_class}, {"strategy", s.strategy},
                                 {"max_trials", s.max_trials}, {"finetune_epochs", s.finetune_epochs},
                                 {"uniform", s.uniform}}
                          : json(nullptr);
  return j;
}

std::string pipeline_text(const host::Pipeline& p) {
  std::string out = fmt::format("pipeline {} ({})\n", p.name, p.path);
  out += fmt::format("  seeds:    {} ({})\n", p.seeds.size(), fmt::join(p.seeds, ", "));
  out += fmt::format("  data:     {}\n  model:    {}\n", p.data.format, model_text(p));
  if (p.training.epochs > 0)
    out += fmt::format("  training: {} epochs, {} lr {}, batch {}\n", p.training.epochs, p.training.optimizer,
                       p.training.lr, p.training.batch_size);
  else
    out += "  training: none (the given weights or predictions are audited)\n";
  out += fmt::format("  statistics: {}\n", statistics_text(p));
  if (p.augmentation)
    out += fmt::format("  augmentation: {} ({})\n", p.augmentation->plugin, params_text(p.augmentation->params));
  out += fmt::format("  arms:     {}\n", p.arms.size());
  for (const auto& a : p.arms) {
    out += fmt::format("    {}", a.name);
    if (a.finetune_epochs > 0) out += fmt::format("  [fine-tune {} epoch{}]", a.finetune_epochs, a.finetune_epochs == 1 ? "" : "s");
    if (!a.predictions.empty()) out += "  [saved predictions " + a.predictions + "]";
    if (a.search)
      out += fmt::format("  [searched: {} {} per layer in {}]", p.search.plugin, p.search.parameter,
                         values_text(p.search.values));
    if (a.search_uniform)
      out += fmt::format("  [{} {} uniform, at the size of {}]", p.search.plugin, p.search.parameter, p.search.name);
    if (a.name != "dense") out += "  vs " + host::reference_of(p, a);
    out += "\n";
    for (const auto& s : a.steps)
      out += fmt::format("      {} ({}){}\n", s.plugin, params_text(s.params),
                         a.control_of.empty() ? "" : "  [compression inert]");
  }
  out += "  metrics:\n";
  for (const auto& m : p.metrics) out += fmt::format("    {}{}\n", m.plugin, m.params.values().empty() ? "" : " (" + params_text(m.params) + ")");
  for (const auto& g : p.gates)
    out += fmt::format("  gate:     {} on arm {}: {}{}{}{}\n", g.name, g.arm, g.statistic,
                       g.class_name.empty() ? "" : "[" + g.class_name + "]",
                       g.min ? fmt::format(" >= {}", *g.min) : "", g.max ? fmt::format(" <= {}", *g.max) : "");
  if (p.attribution.enabled)
    out += fmt::format("  attribution: arms {} on the {} split\n", fmt::join(p.attribution.arms, ", "),
                       p.attribution.split);
  out += fmt::format("  output:   {}\nvalid: {} arms x {} seeds = {} cells\n", p.output, p.arms.size(), p.seeds.size(),
                     p.arms.size() * p.seeds.size());
  return out;
}

int validate(const Context& context, const std::string& path, bool as_json, bool load) {
  const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(context.plugin_paths));
  if (!as_json)
    for (const auto& w : registry.warnings()) std::cerr << "compaudit: warning: " << w << '\n';
  try {
    const host::Pipeline pipeline = host::load_pipeline(path, registry);
    if (load)
      if (const int rc = load_plugins(pipeline, registry, as_json); rc != host::exit_ok) return rc;
    json j = pipeline_json(pipeline);
    if (load) j["loaded"] = true;
    const std::string loaded = load ? "loaded: every plugin of the pipeline was created\n" : "";
    std::cout << (as_json ? j.dump(2) + "\n" : pipeline_text(pipeline) + loaded);
    return host::exit_ok;
  } catch (const Error& e) {
    if (as_json) {
      std::cout << json{{"valid", false}, {"error", error_json(e)}, {"errors", errors_json(e)}}.dump(2) << '\n';
    } else {
      std::cerr << e.what() << '\n';
      // A plugin "not found" may really be a plugin whose manifest is broken: say so.
      for (const auto& bad : registry.errors()) std::cerr << "  note: a manifest was skipped: " << bad.what() << '\n';
    }
    return host::exit_code_for(e.code());
  }
}
}  // namespace

void add_validate_command(CLI::App& app, Context& context) {
  CLI::App* cmd = app.add_subcommand("validate", "Check a pipeline against the plugins' manifests without running "
                                                 "it (no library is opened); print its arms after sweep expansion");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto load = std::make_shared<bool>(false);
  cmd->add_option("PIPELINE", *path, "Pipeline file (TOML), see docs/pipelines.md")->required();
  cmd->add_flag("--json", *as_json, "Print the validated pipeline (or the errors) as JSON");
  cmd->add_flag("--load", *load, "Also create every plugin the pipeline uses, as `run` does before any work (opens "
                                 "the libraries and LibTorch); exit 3 when one cannot be created");
  add_plugin_path_option(*cmd, context);
  cmd->callback([&context, path, as_json, load] { context.exit_code = validate(context, *path, *as_json, *load); });
}

}  // namespace compaudit::cli
