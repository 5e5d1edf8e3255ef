// Pipeline parsing and validation (plugin-host-rules.md fault 15): one small file per fault in
// data/pipelines/bad/, each with its category, line, column and message; and the expansion of a good pipeline.
// The test registry (data/plugins/) holds manifests only: validation must never open a library.
#include <compaudit/host/error_list.h>
#include <compaudit/host/manifest.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include "test_support.h"

using compaudit::ErrorCode;
using compaudit::host::load_pipeline;
using compaudit::host::Registry;
using compaudit::host::SearchPaths;
using test::contains;

namespace {
const fs::path kData = fs::path(TEST_DATA_DIR);

const Registry& test_registry() {
  static const Registry registry = [] {
    SearchPaths p;
    p.dirs.emplace_back((kData / "plugins").string(), "--plugin-path");
    return Registry::discover(p);
  }();
  return registry;
}

struct BadPipeline {
  const char* file;
  ErrorCode code;
  int line, column;
  const char* text;
};

const BadPipeline kBad[] = {
    {"syntax.toml", ErrorCode::pipeline, 5, 1, "TOML syntax error"},
    {"unknown_table.toml", ErrorCode::pipeline, 12, 2, "unknown key 'trainig'"},
    {"unknown_key.toml", ErrorCode::pipeline, 6, 1, "[data]: unknown key 'formt'"},
    {"missing_audit.toml", ErrorCode::pipeline, 1, 1, "the [audit] table (name, seeds) is missing"},
    {"bad_choice.toml", ErrorCode::pipeline, 10, 1, "arch = \"transformer\" is not one of \"mlp\", \"cnn\""},
    {"unknown_plugin.toml", ErrorCode::pipeline, 15, 3, "unknown plugin 'org.test.compressor.prun' — did you mean 'org.test.compressor.prune'?"},
    {"wrong_kind.toml", ErrorCode::pipeline, 15, 3, "plugin 'org.test.metric.top1' is a metric, but a compressor"},
    {"param_out_of_range.toml", ErrorCode::parameters, 16, 14, "sparsity = 1.5 is above its maximum 1"},
    {"param_wrong_type.toml", ErrorCode::parameters, 16, 14, "sparsity = \"high\" has type string, expected float"},
    {"param_unknown.toml", ErrorCode::parameters, 17, 3, "has no parameter 'sparsty' (its parameters: sparsity, scope)"},
    {"param_missing.toml", ErrorCode::parameters, 14, 3, "required parameter 'sparsity' (float) is missing"},
    {"sweep_out_of_range.toml", ErrorCode::parameters, 16, 20, "sparsity = 1.5 is above its maximum 1"},
    {"sweep_repeats.toml", ErrorCode::parameters, 16, 20, "sweep 'sparsity' repeats the value 0.5"},
    {"sweep_outside_arm.toml", ErrorCode::parameters, 23, 7, "sweeps are allowed in [[arm.step]] only"},
    {"no_arms.toml", ErrorCode::pipeline, 1, 1, "no [[arm]]"},
    {"no_metrics.toml", ErrorCode::pipeline, 1, 1, "no [[metric]]: it would compute nothing"},
    {"needs_memorization.toml", ErrorCode::pipeline, 18, 1, "needs memorization scores"},
    {"data_missing.toml", ErrorCode::data, 7, 1, "missing.csv does not exist"},
    {"one_seed.toml", ErrorCode::pipeline, 3, 9, "seeds = 0 must be in 1..100000"},
    {"arm_without_steps.toml", ErrorCode::pipeline, 13, 1, "arm 'empty' has no [[arm.step]]"},
    {"duplicate_arm.toml", ErrorCode::pipeline, 18, 1, "two arms are named 'prune'"},
    {"reserved_arm_name.toml", ErrorCode::pipeline, 13, 1, "arm name \"dense\" is reserved"},
    {"negative_finetune.toml", ErrorCode::pipeline, 14, 1, "finetune_epochs must be >= 0"},
    {"metric_not_array.toml", ErrorCode::pipeline, 18, 1, "'metric' must be an array of tables"},
    {"epochs_overflow.toml", ErrorCode::pipeline, 14, 1, "epochs = 4294967297 must be in 0..100000"},
    {"threads_overflow.toml", ErrorCode::pipeline, 14, 1, "threads = 4294967297 must be in 0..1024"},
    {"memorization_overflow.toml", ErrorCode::pipeline, 14, 1, "models = 4294967304 must be in 2..10000"},
    // Pretrained models, checkpoints, saved predictions (docs/pipelines.md, "Auditing the model you ship").
    {"epochs_zero_builtin.toml", ErrorCode::pipeline, 13, 10, "epochs = 0 with arch = \"mlp\" would audit untrained"},
    {"pretrained_population.toml", ErrorCode::pipeline, 9, 1, "one pretrained model cannot make a population of 3"},
    {"checkpoints_count.toml", ErrorCode::pipeline, 9, 1, "checkpoints lists 2 files but [audit] seeds gives 3 seeds"},
    {"checkpoints_mismatch.toml", ErrorCode::data, 8, 1, "tiny_mlp_wide.pt is not the architecture of"},
    {"predictions_compressor.toml", ErrorCode::pipeline, 11, 1, "there is no model to compress"},
    {"arm_predictions_steps.toml", ErrorCode::pipeline, 14, 1, "an arm with them has no [[arm.step]]"},
    {"gate_unknown_metric.toml", ErrorCode::pipeline, 22, 1, "gate metric 'org.test.metric.nope' is not one of"},
    {"gate_arm_nomatch.toml", ErrorCode::pipeline, 22, 1, "gate arm 'quant*' matches no compressed arm"},
    {"gate_no_bound.toml", ErrorCode::pipeline, 23, 1, "a gate needs a bound"},
    // alpha and correction belong to the metric that tests, not to [report].
    {"report_correction.toml", ErrorCode::pipeline, 22, 1, "correction is not a [report] setting"},
    // Independent errors are all reported (below); the first one is the error's own.
    {"three_errors.toml", ErrorCode::pipeline, 13, 1, "lr = -1 must be in (0, 1000]"},
};
}  // namespace

