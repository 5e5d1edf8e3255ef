// [search] and [attribution] in a pipeline (docs/pipelines.md, "Attribution and search"; docs/attribution.md):
// the searched arm is added last with its reference and dense control, the search's plugin, parameter, values and
// [search.params] are checked against the built-in manifests (manifests/, libraries not built: validation never
// opens one), and every refusal names its key and line — all of a file's errors in one pass.
#include <compaudit/host/error_list.h>
#include <compaudit/host/manifest.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include "test_support.h"

#include <algorithm>
#include <map>
#include <vector>

using compaudit::ErrorCode;
using compaudit::host::load_pipeline;
using compaudit::host::Pipeline;
using compaudit::host::Registry;
using compaudit::host::SearchPaths;
using test::contains;

namespace {

const fs::path kTinyCsv = fs::path(TEST_DATA_DIR) / "pipelines" / "data" / "tiny.csv";

// The built-in manifests the pipelines below use, each beside an empty stand-in for its library, and a compressor
// without a `layers` parameter.
struct BuiltinRegistry {
  test::TempDir tmp;
  Registry registry;
  BuiltinRegistry() : registry(make(tmp)) {}

  static Registry make(const test::TempDir& tmp) {
    const fs::path dir = tmp / "plugins";
    fs::create_directories(dir);
    for (const char* stem : {"prune_magnitude", "quantize_ptq", "truncate_svd", "metric_flips",
                             "metric_recall_welch", "metric_top1"}) {
      const std::string manifest = std::string(stem) + ".toml";
      fs::copy_file(fs::path(COMPAUDIT_MANIFEST_DIR) / manifest, dir / manifest);
      test::write_file(dir / ("lib" + std::string(stem) + ".so"), "");
    }
    test::write_file(dir / "libdummy.so", "");
    test::write_manifest(dir, "nolayers", "org.test.compressor.nolayers", "dummy", "1.0.0", "compressor",
                         "[[param]]\nname = \"sparsity\"\ntype = \"float\"\nmin = 0.0\nmax = 1.0\n");
    SearchPaths p;
    p.dirs.emplace_back(dir.string(), "--plugin-path");
    return Registry::discover(p);
  }

  fs::path path() const { return tmp / "p.toml"; }
  Pipeline load(const std::string& text) {
    test::write_file(path(), text);
    return load_pipeline(path().string(), registry);
  }
};

// Two compressed arms (one fine-tuned 1 epoch), a paired metric and a population metric, a gate on each, and — when
// `tables` has a [search] — a gate on the searched arm alone; then `tables`. `classes` declares the classes.
std::string pipeline_text(const std::string& tables, const std::string& data_extra = "",
                          const std::string& training = "",
                          const std::string& classes = R"(class_names = ["Shirt", "Coat"])") {
  const std::string searched_gate = tables.find("[search]") == std::string::npos ? "" : R"([[gate]]
name = "searched-flips"
arm = "searched"
metric = "org.compaudit.metric.flips"
statistic = "negative_flips"
max = 100)";
  return fmt::format(R"([audit]
name = "searching"
seeds = 3
[data]
format = "csv"
train = "{}"
{}
{}
[model]
arch = "mlp"
{}
[[arm]]
name = "prune"
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.9
[[arm]]
name = "int4"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"
  precision = "int4"
[[metric]]
plugin = "org.compaudit.metric.flips"
[[metric]]
plugin = "org.compaudit.metric.recall_welch"
[[gate]]
name = "flips"
metric = "org.compaudit.metric.flips"
statistic = "negative_flip_rate"
max = 0.05
[[gate]]
name = "welch"
metric = "org.compaudit.metric.recall_welch"
statistic = "significant"
max = 0
{}
{}
)",
                     kTinyCsv.string(), classes, data_extra, training, searched_gate, tables);
}

