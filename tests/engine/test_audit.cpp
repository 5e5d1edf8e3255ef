// End-to-end audits on scikit-learn's digits through the real engine library: a complete run, a rerun that must be
// identical, an interrupted run resumed, a plugin that fails its cells, a TorchScript model, export.
#include "engine_lib.h"
#include "run_fingerprint.h"
#include "test_helpers.h"

#include "support/digits_audit.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace compaudit;
namespace fs = std::filesystem;

namespace {

using test_support::kDigitsCsv;

// K = 3, two-epoch MLPs: 5 arms (dense, dense+ft, prune@0.5, prune@0.9, int8) x 3 seeds = 15 cells, a few seconds.
std::string digits_pipeline(const std::string& name, const std::string& extra_arm = "") {
  test_support::DigitsAudit audit;
  audit.name = name;
  audit.arms += extra_arm;
  audit.metrics = {"top1", "pie", "recall_welch"};
  audit.tables = "\n[report]\nformats = [\"json\", \"html\"]\n";
  return audit.toml();
}

std::string write_pipeline(const fs::path& dir, const std::string& text) {
  const fs::path p = dir / "pipeline.toml";
  engine_test::write_text(p, text);
  return p.string();
}

const store::MetricResult* find_metric(const std::vector<store::MetricResult>& all, const std::string& id,
                                       const std::string& arm) {
  for (const auto& m : all)
    if (m.metric_id == id && m.arm == arm) return &m;
  return nullptr;
}
// The result points into `all`: a temporary vector would leave it dangling, so that does not compile.
const store::MetricResult* find_metric(std::vector<store::MetricResult>&& all, const std::string& id,
                                       const std::string& arm) = delete;

}  // namespace

TEST_CASE("An audit of digits runs end to end, reruns identically and writes parseable reports",
          "[engine][audit][e2e]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("audit-digits");
  const std::string pipeline = write_pipeline(dir, digits_pipeline("digits-e2e"));
  REQUIRE(engine_test::run_pipeline(pipeline, (dir / "run1").string()) == host::exit_ok);

  const store::Store s = store::Store::open((dir / "run1").string(), store::Store::Access::read_only);
  const auto cells = s.cells();
  REQUIRE(cells.size() == 15);
  for (const auto& c : cells) CHECK(store::to_string(c.status) == std::string("done"));
  const auto metrics = s.metrics();

  SECTION("the dense arm has no PIEs against itself, and fine-tuned arms are compared with the dense+ft control") {
    const auto* dense_pie = find_metric(metrics, "org.compaudit.metric.pie", "dense");
    REQUIRE(dense_pie != nullptr);
    CHECK(dense_pie->error.empty());
    CHECK(dense_pie->result["summary"]["pie_count"].get<int>() == 0);
    const auto* pruned = find_metric(metrics, "org.compaudit.metric.pie", "prune@sparsity=0.9");
    REQUIRE(pruned != nullptr);
    CHECK(pruned->reference == "dense+ft");
    CHECK(pruned->result["reference"] == "dense+ft");
    const auto* int8 = find_metric(metrics, "org.compaudit.metric.pie", "int8");
    REQUIRE(int8 != nullptr);
    CHECK(int8->reference == "dense");
    const auto* control = find_metric(metrics, "org.compaudit.metric.top1", "dense+ft");
    REQUIRE(control != nullptr);
    CHECK(control->reference == "dense");
  }
  SECTION("pruned cells really are sparse and record what the compressor did") {
    const auto c = s.cell("prune@sparsity=0.9", 1);
    REQUIRE(c);
    const double nz = c->size["nonzeros"].get<double>(), n = c->size["parameters"].get<double>();
    CHECK(nz / n < 0.2);
    REQUIRE(c->records.size() == 1);
    CHECK(c->records[0]["plugin"] == "org.compaudit.prune.magnitude");
  }
  SECTION("report.json and report.html exist and parse") {
    std::ifstream json_file(dir / "run1" / "report.json");
    REQUIRE(json_file);
    const auto report = nlohmann::json::parse(json_file);
    CHECK(report.is_object());
    std::ifstream html_file(dir / "run1" / "report.html");
    REQUIRE(html_file);
    std::stringstream html;
    html << html_file.rdbuf();
    CHECK_THAT(html.str(), Catch::Contains("<html") && Catch::Contains("</html>"));
  }
  SECTION("a second run of the same pipeline gives bitwise identical results") {
    REQUIRE(engine_test::run_pipeline(pipeline, (dir / "run2").string()) == host::exit_ok);
    CHECK(engine_test::fingerprint((dir / "run1").string()) == engine_test::fingerprint((dir / "run2").string()));
  }
}

