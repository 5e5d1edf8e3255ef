// The parts of a pipeline that name plugins: every use is checked against its manifest (kind, parameter names,
// types, ranges, choices) without opening a library; sweeps expand into one arm per value (cross product when an
// arm sweeps several parameters); the dense arm comes first, then the matched controls (add_controls), then the
// compressed arms.
#include "pipeline_detail.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>

namespace compaudit::host::detail {
namespace {

// Sweeps multiply, so a few short lists can ask for millions of arms (a 1.5 KB pipeline asked for 10^7 and hung
// validation; found while writing fuzz/targets/fuzz_pipeline.cpp). No audit trains that many; refuse before expanding.
constexpr std::size_t kMaxArms = 10000;

// A training control is named after its arm: "<arm> control".
constexpr std::string_view kControlSuffix = " control";

// One parameter as written: a fixed value, or the values of a sweep.
struct GivenParam {
  std::string name;
  std::vector<ParamValue> values;  // one value, or the values of a sweep
  bool sweep = false;
  SourceLocation where;
  std::vector<SourceLocation> value_where;  // where each value is written (the sweep's element, or the value)
};

struct ParsedUse {
  const Manifest* manifest = nullptr;
  std::string what;  // "[[arm]] 'prune' step 1", for messages
  std::vector<GivenParam> params;
  SourceLocation where;
};

bool is_list(ParamType t) {
  return t == ParamType::integer_list || t == ParamType::real_list || t == ParamType::string_list;
}

std::string plain(const ParamValue& v) {  // a value as it appears in an arm name: strings without quotes
  if (auto s = std::get_if<std::string>(&v)) return *s;
  return to_string(v);
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for a near miss among the installed ids, else "".
std::string suggestion(const Registry& registry, const std::string& id) {
  const Manifest* best = nullptr;
  std::size_t best_distance = 4;  // more edits than this is not a typo
  for (const auto& m : registry.plugins()) {
    const std::size_t d = edit_distance(id, m.id);
    if (d < best_distance) best = &m, best_distance = d;
  }
  return best ? fmt::format(" — did you mean '{}'?", best->id) : "";
}

std::string known_ids(const Registry& registry, PluginKind kind) {
  std::string out;
  for (const auto& m : registry.plugins())
    if (m.kind == kind) out += (out.empty() ? "" : ", ") + m.id;
  return out.empty() ? "none installed" : out;
}

ParamValue value_of(const toml::node& node, const std::string& file, const std::string& what,
                    const std::string& name) {
  auto v = to_param_value(node);
  if (!v)
    throw Error(ErrorCode::parameters,
                fmt::format("{}: '{}' must be a bool, number, string or a list of one of them, not {}", what, name,
                            type_name(node)),
                location(node.source(), file));
  return *v;
}

// Checks one value against its spec, at the value's location.
void check(const ParamSpec& spec, const ParamValue& value, const std::string& what, const SourceLocation& where) {
  const std::string problem = check_value(spec, value);
  if (!problem.empty()) throw Error(ErrorCode::parameters, fmt::format("{}: {}", what, problem), where);
}

// Reads a table that names a plugin (`plugin = "id"`; every other key not in `own_keys` is a parameter).
ParsedUse read_use(const toml::table& table, const std::string& file, const std::string& what, PluginKind kind,
                   const Registry& registry, bool allow_sweep, const std::set<std::string>& own_keys = {}) {
  TableReader r(table, file, what, ErrorCode::pipeline);
  ParsedUse use;
  use.what = what;
  use.where = r.where();
  const std::string id = r.required_string("plugin");
  use.manifest = &find_plugin(r, "plugin", id, kind, registry, what);
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (name == "plugin" || own_keys.count(name)) continue;
    const SourceLocation where = location(key.source(), file);
    const ParamSpec* spec = &find_param(*use.manifest, name, what, where);
    GivenParam given{name, {}, false, where};
    const toml::array* array = node.as_array();
    // A list where the schema wants a scalar — or a list of lists where it wants a list — is a sweep.
    const bool sweep = array && (!is_list(spec->type) || (!array->empty() && array->front().is_array()));
    if (sweep) {
      if (!allow_sweep)
        throw Error(ErrorCode::parameters,
                    fmt::format("{}: '{}' is a list, but parameter '{}' of {} takes one {} (sweeps are allowed in "
                                "[[arm.step]] only)",
                                what, name, name, id, to_string(spec->type)),
                    location(node.source(), file));
      if (array->empty())
        throw Error(ErrorCode::parameters, fmt::format("{}: sweep '{}' has no values", what, name),
                    location(node.source(), file));
      given.sweep = true;
      std::set<std::string> seen;
      for (const auto& element : *array) {
        ParamValue v = value_of(element, file, what, name);
        check(*spec, v, what, location(element.source(), file));
        if (!seen.insert(plain(v)).second)
          throw Error(ErrorCode::parameters, fmt::format("{}: sweep '{}' repeats the value {}", what, name, plain(v)),
                      location(element.source(), file));
        given.values.push_back(coerce(*spec, v));
        given.value_where.push_back(location(element.source(), file));
      }
    } else {
      given.values.push_back(checked_param(*spec, node, file, what));
      given.value_where.push_back(location(node.source(), file));
    }
    use.params.push_back(std::move(given));
  }
  return use;
}

// The complete parameters of a use for one choice of its swept values (`pick[i]` indexes params[i].values).
Params resolve(const ParsedUse& use, const std::vector<std::size_t>& pick) {
  std::map<std::string, ParamValue> given;
  for (std::size_t i = 0; i < use.params.size(); ++i) given[use.params[i].name] = use.params[i].values[pick[i]];
  try {
    return Params::resolve(use.manifest->params, given, use.what);
  } catch (const Error& e) {  // missing required parameters: point at the table
    throw Error(e.code(), e.message(), use.where);
  }
}

const toml::array* array_of_tables(TableReader& root, const std::string& key) {
  const toml::node* n = root.node(key);
  if (!n) return nullptr;
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables())
    root.fail_value(*n, fmt::format("'{}' must be an array of tables ([[{}]])", key, key));
  return a;
}

const toml::table& table_at(const toml::array& a, std::size_t i) { return *a.get(i)->as_table(); }

// ---- matched controls (docs/pipelines.md, "Controls") ---------------------------------------------------------------

// The training control of `arm`: its steps whose compressor trains inside compress() (manifest `trains = true`),
// to be run with compression made inert, and the same fine-tuning budget. No steps: the arm needs none.
ArmSpec training_control(const ArmSpec& arm, const Registry& registry) {
  ArmSpec control;
  for (const auto& step : arm.steps)
    if (const Manifest* m = registry.find(step.plugin); m && m->trains) control.steps.push_back(step);
  control.name = arm.name + std::string(kControlSuffix);
  control.base_name = arm.base_name + std::string(kControlSuffix);
  control.sweep = arm.sweep;
  control.level = arm.level;
  control.finetune_epochs = arm.finetune_epochs;
  control.control_of = arm.name;
  control.where = arm.where;
  return control;
}

// What makes two training controls the same computation: their steps (plugins, every parameter) and budget.
std::string control_key(const ArmSpec& control) {
  std::string key = std::to_string(control.finetune_epochs);
  for (const auto& step : control.steps) {
    key += "|" + step.plugin;
    for (const auto& [name, value] : step.params.values()) key += fmt::format(";{}={}", name, to_string(value));
  }
  return key;
}

// Adds the controls after "dense" and sets every arm's reference:
//  * a compressed arm whose compressors train inside compress() is compared with a control that repeats that
//    training with compression inert ("<arm> control"; arms whose controls would be identical share the first's);
//  * any other compressed arm that fine-tunes N epochs is compared with the dense model fine-tuned N epochs: one
//    control per distinct budget, "dense+ft" when there is one budget, "dense+ft<N>" when there are several;
//  * the controls themselves are compared with "dense".
void add_controls(std::vector<ArmSpec>& compressed, const Registry& registry, std::vector<ArmSpec>& out) {
  std::vector<ArmSpec> training_controls;
  std::map<std::string, std::string> control_by_key;
  std::set<int> budgets;
  for (auto& arm : compressed) {
    ArmSpec control = training_control(arm, registry);
    if (control.steps.empty()) {
      if (arm.finetune_epochs > 0) budgets.insert(arm.finetune_epochs);
      continue;
    }
    auto [it, fresh] = control_by_key.emplace(control_key(control), control.name);
    arm.reference = it->second;
    if (fresh) {
      control.reference = "dense";
      training_controls.push_back(std::move(control));
    }
  }
  std::map<int, std::string> budget_control;
  for (int epochs : budgets) {
    ArmSpec control;
    control.name = control.base_name = budgets.size() == 1 ? "dense+ft" : fmt::format("dense+ft{}", epochs);
    control.finetune_epochs = epochs;
    control.reference = "dense";
    budget_control[epochs] = control.name;
    out.push_back(std::move(control));
  }
  for (auto& control : training_controls) out.push_back(std::move(control));
  for (auto& arm : compressed)
    if (arm.reference.empty()) arm.reference = arm.finetune_epochs > 0 ? budget_control.at(arm.finetune_epochs) : "dense";
}

// Expands one [[arm]] into its arms: the cross product of every swept parameter of every step.
void expand_arm(const toml::table& table, const std::string& file, const Registry& registry, std::size_t index,
                std::vector<ArmSpec>& arms, const ModelSignature* model) {
  TableReader r(table, file, fmt::format("[[arm]] #{}", index + 1), ErrorCode::pipeline);
  ArmSpec base;
  base.where = r.where();
  base.base_name = r.required_string("name");
  const std::string& name = base.base_name;
  if (const std::string problem = arm_name_problem(name); !problem.empty()) r.fail("name", problem);
  const std::int64_t finetune = r.integer("finetune_epochs").value_or(0);
  if (finetune < 0 || finetune > 100000) r.fail("finetune_epochs", "finetune_epochs must be >= 0");
  base.finetune_epochs = static_cast<int>(finetune);
  if (auto predictions = r.string("predictions")) {
    // A model compressed elsewhere, audited from its saved outputs: nothing to compress or fine-tune here.
    if (r.has("step") || finetune > 0)
      r.fail("predictions", fmt::format("arm '{}': 'predictions' are saved outputs; an arm with them has no "
                                        "[[arm.step]] and no finetune_epochs", name));
    base.predictions = existing_file(r, "predictions", *predictions, std::filesystem::path(file).parent_path());
    r.finish();
    base.name = base.base_name;
    arms.push_back(std::move(base));
    return;
  }
  const toml::array* steps = array_of_tables(r, "step");
  if (!steps || steps->empty())
    r.fail("name", fmt::format("arm '{}' has no [[arm.step]] and no predictions: it would be the dense model again",
                               name));
  r.finish();

  std::vector<ParsedUse> uses;
  for (std::size_t s = 0; s < steps->size(); ++s)
    uses.push_back(read_use(table_at(*steps, s), file, fmt::format("arm '{}' step {}", name, s + 1),
                            PluginKind::compressor, registry, true));

  // The swept parameters in file order; a name swept in two steps is qualified by its step ("step2.bits").
  struct Axis {
    std::size_t use, param;
    std::string label;
  };
  std::vector<Axis> axes;
  std::map<std::string, int> swept_names;
  for (const auto& u : uses)
    for (const auto& p : u.params)
      if (p.sweep) ++swept_names[p.name];
  for (std::size_t u = 0; u < uses.size(); ++u)
    for (std::size_t p = 0; p < uses[u].params.size(); ++p)
      if (uses[u].params[p].sweep) {
        const std::string& n = uses[u].params[p].name;
        axes.push_back({u, p, swept_names[n] > 1 ? fmt::format("step{}.{}", u + 1, n) : n});
      }

  std::size_t total = 1;
  for (const auto& axis : axes) {
    total *= uses[axis.use].params[axis.param].values.size();
    if (total > kMaxArms)
      throw Error(ErrorCode::pipeline, fmt::format("arm '{}': its sweeps expand to more than {} arms; sweep fewer "
                                                   "values or split it into several arms", name, kMaxArms),
                  base.where);
  }

  std::vector<std::vector<std::size_t>> pick(uses.size());
  for (std::size_t u = 0; u < uses.size(); ++u) pick[u].assign(uses[u].params.size(), 0);
  std::vector<std::size_t> odometer(axes.size(), 0);
  while (true) {
    ArmSpec arm = base;
    std::string suffix;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const GivenParam& p = uses[axes[a].use].params[axes[a].param];
      pick[axes[a].use][axes[a].param] = odometer[a];
      const ParamValue& v = p.values[odometer[a]];
      arm.sweep[axes[a].label] = plain(v);
      suffix += fmt::format("{}{}={}", suffix.empty() ? "" : ",", axes[a].label, plain(v));
      if (a == 0) {
        if (auto d = std::get_if<double>(&v)) arm.level = *d;
        if (auto i = std::get_if<std::int64_t>(&v)) arm.level = static_cast<double>(*i);
      }
    }
    arm.name = suffix.empty() ? name : name + "@" + suffix;
    for (std::size_t u = 0; u < uses.size(); ++u) {
      arm.steps.push_back(StepSpec{uses[u].manifest->id, resolve(uses[u], pick[u]), uses[u].where});
      if (!model) continue;
      auto where = [&](const std::string& param) {  // the value this arm uses, or the step's table for a default
        for (std::size_t i = 0; i < uses[u].params.size(); ++i)
          if (uses[u].params[i].name == param) return uses[u].params[i].value_where[pick[u][i]];
        return uses[u].where;
      };
      check_model_references(*uses[u].manifest, arm.steps.back().params, *model, uses[u].what, where);
    }
    arms.push_back(std::move(arm));
    // Advance the odometer; the last axis turns fastest.
    std::size_t a = axes.size();
    while (a > 0) {
      --a;
      const GivenParam& p = uses[axes[a].use].params[axes[a].param];
      if (++odometer[a] < p.values.size()) break;
      odometer[a] = 0;
      if (a == 0) return;
    }
    if (axes.empty()) return;
  }
}

}  // namespace