TEST_CASE("every invalid pipeline of the corpus fails at its line and column", "[pipeline][fault]") {
  REQUIRE(test_registry().plugins().size() == 5);
  REQUIRE(test_registry().errors().empty());
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(kData / "pipelines" / "bad"))
    files += entry.path().extension() == ".toml";
  CHECK(files == std::size(kBad));  // a new corpus file needs an expectation here
  for (const auto& bad : kBad) {
    const std::string path = (kData / "pipelines" / "bad" / bad.file).string();
    DYNAMIC_SECTION(bad.file) {
      REQUIRE_THROWS_ERROR(compaudit::Error, error, load_pipeline(path, test_registry()));
      CHECK(error->code() == bad.code);
      CHECK(error->where().file == path);
      CHECK(error->where().line == bad.line);
      CHECK(error->where().column == bad.column);
      CHECK(contains(error->message(), bad.text));
    }
  }
}

TEST_CASE("independent errors of one pipeline are reported together, each at its line and column",
          "[pipeline][fault]") {
  // [training] lr, a sweep value of one [[arm]] and the plugin id of one [[metric]]: three tables, three errors; the
  // valid [[arm]] and [[metric]] between them add none.
  const std::string path = (kData / "pipelines" / "bad" / "three_errors.toml").string();
  REQUIRE_THROWS_ERROR(compaudit::host::ErrorList, list, load_pipeline(path, test_registry()));
  REQUIRE(list->errors().size() == 3);
  const auto& e = list->errors();
  CHECK((e[0].where().line == 13 && e[0].where().column == 1));
  CHECK(contains(e[0].message(), "lr = -1 must be in (0, 1000]"));
  CHECK((e[1].where().line == 19 && e[1].where().column == 20));
  CHECK(e[1].code() == ErrorCode::parameters);
  CHECK(contains(e[1].message(), "arm 'prune' step 1: sparsity = 1.5 is above its maximum 1"));
  CHECK((e[2].where().line == 30 && e[2].where().column == 1));
  CHECK(contains(e[2].message(), "unknown plugin 'org.test.metric.top'"));
  for (const auto& one : e) CHECK(one.where().file == path);
  // what() is every error, one per line, in the compiler form editors jump to.
  CHECK(contains(list->what(), path + ":13:1: pipeline error: "));
  CHECK(contains(list->what(), "\n" + path + ":19:20: parameters error: "));
  CHECK(contains(list->what(), "\n" + path + ":30:1: pipeline error: "));
}