// A valid [search], key by key (file order); a case replaces one key's line (or drops it with "").
const std::vector<std::pair<std::string, std::string>> kSearchKeys = {
    {"plugin", R"(plugin = "org.compaudit.prune.magnitude")"},
    {"parameter", R"(parameter = "sparsity")"},
    {"values", "values = [0.95, 0.9, 0.8]"},
    {"gates", R"(gates = ["flips", "searched-flips"])"},
    {"critical_class", R"(critical_class = "Shirt")"},
    {"strategy", R"(strategy = "exhaustive")"},
    {"max_trials", "max_trials = 50"},
    {"finetune_epochs", "finetune_epochs = 2"},
    {"params", "  [search.params]\n  scope = \"layerwise\""},
};

std::string search_table(const std::map<std::string, std::string>& replace = {}) {
  std::string out = "[search]\n";
  for (const auto& [key, line] : kSearchKeys) {
    const auto r = replace.find(key);
    const std::string& text = r == replace.end() ? line : r->second;
    if (!text.empty()) out += text + "\n";
  }
  return out;
}

const std::string kAttribution = R"([attribution]
arms = ["prune", "searched"]
critical_class = 1
split = "validation"
examples = 3
)";

// 1-based line of the first line holding `needle` (after the first `after`).
int line_of(const std::string& text, const std::string& needle, const std::string& after = "") {
  const std::size_t at = text.find(needle, text.find(after));
  REQUIRE(at != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

std::vector<std::string> names_of(const Pipeline& p) {
  std::vector<std::string> names;
  for (const auto& a : p.arms) names.push_back(a.name);
  return names;
}

}  // namespace

TEST_CASE("[search] adds its arm last, with its reference and dense control, and [attribution] is read",
          "[pipeline][search]") {
  BuiltinRegistry r;
  REQUIRE(r.registry.errors().empty());
  const Pipeline p = r.load(pipeline_text(search_table() + kAttribution));

  // Budgets 1 (int4) and 2 (the searched arm's finetune_epochs): one dense control each; the searched arm last.
  CHECK(names_of(p) == std::vector<std::string>{"dense", "dense+ft1", "dense+ft2", "prune", "int4", "searched"});
  const auto& searched = p.arms.back();
  CHECK(searched.search);
  CHECK(searched.base_name == "searched");
  CHECK(searched.steps.empty());
  CHECK(searched.finetune_epochs == 2);
  CHECK(searched.reference == "dense+ft2");
  CHECK(compaudit::host::reference_of(p, searched) == "dense+ft2");
  CHECK_FALSE(compaudit::host::is_control(searched));
  CHECK(p.arms[4].reference == "dense+ft1");
  for (std::size_t i = 0; i + 1 < p.arms.size(); ++i) CHECK_FALSE(p.arms[i].search);

  const auto& s = p.search;
  CHECK(s.enabled);
  CHECK(s.name == "searched");
  CHECK(s.plugin == "org.compaudit.prune.magnitude");
  CHECK(s.parameter == "sparsity");
  CHECK(s.values == std::vector<compaudit::ParamValue>{0.95, 0.9, 0.8});
  CHECK(s.gates == std::vector<std::string>{"flips", "searched-flips"});
  CHECK(s.critical_class == "Shirt");
  CHECK(s.strategy == "exhaustive");
  CHECK(s.max_trials == 50);
  CHECK(s.where.line == line_of(p.toml, "[search]"));
  // [search.params] checked and completed with the manifest's defaults; `layers` and the searched parameter are the
  // search's to set per layer.
  CHECK(s.params.get<std::string>("scope") == "layerwise");
  CHECK(s.params.get<std::vector<std::string>>("layer_types") == std::vector<std::string>{"linear", "conv2d"});
  CHECK_FALSE(s.params.has("layers"));
  CHECK_FALSE(s.params.has("sparsity"));

  // The gate on the searched arm alone is accepted (the arm exists when gates are read).
  REQUIRE(p.gates.size() == 3);
  CHECK(p.gates[2].arm == "searched");

  const auto& a = p.attribution;
  CHECK(a.enabled);
  CHECK(a.arms == std::vector<std::string>{"prune", "searched"});
  CHECK(a.critical_class == "1");
  CHECK(a.split == "validation");
  CHECK(a.examples == 3);

  // One step of the chain: the search's params, one layer, the value (float here).
  const auto* manifest = r.registry.find(s.plugin);
  REQUIRE(manifest);
  const auto step = compaudit::host::search_step_params(s, *manifest, 0.9, {"fc1"});
  CHECK(step.get<double>("sparsity") == 0.9);
  CHECK(step.get<std::vector<std::string>>("layers") == std::vector<std::string>{"fc1"});
  CHECK(step.get<std::string>("scope") == "layerwise");
}

TEST_CASE("[search] defaults, an integer parameter, and a search without any [[arm]]", "[pipeline][search]") {
  BuiltinRegistry r;
  SECTION("defaults: name \"searched\", greedy, 500 trials, no fine-tuning (compared with dense), no attribution") {
    const Pipeline p = r.load(pipeline_text(R"([search]
plugin = "org.compaudit.prune.magnitude"
parameter = "sparsity"
values = [0.9, 0.5]
gates = ["flips"]
)"));
    CHECK(p.arms.back().name == "searched");
    CHECK(p.arms.back().reference == "dense");
    CHECK(p.search.strategy == "greedy");
    CHECK(p.search.max_trials == 500);
    CHECK(p.search.finetune_epochs == 0);
    CHECK(p.search.critical_class.empty());
    CHECK(p.search.params.get<std::string>("scope") == "global");
    CHECK_FALSE(p.attribution.enabled);
  }
  SECTION("an int parameter: values are integers, and a step sets an int; a gate names the arm by its name") {
    std::string text = pipeline_text(R"([search]
name = "low-rank"
plugin = "org.compaudit.truncate.svd"
parameter = "rank"
values = [2, 8, 32]
gates = ["flips", "searched-flips"]
[attribution]
)");
    text.replace(text.find("arm = \"searched\""), 16, "arm = \"low-rank\"");
    const Pipeline p = r.load(text);
    CHECK(p.gates.back().arm == "low-rank");
    CHECK(p.arms.back().name == "low-rank");
    CHECK(p.search.values == std::vector<compaudit::ParamValue>{std::int64_t{2}, std::int64_t{8}, std::int64_t{32}});
    const auto step = compaudit::host::search_step_params(p.search, *r.registry.find(p.search.plugin), 8, {"fc2"});
    CHECK(step.get<std::int64_t>("rank") == 8);
    CHECK(p.attribution.arms == std::vector<std::string>{"*"});
    CHECK(p.attribution.split == "test");
    CHECK(p.attribution.examples == 5);
  }
  SECTION("uniform = true adds \"<name>-uniform\" after the searched arm, compared like it") {
    const Pipeline p = r.load(pipeline_text(search_table({{"strategy", "uniform = true"}})));
    CHECK(p.search.uniform);
    CHECK(names_of(p) ==
          std::vector<std::string>{"dense", "dense+ft1", "dense+ft2", "prune", "int4", "searched", "searched-uniform"});
    const auto& uniform = p.arms.back();
    CHECK(uniform.search_uniform);
    CHECK_FALSE(uniform.search);
    CHECK(uniform.finetune_epochs == 2);
    CHECK(uniform.reference == "dense+ft2");
    CHECK_FALSE(compaudit::host::is_control(uniform));

    std::string clash = pipeline_text(search_table({{"strategy", "uniform = true"}}));
    clash.replace(clash.find("name = \"int4\""), 13, "name = \"searched-uniform\"");
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(clash));
    CHECK(error->where().line == line_of(clash, "[search]"));
    CHECK(contains(error->message(), "[search] adds the arm \"searched-uniform\", the name of the [[arm]] at line"));
  }
  SECTION("the searched arm is a compressed arm: a pipeline with [search] and no [[arm]] compares it with dense") {
    const std::string text = R"([audit]
name = "only-search"
seeds = 1
[data]
format = "csv"
train = ")" + kTinyCsv.string() + R"("
[model]
arch = "mlp"
[[metric]]
plugin = "org.compaudit.metric.flips"
[[gate]]
metric = "org.compaudit.metric.flips"
statistic = "negative_flip_rate"
max = 0.05
[search]
plugin = "org.compaudit.prune.magnitude"
parameter = "sparsity"
values = [0.9]
)";
    const Pipeline p = r.load(text);
    CHECK(names_of(p) == std::vector<std::string>{"dense", "searched"});
    CHECK(p.search.gates.empty());  // every gate
  }
}