std::string arm_name_problem(const std::string& name) {
  const bool control_like = name.rfind("dense+ft", 0) == 0 ||
                            (name.size() >= kControlSuffix.size() &&
                             name.compare(name.size() - kControlSuffix.size(), kControlSuffix.size(), kControlSuffix) == 0);
  if (name.empty() || name == "dense" || control_like || name.find_first_of("@=,") != std::string::npos)
    return fmt::format("arm name \"{}\" is reserved (\"dense\", \"dense+ft...\" and \"... control\" name the "
                       "controls) or uses '@', '=' or ','", name);
  return {};
}

const Manifest& find_plugin(TableReader& r, const std::string& key, const std::string& id, PluginKind kind,
                            const Registry& registry, const std::string& what) {
  const Manifest* manifest = registry.find(id);
  if (!manifest)
    r.fail(key, fmt::format("{}: unknown plugin '{}'{} (installed {} plugins: {}; see `compaudit plugins list`)",
                            what, id, suggestion(registry, id), to_string(kind), known_ids(registry, kind)));
  if (manifest->kind != kind)
    r.fail(key, fmt::format("{}: plugin '{}' is a {}, but a {} is needed here", what, id,
                            to_string(manifest->kind), to_string(kind)));
  return *manifest;
}

const ParamSpec& find_param(const Manifest& manifest, const std::string& name, const std::string& what,
                            const SourceLocation& where) {
  for (const auto& s : manifest.params)
    if (s.name == name) return s;
  std::string names;
  for (const auto& s : manifest.params) names += (names.empty() ? "" : ", ") + s.name;
  throw Error(ErrorCode::parameters,
              fmt::format("{}: plugin '{}' has no parameter '{}' (its parameters: {})", what, manifest.id, name,
                          names.empty() ? "none" : names),
              where);
}