TEST_CASE("A run stopped after some cells and resumed equals an uninterrupted run", "[engine][audit][resume]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("audit-resume");
  const std::string pipeline = write_pipeline(dir, digits_pipeline("digits-resume"));
  REQUIRE(engine_test::run_pipeline(pipeline, (dir / "whole").string()) == host::exit_ok);

  // Stop after 7 cells (arm-major: the 3 dense cells, the 3 dense+ft cells, prune@0.5 seed 0), so the resumed run
  // restores dense models 1 and 2 from the store and computes a group with a done cell (prune@0.5) partly.
  REQUIRE(engine_test::run_stopped_after(pipeline, (dir / "parts").string(), 7) == host::exit_ok);
  {
    const store::Store s = store::Store::open((dir / "parts").string(), store::Store::Access::read_only);
    CHECK(s.cells(store::CellStatus::done).size() == 7);
    CHECK(s.metrics().empty());
  }
  REQUIRE(engine_test::run_pipeline("", (dir / "parts").string(), /*resume=*/true) == host::exit_ok);
  CHECK(engine_test::fingerprint((dir / "whole").string()) == engine_test::fingerprint((dir / "parts").string()));

  SECTION("running the same pipeline into a finished run recomputes nothing") {
    REQUIRE(engine_test::run_pipeline(pipeline, (dir / "parts").string()) == host::exit_ok);
    CHECK(engine_test::fingerprint((dir / "whole").string()) == engine_test::fingerprint((dir / "parts").string()));
  }
  SECTION("another pipeline is refused in an existing run directory") {
    const auto other = dir / "other";
    fs::create_directories(other);
    const std::string p2 = write_pipeline(other, digits_pipeline("digits-other"));
    CHECK(engine_test::run_pipeline(p2, (dir / "parts").string()) == host::exit_io);
  }
}

TEST_CASE("A compressor that throws fails its own cells and the run goes on", "[engine][audit][failure]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("audit-failure");
  // A critical class the data does not have (digits has 10): only the data tells, so `compaudit validate` accepts
  // it and the plugin throws in compress(). (Layer patterns and cuts that fit no layer are caught by validation.)
  const std::string broken = compaudit::test_support::kThrowingArm;
  const std::string pipeline = write_pipeline(dir, digits_pipeline("digits-failure", broken));
  CHECK(engine_test::run_pipeline(pipeline, (dir / "run").string()) == host::exit_cells_failed);
  const store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  const auto failed = s.cells(store::CellStatus::failed);
  // classdep trains inside compress(), so the arm has a training control running the same plugin: it fails too.
  REQUIRE(failed.size() == 6);
  for (const auto& c : failed) {
    CHECK((c.arm == "broken" || c.arm == "broken control"));
    CHECK_THAT(c.error, Catch::Contains("plugin org.compaudit.compress.classdep failed in compress"));
  }
  CHECK(s.cells(store::CellStatus::done).size() == 15);
  const auto metrics = s.metrics();  // find_metric points into it: keep it alive
  const auto* pie = find_metric(metrics, "org.compaudit.metric.pie", "broken");
  REQUIRE(pie != nullptr);
  CHECK_FALSE(pie->error.empty());
  CHECK(fs::exists(dir / "run" / "report.json"));
}