TEST_CASE("sweeps expand into one arm per combination, after dense and one control per fine-tuning budget",
          "[pipeline]") {
  const std::string path = (kData / "pipelines" / "good" / "sweep.toml").string();
  const auto p = load_pipeline(path, test_registry());
  CHECK(p.name == "sweep");
  CHECK(p.seeds == std::vector<std::int64_t>{0, 1, 2});
  CHECK(p.data.train == (kData / "pipelines" / "data" / "tiny.csv").string());
  CHECK(p.output == (kData / "pipelines" / "good" / "runs" / "sweep").string());
  CHECK(p.report.formats == std::vector<std::string>{"json", "terminal"});
  CHECK(p.memorization.enabled);
  CHECK(p.memorization.models == 4);
  std::vector<std::string> names;
  for (const auto& a : p.arms) names.push_back(a.name);
  // Two budgets (prune: 1 epoch, quant: 3): two dense controls, each fine-tuned as long as the arms it serves.
  CHECK(names == std::vector<std::string>{"dense", "dense+ft1", "dense+ft3", "prune@sparsity=0.5,bits=4",
                                          "prune@sparsity=0.5,bits=8", "prune@sparsity=0.9,bits=4",
                                          "prune@sparsity=0.9,bits=8", "quant"});
  CHECK(p.arms[1].finetune_epochs == 1);
  CHECK(p.arms[2].finetune_epochs == 3);
  CHECK(p.arms[1].steps.empty());
  CHECK(p.arms[2].steps.empty());
  std::vector<std::string> references;
  for (const auto& a : p.arms) references.push_back(compaudit::host::reference_of(p, a));
  CHECK(references == std::vector<std::string>{"dense", "dense", "dense", "dense+ft1", "dense+ft1", "dense+ft1",
                                               "dense+ft1", "dense+ft3"});
  CHECK(compaudit::host::is_control(p.arms[2]));
  CHECK_FALSE(compaudit::host::is_control(p.arms[3]));
  const auto& arm = p.arms[5];
  CHECK(arm.base_name == "prune");
  CHECK(arm.level == 0.9);
  CHECK(arm.sweep == std::map<std::string, std::string>{{"sparsity", "0.9"}, {"bits", "4"}});
  CHECK(arm.finetune_epochs == 1);
  REQUIRE(arm.steps.size() == 2);
  CHECK(arm.steps[0].plugin == "org.test.compressor.prune");
  CHECK(arm.steps[0].params.get<double>("sparsity") == 0.9);
  CHECK(arm.steps[0].params.get<std::string>("scope") == "global");  // default filled in
  CHECK(arm.steps[1].params.get<std::int64_t>("bits") == 4);
  CHECK(p.arms[7].steps[0].params.get<std::int64_t>("bits") == 8);  // default
  REQUIRE(p.augmentation.has_value());
  CHECK(p.augmentation->params.get<double>("std") == 0.2);
  REQUIRE(p.metrics.size() == 2);
  CHECK(p.metrics[1].plugin == "org.test.metric.memo");
  CHECK(contains(p.toml, "name = \"sweep\""));
}