namespace {
struct Refusal {
  const char* name;
  std::string key;          // the [search] key replaced ("" for none)
  std::string line;         // its new line; the error points at the line holding `at`
  std::string at;
  ErrorCode code;
  std::string text;
};
}  // namespace

TEST_CASE("each [search] refusal names its key and line, and comes alone", "[pipeline][search][fault]") {
  BuiltinRegistry r;
  const std::vector<Refusal> cases = {
      {"unknown plugin", "plugin", R"(plugin = "org.compaudit.prune.magnitud")", "org.compaudit.prune.magnitud",
       ErrorCode::pipeline,
       "[search]: unknown plugin 'org.compaudit.prune.magnitud' — did you mean 'org.compaudit.prune.magnitude'?"},
      {"a metric, not a compressor", "plugin", R"(plugin = "org.compaudit.metric.top1")", "metric.top1",
       ErrorCode::pipeline, "plugin 'org.compaudit.metric.top1' is a metric, but a compressor is needed here"},
      {"a plugin without layers", "plugin", R"(plugin = "org.test.compressor.nolayers")", "compressor.nolayers",
       ErrorCode::pipeline, "plugin 'org.test.compressor.nolayers' has no `layers` parameter"},
      {"unknown parameter", "parameter", R"(parameter = "sparsty")", "sparsty", ErrorCode::parameters,
       "plugin 'org.compaudit.prune.magnitude' has no parameter 'sparsty' (its parameters: sparsity, scope"},
      {"parameter neither a number nor a string with choices", "parameter", R"(parameter = "exclude")",
       "parameter = \"exclude\"", ErrorCode::pipeline,
       "; the search sets a number or one of a string's choices per layer (the parameters of "
       "org.compaudit.prune.magnitude it can set: sparsity, scope)"},
      {"value out of range", "values", "values = [0.9, 1.5]", "values = [0.9, 1.5]", ErrorCode::parameters,
       "sparsity = 1.5 is above its maximum 1"},
      {"value of the wrong type", "values", R"(values = [0.9, "most"])", "values = [0.9, \"most\"]",
       ErrorCode::parameters, "has type string, expected float"},
      {"empty values", "values", "values = []", "values = []", ErrorCode::pipeline, "values = [] tries nothing"},
      {"repeated value", "values", "values = [0.9, 0.9]", "values = [0.9, 0.9]", ErrorCode::pipeline,
       "values repeats 0.9"},
      {"no values", "values", "", "[search]", ErrorCode::pipeline, "required key 'values' is missing"},
      {"unknown gate name", "gates", R"(gates = ["flip"])", "gates = [\"flip\"]", ErrorCode::pipeline,
       "gates names 'flip', which is not a [[gate]] of this pipeline (its gates: 'flips', 'welch', 'searched-flips')"},
      {"gate on a population metric", "gates", R"(gates = ["flips", "welch"])", "gates = [\"flips\", \"welch\"]",
       ErrorCode::pipeline, "gate 'welch' (line {welch}) bounds a statistic of org.compaudit.metric.recall_welch, "
                            "which compares populations of models"},
      {"every gate, one on a population metric", "gates", "", "[search]", ErrorCode::pipeline,
       "gate 'welch' (line {welch}) bounds a statistic of org.compaudit.metric.recall_welch"},
      {"no gate named", "gates", "gates = []", "gates = []", ErrorCode::pipeline, "gates = [] names no gate"},
      {"name clash", "plugin", "name = \"prune\"\nplugin = \"org.compaudit.prune.magnitude\"", "name = \"prune\"",
       ErrorCode::pipeline, "[search] adds the arm \"prune\", the name of the [[arm]] at line {prune}"},
      {"uniform not a bool", "plugin", "uniform = 1\nplugin = \"org.compaudit.prune.magnitude\"", "uniform = 1",
       ErrorCode::pipeline, "[search]: 'uniform' must be true or false, not integer"},
      {"reserved name", "plugin", "name = \"dense+ft\"\nplugin = \"org.compaudit.prune.magnitude\"",
       "name = \"dense+ft\"", ErrorCode::pipeline, "arm name \"dense+ft\" is reserved"},
      {"unknown critical class", "critical_class", R"(critical_class = "Shrt")", "critical_class = \"Shrt\"",
       ErrorCode::pipeline, "critical_class = \"Shrt\" is not one of [data] class_names (\"Shirt\", \"Coat\")"},
      {"critical class index past the classes", "critical_class", "critical_class = 2", "critical_class = 2",
       ErrorCode::pipeline, "critical_class = 2 is not a class: the classes are 0..1"},
      {"bad strategy", "strategy", R"(strategy = "random")", "strategy = \"random\"", ErrorCode::pipeline,
       "strategy = \"random\" is not one of \"greedy\", \"exhaustive\""},
      {"max_trials out of range", "max_trials", "max_trials = 0", "max_trials = 0", ErrorCode::pipeline,
       "max_trials = 0 must be in 1..100000"},
      {"negative finetune_epochs", "finetune_epochs", "finetune_epochs = -1", "finetune_epochs = -1",
       ErrorCode::pipeline, "finetune_epochs = -1 must be in 0..100000"},
      {"layers in [search.params]", "params", "  [search.params]\n  layers = [\"fc1\"]", "layers = [\"fc1\"]",
       ErrorCode::parameters, "[search.params]: 'layers' is set per layer by the search"},
      {"the searched parameter in [search.params]", "params", "  [search.params]\n  sparsity = 0.5",
       "sparsity = 0.5", ErrorCode::parameters, "'sparsity' is set per layer by the search (from `values`)"},
      {"unknown parameter in [search.params]", "params", "  [search.params]\n  scop = \"layerwise\"",
       "scop = \"layerwise\"", ErrorCode::parameters, "[search.params]: plugin 'org.compaudit.prune.magnitude' has no "
                                                      "parameter 'scop'"},
      {"bad choice in [search.params]", "params", "  [search.params]\n  scope = \"row\"", "scope = \"row\"",
       ErrorCode::parameters, "scope = \"row\" is not one of"},
      {"exclude naming no layer", "params", "  [search.params]\n  exclude = [\"fc*\"]", "exclude = [\"fc*\"]",
       ErrorCode::pipeline, "exclude"},
      {"unknown key", "strategy", "strategy = \"greedy\"\nbudget = 3", "budget = 3", ErrorCode::pipeline,
       "[search]: unknown key 'budget'"},
  };
  // Where the [[gate]] "welch" and the [[arm]] "prune" start (their tables' lines, as messages name them).
  const std::string base = pipeline_text("");
  const auto with_lines = [&](std::string message) {
    for (const auto& [mark, table] : {std::pair<std::string, std::string>{"{welch}", "name = \"welch\""},
                                      {"{prune}", "name = \"prune\""}})
      if (const auto at = message.find(mark); at != std::string::npos)
        message.replace(at, mark.size(), std::to_string(line_of(base, table) - 1));
    return message;
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const std::string text = pipeline_text(search_table({{c.key, c.line}}));
      REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
      CHECK(dynamic_cast<const compaudit::host::ErrorList*>(&*error) == nullptr);  // no echo of it elsewhere
      CHECK(error->code() == c.code);
      CHECK(error->where().file == r.path().string());
      CHECK(error->where().line == line_of(text, c.at, "[search]"));
      CHECK(contains(error->message(), with_lines(c.text)));
    }
  }
}

