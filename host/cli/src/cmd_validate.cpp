// `compaudit validate PIPELINE.toml` — parses and checks a pipeline against the manifests (no library is opened)
// and prints the arms after sweep expansion.
#include "commands.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/host/pipeline.h>
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

std::string params_text(const Params& p) {
  std::string s;
  for (const auto& [name, value] : p.values()) s += fmt::format("{}{}={}", s.empty() ? "" : ", ", name, to_string(value));
  return s;
}

json error_json(const Error& e) {
  return {{"file", e.where().file},      {"line", e.where().line},   {"column", e.where().column},
          {"category", to_string(e.code())}, {"message", e.message()}};
}

// What a pipeline's K allows, said before anything runs (science.md §7–8): paired tests compare a reference and a
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
                    {"sweep", a.sweep}, {"level", a.level}, {"steps", steps}, {"predictions", a.predictions}});
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
    out += "\n";
    for (const auto& s : a.steps) out += fmt::format("      {} ({})\n", s.plugin, params_text(s.params));
  }
  out += "  metrics:\n";
  for (const auto& m : p.metrics) out += fmt::format("    {}{}\n", m.plugin, m.params.values().empty() ? "" : " (" + params_text(m.params) + ")");
  for (const auto& g : p.gates)
    out += fmt::format("  gate:     {} on arm {}: {}{}{}{}\n", g.name, g.arm, g.statistic,
                       g.class_name.empty() ? "" : "[" + g.class_name + "]",
                       g.min ? fmt::format(" >= {}", *g.min) : "", g.max ? fmt::format(" <= {}", *g.max) : "");
  out += fmt::format("  output:   {}\nvalid: {} arms x {} seeds = {} cells\n", p.output, p.arms.size(), p.seeds.size(),
                     p.arms.size() * p.seeds.size());
  return out;
}

int validate(const Context& context, const std::string& path, bool as_json) {
  const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(context.plugin_paths));
  if (!as_json)
    for (const auto& w : registry.warnings()) std::cerr << "compaudit: warning: " << w << '\n';
  try {
    const host::Pipeline pipeline = host::load_pipeline(path, registry);
    std::cout << (as_json ? pipeline_json(pipeline).dump(2) + "\n" : pipeline_text(pipeline));
    return host::exit_ok;
  } catch (const Error& e) {
    if (as_json) {
      std::cout << json{{"valid", false}, {"error", error_json(e)}}.dump(2) << '\n';
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
  cmd->add_option("PIPELINE", *path, "Pipeline file (TOML), see docs/pipelines.md")->required();
  cmd->add_flag("--json", *as_json, "Print the validated pipeline (or the error) as JSON");
  add_plugin_path_option(*cmd, context);
  cmd->callback([&context, path, as_json] { context.exit_code = validate(context, *path, *as_json); });
}

}  // namespace compaudit::cli