ParamValue checked_param(const ParamSpec& spec, const toml::node& node, const std::string& file,
                         const std::string& what) {
  ParamValue v = value_of(node, file, what, spec.name);
  check(spec, v, what, location(node.source(), file));
  return coerce(spec, v);
}

void read_plugin_uses(const toml::table& root, const std::string& file, const Registry& registry, Pipeline& out,
                      const ModelSignature* model, ErrorCollector& errors) {
  TableReader r(root, file, "pipeline", ErrorCode::pipeline);

  out.arms.clear();
  ArmSpec dense;
  dense.name = dense.base_name = "dense";
  out.arms.push_back(dense);
  std::vector<ArmSpec> compressed;
  // Each [[arm]] (and later each [[metric]]) is checked even after another failed: validate reports them all.
  const toml::array* arms = array_of_tables(r, "arm");
  bool arms_ok = true;
  if (arms)
    for (std::size_t i = 0; i < arms->size(); ++i) {
      arms_ok = errors.check([&] { expand_arm(table_at(*arms, i), file, registry, i, compressed, model); }) && arms_ok;
      if (compressed.size() > kMaxArms)
        throw Error(ErrorCode::pipeline, fmt::format("the pipeline's arms expand to more than {} arms", kMaxArms),
                    location(table_at(*arms, i).source(), file));
    }
  // [search] adds its arm after the compressed arms: controls, references and gate patterns treat it like one.
  errors.check([&] { add_search_arm(root, file, compressed, out.search); });
  if (compressed.empty() && arms_ok && !out.search.enabled)
    throw Error(ErrorCode::pipeline, "the pipeline has no [[arm]]: with only the dense arm there is nothing to "
                                     "compare, so it would do nothing", {file, 1, 1});
  if (out.model.arch == "predictions")
    for (const auto& a : compressed)
      if (a.predictions.empty() && !a.search && !a.search_uniform)  // [search] says itself that it needs a model
        throw Error(ErrorCode::pipeline,
                    fmt::format("arm '{}' compresses a model, but [model] gives only saved predictions: there is no "
                                "model to compress (give the arm 'predictions' too, or [model] a TorchScript file)",
                                a.name),
                    a.where);
  // The controls: forgetting caused by compression must not be confused with the effect of the extra training the
  // compressed arms get (fine-tuning, or training inside compress()).
  out.arms.front().reference = "dense";
  add_controls(compressed, registry, out.arms);
  std::set<std::string> names;
  for (const auto& a : out.arms) names.insert(a.name);
  for (auto& a : compressed) {
    if (!names.insert(a.name).second)
      throw Error(ErrorCode::pipeline, fmt::format("two arms are named '{}'; arm names must be unique", a.name),
                  a.where);
    out.arms.push_back(std::move(a));
  }

  if (const toml::node* aug = r.node("augmentation"))
    errors.check([&] {
      const toml::table* t = aug->as_table();
      if (!t) r.fail_value(*aug, "'augmentation' must be a table ([augmentation])");
      ParsedUse use = read_use(*t, file, "[augmentation]", PluginKind::augmentation, registry, false);
      out.augmentation = StepSpec{use.manifest->id, resolve(use, std::vector<std::size_t>(use.params.size(), 0)),
                                  use.where};
    });

  const toml::array* metrics = array_of_tables(r, "metric");
  if (!metrics || metrics->empty())
    throw Error(ErrorCode::pipeline, "the pipeline has no [[metric]]: it would compute nothing", {file, 1, 1});
  std::set<std::string> metric_ids;
  bool metrics_ok = true;
  for (std::size_t i = 0; i < metrics->size(); ++i) metrics_ok = errors.check([&] {
    ParsedUse use = read_use(table_at(*metrics, i), file, fmt::format("[[metric]] #{}", i + 1), PluginKind::metric,
                             registry, false);
    for (const auto& need : use.manifest->needs)
      if (need == "population" && !out.seeds.empty() && out.seeds.size() < 2)  // empty: [audit] failed
        throw Error(ErrorCode::pipeline,
                    fmt::format("metric '{}' compares populations of models across seeds and needs K >= 2 (this "
                                "pipeline has K = {}); at K = 1 use the paired tests (org.compaudit.metric.flips, "
                                ".mcnemar, .paired_bootstrap, .kl_shift)",
                                use.manifest->id, out.seeds.size()),
                    use.where);
      else if (need == "memorization" && !out.memorization.enabled)
        throw Error(ErrorCode::pipeline,
                    fmt::format("metric '{}' needs memorization scores, which only a [memorization] table produces "
                                "(add one, e.g. [memorization] models = 8)",
                                use.manifest->id),
                    use.where);
    out.metrics.push_back(
        MetricSpec{use.manifest->id, resolve(use, std::vector<std::size_t>(use.params.size(), 0)), use.where});
  }) && metrics_ok;
  // A gate names arms and metrics; [search] names gates, [attribution] arms (pipeline_search.cpp).
  const std::size_t errors_before = errors.size();
  const bool gates_ok = arms_ok && metrics_ok && errors.check([&] { read_gates(root, file, out, errors); }) &&
                        errors.size() == errors_before;
  read_search(root, file, registry, model, gates_ok, out, errors);
  read_attribution(root, file, arms_ok, out, errors);
}

}  // namespace compaudit::host::detail

namespace compaudit::host {

bool is_control(const ArmSpec& arm) {
  return arm.name != "dense" && !arm.search && !arm.search_uniform && arm.predictions.empty() &&
         (arm.steps.empty() || !arm.control_of.empty());
}

std::string reference_of(const Pipeline& pipeline, const ArmSpec& arm) {
  if (!arm.reference.empty()) return arm.reference;
  // A pipeline assembled in code rather than loaded: the same rules from the arms' fields.
  if (arm.name == "dense" || is_control(arm) || !arm.predictions.empty()) return "dense";
  for (const auto& a : pipeline.arms)
    if (a.control_of == arm.name) return a.name;
  if (arm.finetune_epochs > 0) {
    for (const auto& a : pipeline.arms)
      if (is_control(a) && a.control_of.empty() && a.finetune_epochs == arm.finetune_epochs) return a.name;
    for (const auto& a : pipeline.arms)  // hand-made pipelines of old: one control for every budget
      if (is_control(a) && a.control_of.empty() && a.finetune_epochs > 0) return a.name;
  }
  return "dense";
}

}  // namespace compaudit::host