TEST_CASE("a value out of range is pointed at by line and column", "[pipeline][search][fault]") {
  BuiltinRegistry r;
  const std::string text = pipeline_text(search_table({{"values", "values = [0.9, 1.5]"}}));
  REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
  CHECK(error->where().line == line_of(text, "values = [0.9, 1.5]"));
  CHECK(error->where().column == 16);  // the element 1.5
  CHECK(contains(error->message(), "[search] values: sparsity = 1.5 is above its maximum 1"));
}

TEST_CASE("[search] and [attribution] refuse what the data or the model cannot give", "[pipeline][search][fault]") {
  BuiltinRegistry r;
  SECTION("a search needs a validation split") {
    const std::string text = pipeline_text(search_table(), "validation_fraction = 0.0");
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
    CHECK(error->where().line == line_of(text, "[search]"));
    CHECK(contains(error->message(), "[search] judges configurations on the validation split, and this pipeline has "
                                     "none ([data] validation_fraction = 0)"));
  }
  SECTION("[attribution] split = \"validation\" needs a validation split") {
    const std::string text = pipeline_text("[attribution]\nsplit = \"validation\"\n", "validation_fraction = 0.0");
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
    CHECK(error->where().line == line_of(text, "split = \"validation\""));
    CHECK(contains(error->message(),
                   "[attribution] split = \"validation\", and this pipeline has no validation split"));
  }
  SECTION("[attribution] arm patterns must each match a compressed arm") {
    const std::string text = pipeline_text("[attribution]\narms = [\"prune\", \"quant*\"]\n");
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
    CHECK(error->where().line == line_of(text, "arms = [\"prune\""));
    CHECK(contains(error->message(), "[attribution]: arm pattern 'quant*' matches no compressed arm with a model"));
  }
  SECTION("[attribution] arm patterns do not match dense or the controls") {
    const std::string text = pipeline_text("[attribution]\narms = [\"dense*\"]\n");
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
    CHECK(contains(error->message(), "arm pattern 'dense*' matches no compressed arm"));
  }
  SECTION("[attribution] critical_class, split and examples") {
    for (const auto& [line, message] : std::vector<std::pair<std::string, std::string>>{
             {"critical_class = \"Dress\"", "critical_class = \"Dress\" is not one of [data] class_names"},
             {"critical_class = -1", "critical_class = -1 is not a class"},
             {"split = \"train\"", "split = \"train\" is not one of \"test\", \"validation\""},
             {"examples = 101", "examples = 101 must be in 0..100"},
             {"arms = []", "arms = [] names no arm"},
             {"layers = 2", "[attribution]: unknown key 'layers'"}}) {
      const std::string text = pipeline_text("[attribution]\n" + line + "\n");
      REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text));
      CHECK(error->where().line == line_of(text, line));
      CHECK(contains(error->message(), message));
    }
  }
  SECTION("without class_names an index is checked against num_classes, and a name is left to the run") {
    const auto text = [](const std::string& value) {
      return pipeline_text("[attribution]\ncritical_class = " + value + "\n", "", "", "num_classes = 3");
    };
    CHECK(r.load(text("\"Shirt\"")).attribution.critical_class == "Shirt");
    CHECK(r.load(text("2")).attribution.critical_class == "2");
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(text("3")));
    CHECK(contains(error->message(), "critical_class = 3 is not a class: the classes are 0..2"));
  }
}

