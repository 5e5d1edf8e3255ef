// [search] and [attribution] (docs/attribution.md; the keys in docs/pipelines.md, "Attribution and search").
//
//   [search]: per-layer settings of one compressor that compress most while named [[gate]]s hold on the validation
//   split. It adds one arm, `name` (ArmSpec::search), after the compressed arms — with `uniform = true` also
//   "<name>-uniform" (ArmSpec::search_uniform) — so it gets a reference, a dense fine-tuning control and gate matches
//   like any compressed arm: add_search_arm() runs with the [[arm]]s, before the controls are added; read_search()
//   checks the rest once the gates it names are read.
//   [attribution]: which layers of the matching compressed arms caused their damage; checked against the arms.
#include "pipeline_detail.h"

#include <fmt/format.h>

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace compaudit::host::detail {
namespace {

constexpr ErrorCode kPipeline = ErrorCode::pipeline;
constexpr std::int64_t kMaxEpochs = 100000;
constexpr std::int64_t kMaxTrials = 100000;
constexpr std::int64_t kMaxExamples = 100;

bool is_number(ParamType t) { return t == ParamType::integer || t == ParamType::real; }
// A parameter the search can set per layer: a number, or a string with a fixed set of choices (a precision).
bool searchable(const ParamSpec& p) { return is_number(p.type) || (p.type == ParamType::string && !p.choices.empty()); }

// Why the pipeline has no validation split ("" when it has one): it is carved from the training data.
std::string no_validation_split(const DataSpec& d) {
  if (d.test_only) return "[data] gives no training data, from which the validation split is carved";
  if (d.validation_fraction <= 0) return "[data] validation_fraction = 0";
  return {};
}

// `key` = a class: a name (one of [data] class_names when it declares them; the dataset's names are only known when
// it runs) or a 0-based index (below the declared number of classes). As text, like GateSpec::class_name.
std::optional<std::string> class_of(TableReader& r, const std::string& key, const DataSpec& data) {
  const toml::node* n = r.node(key);
  if (!n) return std::nullopt;
  const auto declared = static_cast<std::int64_t>(data.class_names.size());
  const std::int64_t classes = declared > 0 ? declared : data.num_classes;
  if (auto index = n->as_integer()) {
    const std::int64_t i = index->get();
    if (i < 0 || (classes > 0 && i >= classes))
      r.fail_value(*n, classes > 0 ? fmt::format("{} = {} is not a class: the classes are 0..{}", key, i, classes - 1)
                                   : fmt::format("{} = {} is not a class: an index is 0 or more", key, i));
    return std::to_string(i);
  }
  if (auto name = n->as_string()) {
    const std::string& c = name->get();
    if (c.empty()) r.fail_value(*n, fmt::format("{} = \"\" names no class", key));
    if (declared > 0 && std::find(data.class_names.begin(), data.class_names.end(), c) == data.class_names.end())
      r.fail_value(*n, fmt::format("{} = \"{}\" is not one of [data] class_names (\"{}\"); give a declared name or a "
                                   "0-based index", key, c, fmt::join(data.class_names, "\", \"")));
    return c;
  }
  r.fail_value(*n, fmt::format("{} is a class name or a 0-based class index, not {}", key, type_name(*n)));
}

std::string numeric_params(const Manifest& m) {
  std::string names;
  for (const auto& p : m.params)
    if (searchable(p) && p.name != "layers") names += (names.empty() ? "" : ", ") + p.name;
  return names.empty() ? "none" : names;
}

// plugin, parameter, values and [search.params], checked against the plugin's manifest (and the model's layers).
void read_search_plugin(TableReader& r, const Registry& registry, const ModelSignature* model, SearchSpec& s) {
  const std::string& file = r.file();
  const Manifest& m = find_plugin(r, "plugin", r.required_string("plugin"), PluginKind::compressor, registry,
                                  "[search]");
  s.plugin = m.id;
  const auto layers =
      std::find_if(m.params.begin(), m.params.end(), [](const ParamSpec& p) { return p.name == "layers"; });
  if (layers == m.params.end())
    r.fail("plugin", fmt::format("[search]: plugin '{}' has no `layers` parameter, so it cannot compress one layer at "
                                 "a time as the search does (the built-in compressors have one)", m.id));

  s.parameter = r.required_string("parameter");
  const ParamSpec& spec = find_param(m, s.parameter, "[search] parameter", r.where("parameter"));
  if (!searchable(spec) || spec.name == "layers")
    r.fail("parameter", fmt::format("[search]: parameter '{}' of {} is a {}; the search sets a number or one of a "
                                    "string's choices per layer (the parameters of {} it can set: {})",
                                    spec.name, m.id, to_string(spec.type), m.id, numeric_params(m)));

  const toml::node* v = r.node("values");
  if (!v)
    throw Error(kPipeline, fmt::format("[search]: required key 'values' is missing (the settings of '{}' to try, most "
                                       "compression first)", s.parameter), r.where());
  const toml::array* list = v->as_array();
  if (!list) r.fail_value(*v, fmt::format("[search]: 'values' must be an array, not {}", type_name(*v)));
  if (list->empty())
    r.fail_value(*v, fmt::format("[search]: values = [] tries nothing: list the settings of '{}' to try, most "
                                 "compression first", s.parameter));
  std::set<std::string> seen;
  for (const auto& element : *list) {
    const ParamValue value = checked_param(spec, element, file, "[search] values");
    if (!seen.insert(to_string(value)).second)
      r.fail_value(element, fmt::format("[search]: values repeats {}", to_string(value)));
    s.values.push_back(value);
  }

  // [search.params]: the plugin's other parameters, the same for every layer; checked like a step's.
  std::map<std::string, ParamValue> given;
  std::map<std::string, SourceLocation> given_where;
  SourceLocation params_where = r.where();
  if (const toml::node* n = r.node("params")) {
    const toml::table* table = n->as_table();
    if (!table)
      r.fail_value(*n, "[search]: 'params' must be a table ([search.params]) of the plugin's other parameters");
    params_where = location(table->source(), file);
    for (const auto& [key, node] : *table) {
      const std::string name(key.str());
      const SourceLocation where = location(key.source(), file);
      if (name == "layers" || name == s.parameter)
        throw Error(ErrorCode::parameters,
                    fmt::format("[search.params]: '{}' is set per layer by the search ({}); leave it out", name,
                                name == "layers" ? "each step compresses one layer" : "from `values`"),
                    where);
      given[name] = checked_param(find_param(m, name, "[search.params]", where), node, file, "[search.params]");
      given_where[name] = location(node.source(), file);
    }
  }
  given[s.parameter] = s.values.front();
  if (!layers->default_value) given["layers"] = std::vector<std::string>{"*"};
  Params resolved;
  try {
    resolved = Params::resolve(m.params, given, "[search]");
  } catch (const Error& e) {  // a required parameter missing: point at [search.params] (or [search])
    throw Error(e.code(), e.message(), params_where);
  }
  if (model)
    check_model_references(m, resolved, *model, "[search]", [&](const std::string& param) {
      const auto it = given_where.find(param);
      return it == given_where.end() ? params_where : it->second;
    });
  for (const auto& [name, value] : resolved.values())
    if (name != "layers" && name != s.parameter) s.params.set(name, value);
}

// gates: names of [[gate]]s (default: all); at least one, and none on a statistic of populations.
void read_search_gates(TableReader& r, const Registry& registry, bool gates_ok, Pipeline& out) {
  SearchSpec& s = out.search;
  const auto names = r.strings("gates");
  if (names && names->empty())
    r.fail("gates", "[search]: gates = [] names no gate; leave it out to judge every [[gate]], or name at least one");
  if (names) s.gates = *names;
  if (!gates_ok) return;  // a gate with an error is not in out.gates: its name would look unknown
  if (out.gates.empty())
    throw Error(kPipeline, "[search] needs at least one [[gate]]: the gates are what a configuration must pass on the "
                           "validation split (docs/attribution.md)", r.where());
  std::string known;
  for (const auto& g : out.gates) known += fmt::format("{}'{}'", known.empty() ? "" : ", ", g.name);
  for (const auto& name : s.gates)
    if (std::none_of(out.gates.begin(), out.gates.end(), [&](const GateSpec& g) { return g.name == name; }))
      r.fail("gates", fmt::format("[search]: gates names '{}', which is not a [[gate]] of this pipeline (its gates: "
                                  "{})", name, known));
  for (const auto& g : out.gates) {
    if (!s.gates.empty() && std::find(s.gates.begin(), s.gates.end(), g.name) == s.gates.end()) continue;
    const Manifest* m = registry.find(g.metric);
    if (m && std::find(m->needs.begin(), m->needs.end(), "population") != m->needs.end())
      r.fail("gates", fmt::format("[search]: gate '{}' (line {}) bounds a statistic of {}, which compares populations "
                                  "of models (needs = [\"population\"]); the search judges one model against its "
                                  "reference, so it cannot use this gate: {}",
                                  g.name, g.where.line, g.metric,
                                  s.gates.empty() ? "name the gates it uses in `gates`" : "leave it out of `gates`"));
  }
}

}  // namespace

void add_search_arm(const toml::table& root, const std::string& file, std::vector<ArmSpec>& compressed,
                    SearchSpec& search) {
  const toml::node* n = root.get("search");
  if (!n) return;
  const toml::table* t = n->as_table();
  if (!t) throw Error(kPipeline, "'search' must be a table ([search])", location(n->source(), file));
  search.enabled = true;
  TableReader r(*t, file, "[search]", kPipeline);
  search.where = r.where();
  search.name = r.string("name").value_or(search.name);
  if (const std::string problem = arm_name_problem(search.name); !problem.empty()) r.fail("name", problem);
  search.uniform = r.boolean("uniform").value_or(search.uniform);
  const std::string uniform_name = search.name + "-uniform";
  for (const auto& a : compressed)
    for (const std::string& mine : {search.name, search.uniform ? uniform_name : search.name})
      if (a.name == mine || a.base_name == mine)
        r.fail("name", fmt::format("[search] adds the arm \"{}\", the name of the [[arm]] at line {}: name the search "
                                   "apart (name = \"...\")", mine, a.where.line));
  const std::int64_t finetune = r.integer("finetune_epochs").value_or(0);
  if (finetune < 0 || finetune > kMaxEpochs)
    r.fail("finetune_epochs", fmt::format("finetune_epochs = {} must be in 0..{}", finetune, kMaxEpochs));
  search.finetune_epochs = static_cast<int>(finetune);
  ArmSpec arm;
  arm.name = arm.base_name = search.name;
  arm.search = true;
  arm.finetune_epochs = search.finetune_epochs;
  arm.where = search.where;
  compressed.push_back(arm);
  if (search.uniform) {  // the uniform allocation at the searched arm's size, for comparison
    arm.name = arm.base_name = uniform_name;
    arm.search = false;
    arm.search_uniform = true;
    compressed.push_back(std::move(arm));
  }
}

void read_search(const toml::table& root, const std::string& file, const Registry& registry,
                 const ModelSignature* model, bool gates_ok, Pipeline& out, ErrorCollector& errors) {
  const toml::table* t = root.get_as<toml::table>("search");
  if (!t) return;  // absent, or not a table (add_search_arm said so)
  SearchSpec& s = out.search;
  TableReader r(*t, file, "[search]", kPipeline);
  // Independent parts, each checked whatever the others gave; name and finetune_epochs are add_search_arm's.
  for (const char* key : {"name", "uniform", "finetune_epochs", "plugin", "parameter", "values", "params", "gates",
                          "critical_class", "strategy", "max_trials"})
    r.allow(key);
  errors.check([&] { read_search_plugin(r, registry, model, s); });
  errors.check([&] { read_search_gates(r, registry, gates_ok, out); });
  errors.check([&] { s.critical_class = class_of(r, "critical_class", out.data).value_or(""); });
  errors.check([&] {
    s.strategy = r.string("strategy").value_or(s.strategy);
    one_of(r, "strategy", s.strategy, {"greedy", "exhaustive"});
    const std::int64_t trials = r.integer("max_trials").value_or(s.max_trials);
    if (trials < 1 || trials > kMaxTrials)
      r.fail("max_trials", fmt::format("max_trials = {} must be in 1..{}", trials, kMaxTrials));
    s.max_trials = static_cast<int>(trials);
  });
  errors.check([&] {
    if (out.model.arch == "predictions")
      throw Error(kPipeline, "[search] compresses the model, but [model] gives only saved predictions: there is no "
                             "model to search", r.where());
    if (const std::string why = no_validation_split(out.data); !why.empty())
      throw Error(kPipeline, fmt::format("[search] judges configurations on the validation split, and this pipeline "
                                         "has none ({}): give training data and validation_fraction > 0", why),
                  r.where());
  });
  errors.check([&] { r.finish(); });
}

void read_attribution(const toml::table& root, const std::string& file, bool arms_ok, Pipeline& out,
                      ErrorCollector& errors) {
  const toml::node* n = root.get("attribution");
  if (!n) return;
  errors.check([&] {
    const toml::table* t = n->as_table();
    if (!t) throw Error(kPipeline, "'attribution' must be a table ([attribution])", location(n->source(), file));
    AttributionSpec& a = out.attribution;
    a.enabled = true;
    TableReader r(*t, file, "[attribution]", kPipeline);
    a.where = r.where();
    if (auto arms = r.strings("arms")) {
      if (arms->empty())
        r.fail("arms", "[attribution]: arms = [] names no arm; leave it out to attribute every compressed arm");
      a.arms = *arms;
    }
    // Each pattern must match a compressed arm that has models (the searched arm too); not dense, not a control, not
    // an arm given as saved predictions (no layers to attribute). Unknowable when an [[arm]] failed.
    for (const auto& pattern : a.arms) {
      bool with_model = false, saved = false;
      for (const auto& arm : out.arms) {
        if (arm.name == "dense" || is_control(arm) || fnmatch(pattern.c_str(), arm.name.c_str(), 0) != 0) continue;
        (arm.predictions.empty() ? with_model : saved) = true;
      }
      if (arms_ok && !with_model)
        r.fail("arms", fmt::format("[attribution]: arm pattern '{}' matches no compressed arm with a model{}", pattern,
                                   saved ? " (only arms given as saved predictions, which have no layers)" : ""));
    }
    a.critical_class = class_of(r, "critical_class", out.data).value_or("");
    a.split = r.string("split").value_or(a.split);
    one_of(r, "split", a.split, {"test", "validation"});
    if (a.split == "validation")
      if (const std::string why = no_validation_split(out.data); !why.empty())
        r.fail("split", fmt::format("[attribution] split = \"validation\", and this pipeline has no validation split "
                                    "({})", why));
    const std::int64_t examples = r.integer("examples").value_or(a.examples);
    if (examples < 0 || examples > kMaxExamples)
      r.fail("examples", fmt::format("examples = {} must be in 0..{}", examples, kMaxExamples));
    a.examples = static_cast<int>(examples);
    r.finish();
  });
}

}  // namespace compaudit::host::detail

namespace compaudit::host {

Params search_step_params(const SearchSpec& search, const Manifest& manifest, const ParamValue& value,
                          const std::vector<std::string>& layers) {
  Params p = search.params;
  p.set("layers", layers);
  const auto spec = std::find_if(manifest.params.begin(), manifest.params.end(),
                                 [&](const ParamSpec& s) { return s.name == search.parameter; });
  const bool integer = spec != manifest.params.end() && spec->type == ParamType::integer;
  if (const auto* d = std::get_if<double>(&value); d && integer)
    p.set(search.parameter, static_cast<std::int64_t>(std::llround(*d)));
  else if (const auto* i = std::get_if<std::int64_t>(&value); i && !integer && spec != manifest.params.end() &&
                                                              spec->type == ParamType::real)
    p.set(search.parameter, static_cast<double>(*i));
  else
    p.set(search.parameter, value);
  return p;
}

}  // namespace compaudit::host