TEST_CASE("a pipeline without fine-tuning has no control arm", "[pipeline]") {
  test::TempDir tmp;
  test::write_file(tmp / "p.toml", fmt::format(R"([audit]
name = "plain"
seeds = [7, 11]
output = "{}"
[data]
format = "csv"
train = "{}"
[model]
arch = "mlp"
[[arm]]
name = "q"
  [[arm.step]]
  plugin = "org.test.compressor.quantize"
  bits = 4
[[metric]]
plugin = "org.test.metric.top1"
)", (tmp / "out").string(), (kData / "pipelines" / "data" / "tiny.csv").string()));
  const auto p = load_pipeline((tmp / "p.toml").string(), test_registry());
  REQUIRE(p.arms.size() == 2);
  CHECK(p.arms[0].name == "dense");
  CHECK(p.arms[1].name == "q");
  CHECK(p.seeds == std::vector<std::int64_t>{7, 11});
  CHECK(p.output == (tmp / "out").string());
}

namespace {
// A registry of manifests only: the test compressors, one of which trains inside compress() (`trains = true`).
struct TrainingRegistry {
  test::TempDir tmp;
  Registry registry;
  TrainingRegistry() : registry(make(tmp)) {}
  static Registry make(const test::TempDir& tmp) {
    const fs::path dir = tmp / "plugins";
    test::write_file(dir / "libdummy.so", "");
    const std::string sparsity = "[[param]]\nname = \"sparsity\"\ntype = \"float\"\nmin = 0.0\nmax = 1.0\n";
    test::write_manifest(dir, "prune", "org.test.compressor.prune", "dummy", "1.0.0", "compressor", sparsity);
    test::write_manifest(dir, "lottery", "org.test.compressor.lottery", "dummy", "1.0.0", "compressor",
                         "trains = true\n" + sparsity + "[[param]]\nname = \"rounds\"\ntype = \"int\"\ndefault = 2\n");
    test::write_manifest(dir, "top1", "org.test.metric.top1", "dummy", "1.0.0", "metric");
    SearchPaths p;
    p.dirs.emplace_back(dir.string(), "--plugin-path");
    return Registry::discover(p);
  }
  compaudit::host::Pipeline load(const std::string& arms) {
    test::write_file(tmp / "p.toml", fmt::format(R"([audit]
name = "controls"
seeds = 2
[data]
format = "csv"
train = "{}"
[model]
arch = "mlp"
{}
[[metric]]
plugin = "org.test.metric.top1"
)", (kData / "pipelines" / "data" / "tiny.csv").string(), arms));
    return load_pipeline((tmp / "p.toml").string(), registry);
  }
};

std::vector<std::string> names_of(const compaudit::host::Pipeline& p) {
  std::vector<std::string> names;
  for (const auto& a : p.arms) names.push_back(a.name);
  return names;
}
}  // namespace

TEST_CASE("an arm whose compressor trains gets a control with the same training and no compression",
          "[pipeline][controls]") {
  TrainingRegistry r;
  REQUIRE(r.registry.errors().empty());
  REQUIRE(r.registry.find("org.test.compressor.lottery")->trains);
  CHECK_FALSE(r.registry.find("org.test.compressor.prune")->trains);
  const auto p = r.load(R"([[arm]]
name = "lottery"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.test.compressor.lottery"
  sparsity = [0.5, 0.9]
[[arm]]
name = "prune"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.test.compressor.prune"
  sparsity = 0.5
[[arm]]
name = "chain"
  [[arm.step]]
  plugin = "org.test.compressor.prune"
  sparsity = [0.3, 0.6]
  [[arm.step]]
  plugin = "org.test.compressor.lottery"
  sparsity = 0.8
)");
  // One budget among the arms without a training control (prune: 2 epochs): one "dense+ft". Each lottery level has
  // its own control; the chain's two arms differ only in a step that does not train, so they share one control,
  // which runs the lottery step alone.
  CHECK(names_of(p) == std::vector<std::string>{"dense", "dense+ft", "lottery@sparsity=0.5 control",
                                                "lottery@sparsity=0.9 control", "chain@sparsity=0.3 control",
                                                "lottery@sparsity=0.5", "lottery@sparsity=0.9", "prune",
                                                "chain@sparsity=0.3", "chain@sparsity=0.6"});
  const auto arm = [&](const std::string& name) {
    for (const auto& a : p.arms)
      if (a.name == name) return a;
    FAIL("no arm " << name);
    return p.arms.front();
  };
  CHECK(arm("dense+ft").finetune_epochs == 2);
  const auto control = arm("lottery@sparsity=0.9 control");
  CHECK(control.control_of == "lottery@sparsity=0.9");
  CHECK(control.finetune_epochs == 1);  // the same fine-tuning as its arm, too
  REQUIRE(control.steps.size() == 1);
  CHECK(control.steps[0].plugin == "org.test.compressor.lottery");
  CHECK(control.steps[0].params.get<double>("sparsity") == 0.9);  // the same parameters
  CHECK(control.steps[0].params.get<std::int64_t>("rounds") == 2);
  CHECK(compaudit::host::is_control(control));
  const auto chain_control = arm("chain@sparsity=0.3 control");
  REQUIRE(chain_control.steps.size() == 1);
  CHECK(chain_control.steps[0].plugin == "org.test.compressor.lottery");

  std::map<std::string, std::string> reference;
  for (const auto& a : p.arms) reference[a.name] = compaudit::host::reference_of(p, a);
  CHECK(reference["dense+ft"] == "dense");
  CHECK(reference["lottery@sparsity=0.5 control"] == "dense");
  CHECK(reference["lottery@sparsity=0.5"] == "lottery@sparsity=0.5 control");
  CHECK(reference["lottery@sparsity=0.9"] == "lottery@sparsity=0.9 control");
  CHECK(reference["prune"] == "dense+ft");
  CHECK(reference["chain@sparsity=0.3"] == "chain@sparsity=0.3 control");
  CHECK(reference["chain@sparsity=0.6"] == "chain@sparsity=0.3 control");
}

TEST_CASE("control names are reserved, and only compressors may declare that they train", "[pipeline][controls]") {
  TrainingRegistry r;
  for (const char* name : {"dense+ft2", "lottery control"}) {
    INFO(name);
    REQUIRE_THROWS_ERROR(compaudit::Error, error, r.load(fmt::format(R"([[arm]]
name = "{}"
  [[arm.step]]
  plugin = "org.test.compressor.prune"
  sparsity = 0.5
)", name)));
    CHECK(contains(error->message(), "is reserved"));
  }
  const fs::path metric = test::write_manifest(r.tmp / "plugins", "trains_metric", "org.test.metric.trains", "dummy",
                                               "1.0.0", "metric", "trains = true\n");
  REQUIRE_THROWS_ERROR(compaudit::Error, error, compaudit::host::parse_manifest(metric.string()));
  CHECK(contains(error->message(), "'trains' is only allowed for compressors"));
  CHECK(error->where().line == 8);
}

namespace {
const fs::path kTorchScript = fs::path(TEST_DATA_DIR) / ".." / ".." / ".." / "scripts" / "fixtures" / "engine";

std::string audit_of(const std::string& model, const std::string& audit_extra = "", const std::string& rest = "") {
  return fmt::format(R"([audit]
name = "own"
{}
[data]
format = "csv"
train = "{}"
[model]
{}
[[arm]]
name = "prune"
  [[arm.step]]
  plugin = "org.test.compressor.prune"
  sparsity = 0.5
[[metric]]
plugin = "org.test.metric.top1"
{})",
                     audit_extra, (kData / "pipelines" / "data" / "tiny.csv").string(), model, rest);
}
}  // namespace

TEST_CASE("the model a user already has: one pretrained file, checkpoints, saved predictions", "[pipeline][pretrained]") {
  test::TempDir tmp;
  const std::string ts = fs::canonical(kTorchScript / "tiny_mlp.pt").string();
  const std::string ts1 = fs::canonical(kTorchScript / "tiny_mlp_seed1.pt").string();
  auto load = [&](const std::string& text) {
    test::write_file(tmp / "p.toml", text);
    return load_pipeline((tmp / "p.toml").string(), test_registry());
  };
  SECTION("one TorchScript file without [training] is audited as given, K = 1") {
    const auto p = load(audit_of(fmt::format("arch = \"torchscript\"\npath = \"{}\"", ts)));
    CHECK(p.seeds == std::vector<std::int64_t>{0});
    CHECK(p.training.epochs == 0);
    CHECK(p.model.pretrained);
    CHECK(p.model.init.empty());
  }
  SECTION("checkpoints give K, one per seed") {
    const auto p = load(audit_of(fmt::format("arch = \"torchscript\"\ncheckpoints = [\"{}\", \"{}\"]", ts, ts1)));
    CHECK(p.seeds == std::vector<std::int64_t>{0, 1});
    CHECK(p.model.checkpoints == std::vector<std::string>{ts, ts1});
    CHECK(p.model.pretrained);
  }
  SECTION("a TorchScript architecture trained here resets each seed's weights unless told to keep them") {
    const auto reset = load(audit_of(fmt::format("arch = \"torchscript\"\npath = \"{}\"", ts), "seeds = 3",
                                     "[training]\nepochs = 1"));
    CHECK(reset.model.init == "reset");
    CHECK_FALSE(reset.model.pretrained);
    const auto keep = load(audit_of(fmt::format("arch = \"torchscript\"\npath = \"{}\"\ninit = \"keep\"", ts),
                                    "seeds = 3", "[training]\nepochs = 1"));
    CHECK(keep.model.init == "keep");
  }
  SECTION("a built-in model may be a population of one") {
    const auto p = load(audit_of("arch = \"mlp\"", "seeds = 1"));
    CHECK(p.seeds.size() == 1);
    CHECK(p.training.epochs == 2);
  }
  SECTION("saved predictions as the reference and as an arm") {
    const std::string csv = (kData / "pipelines" / "data" / "tiny.csv").string();
    const auto p = load(fmt::format(R"([audit]
name = "outputs"
[data]
format = "csv"
train = "{0}"
[model]
predictions = "{0}"
[[arm]]
name = "tflite"
predictions = "{0}"
[[metric]]
plugin = "org.test.metric.top1"
[[gate]]
arm = "tflite"
metric = "org.test.metric.top1"
statistic = "recall_drop_upper"
class = "3"
max = 0.02
)", csv));
    CHECK(p.model.arch == "predictions");
    CHECK(p.seeds == std::vector<std::int64_t>{0});
    REQUIRE(p.arms.size() == 2);
    CHECK(p.arms[1].predictions == csv);
    CHECK(p.arms[1].steps.empty());
    REQUIRE(p.gates.size() == 1);
    CHECK(p.gates[0].class_name == "3");
    CHECK(p.gates[0].max == 0.02);
    CHECK_FALSE(p.gates[0].min.has_value());
    CHECK(p.gates[0].name == "top1.recall_drop_upper[3]");
  }
}