TEST_CASE("every error of [search], [attribution] and the other tables comes in one pass",
          "[pipeline][search][fault]") {
  BuiltinRegistry r;
  // [training] lr, the [search] plugin, gates and strategy (independent parts of one table), [attribution] split:
  // five errors. The gate on the searched arm adds none: the arm is there although its plugin is unknown.
  const std::string text = pipeline_text(
      search_table({{"plugin", R"(plugin = "org.compaudit.prune.nope")"},
                    {"gates", R"(gates = ["nope"])"},
                    {"strategy", R"(strategy = "random")"}}) +
          "[attribution]\nsplit = \"train\"\n",
      "", "[training]\nlr = -1.0");
  REQUIRE_THROWS_ERROR(compaudit::host::ErrorList, list, r.load(text));
  const auto& e = list->errors();
  REQUIRE(e.size() == 5);
  CHECK(e[0].where().line == line_of(text, "lr = -1.0"));
  CHECK(e[1].where().line == line_of(text, "prune.nope"));
  CHECK(contains(e[1].message(), "unknown plugin 'org.compaudit.prune.nope'"));
  CHECK(e[2].where().line == line_of(text, "gates = [\"nope\"]"));
  CHECK(contains(e[2].message(), "gates names 'nope'"));
  CHECK(e[3].where().line == line_of(text, "strategy = \"random\""));
  CHECK(e[4].where().line == line_of(text, "split = \"train\""));
  for (const auto& one : e) CHECK(one.where().file == r.path().string());
  CHECK(contains(list->what(),
                 fmt::format("{}:{}:1: pipeline error: ", r.path().string(), line_of(text, "prune.nope"))));
}