TEST_CASE("Bad runs are refused with the exit code of their category", "[engine][audit][bad]") {
  const auto dir = engine_test::scratch_dir("audit-bad");
  SECTION("a pipeline file that does not exist") {
    CHECK(engine_test::run_pipeline((dir / "missing.toml").string()) == host::exit_input);
  }
  SECTION("a corrupt data file is a data error") {
    engine_test::write_text(dir / "bad.csv", "1,2,0\n3,4,1\n5,6\n");
    std::string text = digits_pipeline("bad-data");
    text.replace(text.find(kDigitsCsv), kDigitsCsv.size(), (dir / "bad.csv").string());
    CHECK(engine_test::run_pipeline(write_pipeline(dir, text), (dir / "run").string()) == host::exit_input);
  }
  SECTION("a TOML syntax error") {
    engine_test::write_text(dir / "syntax.toml", "[audit\nname = 1\n");
    CHECK(engine_test::run_pipeline((dir / "syntax.toml").string()) == host::exit_input);
  }
  SECTION("an unknown plugin") {
    std::string text = digits_pipeline("bad-plugin");
    const std::string id = "org.compaudit.metric.pie";
    text.replace(text.find(id), id.size(), "org.example.no_such_metric");
    CHECK(engine_test::run_pipeline(write_pipeline(dir, text), (dir / "run").string()) == host::exit_input);
    CHECK_FALSE(fs::exists(dir / "run" / "results.sqlite"));  // refused before any work
  }
  SECTION("resuming a directory without a run") {
    CHECK(engine_test::run_pipeline("", (dir / "nothing").string(), true) == host::exit_io);
  }
}

TEST_CASE("A TorchScript model from PyTorch is pruned, fine-tuned, evaluated and exported back to PyTorch",
          "[engine][audit][torchscript][export]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  COMPAUDIT_SKIP_UNLESS(fs::exists("/usr/bin/python3"), "Debian's /usr/bin/python3 (python3-torch) not found");
  const auto dir = engine_test::scratch_dir("audit-torchscript");
  std::string text = digits_pipeline("digits-ts");
  const std::string mlp = "arch = \"mlp\"\nhidden = [32]";
  text.replace(text.find(mlp), mlp.size(),
               fmt::format("arch = \"torchscript\"\npath = \"{}/tiny_mlp.pt\"", COMPAUDIT_ENGINE_FIXTURES));
  const std::string pipeline = write_pipeline(dir, text);
  REQUIRE(engine_test::run_pipeline(pipeline, (dir / "run").string()) == host::exit_ok);
  const store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  CHECK(s.cells(store::CellStatus::done).size() == 15);
  const auto metrics = s.metrics();  // find_metric points into it: keep it alive
  const auto top1 = find_metric(metrics, "org.compaudit.metric.top1", "prune@sparsity=0.5");
  REQUIRE(top1 != nullptr);
  INFO(top1->result.dump());
  CHECK(top1->error.empty());

  host::ExportRequest request;
  request.run_dir = (dir / "run").string();
  request.arm = "prune@sparsity=0.9";
  request.seed = 2;
  request.output = (dir / "export" / "pruned.pt").string();
  REQUIRE(engine_test::engine().export_model(request) == host::exit_ok);
  const auto loaded = nlohmann::json::parse(engine_test::shell(
      fmt::format("/usr/bin/python3 {}/check_export.py {} torchscript 64", COMPAUDIT_ENGINE_FIXTURES, request.output)));
  CHECK(loaded["output_shape"] == nlohmann::json::array({2, 10}));
}

TEST_CASE("A built-in model exports as a state dict torch.load reads, masks applied", "[engine][export]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  COMPAUDIT_SKIP_UNLESS(fs::exists("/usr/bin/python3"), "Debian's /usr/bin/python3 (python3-torch) not found");
  const auto dir = engine_test::scratch_dir("export-builtin");
  const std::string pipeline = write_pipeline(dir, digits_pipeline("digits-export"));
  REQUIRE(engine_test::run_pipeline(pipeline, (dir / "run").string()) == host::exit_ok);
  host::ExportRequest request;
  request.run_dir = (dir / "run").string();
  request.arm = "prune@sparsity=0.9";
  request.seed = 1;
  request.output = (dir / "pruned.pt").string();
  REQUIRE(engine_test::engine().export_model(request) == host::exit_ok);
  const auto state = nlohmann::json::parse(engine_test::shell(
      fmt::format("/usr/bin/python3 {}/check_export.py {} state", COMPAUDIT_ENGINE_FIXTURES, request.output)));
  CHECK(state["keys"] == nlohmann::json::array({"fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"}));
  CHECK(state["shapes"]["fc1.weight"] == nlohmann::json::array({32, 64}));
  CHECK(state["weight_zero_fraction"].get<double>() >= 0.89);
  // The documented loader (docs/export.md) rebuilds the model in PyTorch from the export and its card.
  const auto used = nlohmann::json::parse(engine_test::shell(
      fmt::format("/usr/bin/python3 {}/load_mlp_export.py {}", COMPAUDIT_ENGINE_FIXTURES, request.output)));
  CHECK(used["sizes"] == nlohmann::json::array({64, 32, 10}));
  CHECK(used["probability"].get<double>() > 0.1);

  SECTION("an unknown cell is refused") {
    request.arm = "no-such-arm";
    CHECK(engine_test::engine().export_model(request) == host::exit_input);
  }
}

TEST_CASE("Memorization scores are estimated and an augmentation policy changes training", "[engine][audit][memorization]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("audit-memorization");
  const std::string extra = R"(
[augmentation]
plugin = "org.compaudit.augment.noise"
std = 0.3

[memorization]
models = 4
fraction = 0.7
epochs = 1

[[metric]]
plugin = "org.compaudit.metric.memorization"
)";
  const std::string plain = write_pipeline(dir, digits_pipeline("digits-mem"));
  fs::create_directories(dir / "aug");
  const std::string augmented = write_pipeline(dir / "aug", digits_pipeline("digits-mem-aug") + extra);
  REQUIRE(engine_test::run_pipeline(plain, (dir / "plain").string()) == host::exit_ok);
  REQUIRE(engine_test::run_pipeline(augmented, (dir / "aug" / "run").string()) == host::exit_ok);

  const store::Store s = store::Store::open((dir / "aug" / "run").string(), store::Store::Access::read_only);
  const auto data = s.data();
  REQUIRE(data);
  const auto mem = s.memorization("train");
  REQUIRE(mem);
  CHECK(static_cast<std::int64_t>(mem->size()) == data->splits.at(0).n);
  for (float m : *mem) CHECK((m >= -1.0f && m <= 1.0f));
  const auto metrics = s.metrics();  // find_metric points into it: keep it alive
  const auto* metric = find_metric(metrics, "org.compaudit.metric.memorization", "prune@sparsity=0.9");
  REQUIRE(metric != nullptr);
  INFO(metric->error);
  CHECK(metric->error.empty());
  // Predictions on the training split were stored for the metric.
  CHECK(s.predictions("prune@sparsity=0.9", 0, "train", false));
  // fraction 0.7 of T = 4 is m = round(2.8) = 3 subsets per example: the run records and the metric reports 3/4.
  const nlohmann::json settings = s.run().settings["memorization"];
  CHECK(settings["fraction"].get<double>() == 0.7);
  CHECK(settings["subsets_per_example"] == 3);
  CHECK(settings["realized_fraction"].get<double>() == 0.75);
  CHECK(metric->result["subsets"]["per_example"] == 3);
  CHECK(metric->result["subsets"]["realized_fraction"].get<double>() == 0.75);
  CHECK(metric->result["intervals"].contains("mismatch_rate"));
  // The subset records are kept: every training example in exactly 3 of the 4 subsets; influence is computed.
  const auto membership = s.blob("", 0, "memorization/membership");
  REQUIRE(membership);
  REQUIRE(static_cast<std::int64_t>(membership->size()) == 4 * data->splits.at(0).n);
  for (std::int64_t i = 0; i < data->splits.at(0).n; ++i) {
    int in = 0;
    for (std::int64_t t = 0; t < 4; ++t) in += (*membership)[static_cast<std::size_t>(t * data->splits.at(0).n + i)];
    CHECK(in == 3);
  }
  CHECK(metric->result["influence"]["available"] == true);
  CHECK(metric->result["influence"]["models"] == 4);
  CHECK(metric->result["influence"]["points"].size() == metric->result["influence"]["flipped"].get<std::size_t>());

  const store::Store p = store::Store::open((dir / "plain").string(), store::Store::Access::read_only);
  CHECK(p.predictions("dense", 0, "test")->probs != s.predictions("dense", 0, "test")->probs);
}
