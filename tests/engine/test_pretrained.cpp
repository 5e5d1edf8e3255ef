// The model a user already has: a pretrained TorchScript model audited without training, its checkpoints,
// saved predictions from anywhere, gates, and the errors bad inputs get. Fixtures are made by the walkthrough's own
// script (examples/from-pytorch/train_and_export.py, Debian's python3-torch), small; every run is the real CLI.
#include "isolation/cli_process.h"

#include "data/npy.h"

#include <compaudit/models/models.h>
#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <filesystem>

namespace fs = std::filesystem;
using isolation_test::read_text;
using isolation_test::write_text;

namespace {

const char* kClassNames =
    R"(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])";

/// A small Fashion-MNIST CNN trained by PyTorch, exported as the walkthrough exports it. ctest runs each test case
/// in its own process, several at once: the first to get the lock makes the export, the others reuse it. The folder
/// is named by a hash of the script, so an edited script makes a fresh export.
const fs::path& exported() {
  static const fs::path dir = [] {
    const fs::path script = fs::path(COMPAUDIT_SOURCE_DIR) / "examples" / "from-pytorch" / "train_and_export.py";
    const fs::path root = fs::temp_directory_path() / "compaudit-pretrained-tests";
    fs::create_directories(root);
    const fs::path d = root / fmt::format("export-{:016x}", std::hash<std::string>{}(read_text(script)));
    const int lock = ::open((root / "export.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock < 0 || ::flock(lock, LOCK_EX) != 0) throw std::runtime_error("cannot lock the export folder");
    if (!fs::exists(d / "DONE")) {
      fs::remove_all(d);
      fs::create_directories(d);
      const std::string cmd = fmt::format(
          "/usr/bin/python3 {} --out {} --train-limit 3000 --test-limit 2000 --epochs 1 --seeds 2 --threads 1 "
          "> {}/export.log 2>&1", script.string(), d.string(), d.string());
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("the export script failed: " + read_text(d / "export.log"));
      write_text(d / "DONE", "");
    }
    ::close(lock);  // releases the lock
    return d;
  }();
  return dir;
}

std::string pipeline(const std::string& model, const std::string& arms, const std::string& extra = "") {
  return fmt::format(R"([audit]
name = "pretrained"

[data]
format = "npz"
test = "{0}/fashion_test.npz"
normalize = "none"
class_names = {1}

[model]
{2}
{3}
[[metric]]
plugin = "org.compaudit.metric.top1"
{4})",
                     exported().string(), kClassNames, model, arms, extra);
}

/// Global magnitude pruning at 50 %, no fine-tuning: an arm that needs nothing but the given weights.
const char* kPrune50 = R"(
[[arm]]
name = "prune"
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.5
)";

std::string one_model() { return fmt::format("arch = \"torchscript\"\npath = \"{}\"", (exported() / "model.pt").string()); }

int cli(const std::vector<std::string>& args, const fs::path& log) { return isolation_test::run(args, log); }

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / "compaudit-pretrained-tests" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("A pretrained model with epochs = 0 is audited as PyTorch computes it, bit for bit",
          "[engine][pretrained]") {
  const fs::path dir = scratch("bits");
  write_text(dir / "p.toml", pipeline(one_model(), fmt::format(R"(
[[arm]]
name = "int8"
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"

[[arm]]
name = "pytorch-int8-dynamic"
predictions = "{}/int8_dynamic_logits.npy"
)", exported().string())));
  REQUIRE(cli({"run", (dir / "p.toml").string(), "-o", (dir / "run").string(), "-q"}, dir / "log") == 0);
  const auto store = compaudit::store::Store::open((dir / "run").string(), compaudit::store::Store::Access::read_only);
  CHECK(store.cells(compaudit::store::CellStatus::done).size() == 3);
  // The reference: the stored labels and fp16 probabilities are those of PyTorch's own logits (softmax in float32,
  // rounded to the store's fp16), for every one of the 2,000 examples.
  for (const auto& [arm, file] : {std::pair<std::string, std::string>{"dense", "dense_logits.npy"},
                                  {"pytorch-int8-dynamic", "int8_dynamic_logits.npy"}}) {
    INFO(arm);
    const auto p = store.predictions(arm, 0, "test", true);
    REQUIRE(p);
    const at::Tensor logits = compaudit::engine::read_npy((exported() / file).string());
    REQUIRE(logits.size(0) == 2000);
    const at::Tensor labels = logits.argmax(1);
    const at::Tensor half = at::softmax(logits.to(at::kFloat), 1).to(at::kHalf).contiguous();
    const auto* bits = reinterpret_cast<const std::uint16_t*>(half.data_ptr<at::Half>());
    std::int64_t label_diffs = 0, prob_diffs = 0;
    for (std::int64_t i = 0; i < 2000; ++i) label_diffs += p->labels[i] != labels[i].item<std::int64_t>();
    for (std::int64_t i = 0; i < half.numel(); ++i) prob_diffs += p->probs[i] != bits[i];
    CHECK(label_diffs == 0);
    CHECK(prob_diffs == 0);
  }
  // Weight-only int8 of the same model changes some answers: it is a different model.
  const auto int8 = store.predictions("int8", 0, "test", false);
  REQUIRE(int8);
  CHECK(int8->labels.size() == 2000);
}

TEST_CASE("K checkpoints are K models, and checkpoints of another architecture are refused", "[engine][pretrained]") {
  const fs::path dir = scratch("checkpoints");
  const std::string two = fmt::format("arch = \"torchscript\"\ncheckpoints = [\"{0}/model_seed0.pt\", \"{0}/model_seed1.pt\"]",
                                      exported().string());
  write_text(dir / "p.toml", pipeline(two, kPrune50));
  REQUIRE(cli({"run", (dir / "p.toml").string(), "-o", (dir / "run").string(), "-q"}, dir / "log") == 0);
  const auto store = compaudit::store::Store::open((dir / "run").string(), compaudit::store::Store::Access::read_only);
  const auto a = store.predictions("dense", 0, "test", true), b = store.predictions("dense", 1, "test", true);
  REQUIRE((a && b));
  CHECK(a->probs != b->probs);  // two trained seeds, not one model twice
  CHECK(store.run().settings["model"]["pretrained"] == true);

  write_text(dir / "bad.toml", pipeline(fmt::format("arch = \"torchscript\"\ncheckpoints = [\"{}/model_seed0.pt\", \"{}/tiny_mlp.pt\"]",
                                                    exported().string(), COMPAUDIT_ENGINE_FIXTURES), kPrune50));
  CHECK(cli({"run", (dir / "bad.toml").string(), "-o", (dir / "bad-run").string(), "-q"}, dir / "bad.log") == 4);
  CHECK(read_text(dir / "bad.log").find("tiny_mlp.pt is not the architecture of") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "bad-run" / "results.sqlite"));
}

TEST_CASE("Saved predictions with NaN, the wrong width, rows, dtype or K are refused before any work",
          "[engine][pretrained][fault]") {
  const fs::path dir = scratch("bad-predictions");
  const std::string make = fmt::format(R"(/usr/bin/python3 -c "
import numpy as np
x = np.load('{0}/dense_logits.npy')
nan = x.copy(); nan[17, 3] = np.nan; np.save('{1}/nan.npy', nan)
np.save('{1}/wide.npy', np.concatenate([x, x[:, :1]], 1))
np.save('{1}/rows.npy', x[:-1])
np.save('{1}/ints.npy', x.argmax(1).reshape(-1, 1).repeat(10, 1))
np.save('{1}/k3.npy', np.stack([x, x, x]))
")",
                                       exported().string(), dir.string());
  REQUIRE(std::system(make.c_str()) == 0);
  const struct {
    const char* file;
    const char* message;
  } cases[] = {{"nan.npy", "row 17 holds NaN or infinite values"},
               {"wide.npy", "expected 2000 rows (the test file's examples) of 10 classes"},
               {"rows.npy", "expected 2000 rows"},
               {"ints.npy", "is not floating point"},
               {"k3.npy", "holds 3 models, but the pipeline has K = 1 seeds"}};
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.file) {
      const fs::path file = dir / c.file;
      write_text(dir / "p.toml", pipeline(one_model(), fmt::format("[[arm]]\nname = \"elsewhere\"\npredictions = \"{}\"\n",
                                                                 file.string())));
      const fs::path run = dir / (std::string("run-") + c.file);
      const fs::path log = dir / (std::string(c.file) + ".log");
      CHECK(cli({"run", (dir / "p.toml").string(), "-o", run.string(), "-q"}, log) == 4);
      const std::string text = read_text(log);
      INFO(text);
      CHECK(text.find(file.string()) != std::string::npos);  // names the file
      CHECK(text.find(c.message) != std::string::npos);
      CHECK_FALSE(fs::exists(run / "results.sqlite"));  // nothing started, nothing to lose
    }
  }
}

TEST_CASE("Gates pass or fail the run with exit code 8, and `check` decides again from the store",
          "[engine][pretrained][gates]") {
  const fs::path dir = scratch("gates");
  const std::string arms = R"(
[[arm]]
name = "prune"
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.95
)";
  // top-1 of the 95 %-pruned model is far below 0.99 and above 0.0; a misspelt statistic fails closed.
  write_text(dir / "fail.toml", pipeline(one_model(), arms, R"(
[[gate]]
name = "accuracy-floor"
metric = "org.compaudit.metric.top1"
statistic = "top1_mean"
min = 0.99

[[gate]]
metric = "org.compaudit.metric.top1"
statistic = "top1_mean"
min = 0.0
)"));
  CHECK(cli({"run", (dir / "fail.toml").string(), "-o", (dir / "fail").string(), "-q"}, dir / "fail.log") == 8);
  CHECK(read_text(dir / "fail.log").find("FAIL accuracy-floor  arm prune  top1_mean") != std::string::npos);
  CHECK(cli({"check", (dir / "fail").string()}, dir / "check.log") == 8);
  const std::string check = read_text(dir / "check.log");
  CHECK(check.find("PASS top1.top1_mean  arm prune") != std::string::npos);
  CHECK(check.find("gates: FAILED (1 of 2 failed)") != std::string::npos);
  const auto report = nlohmann::json::parse(read_text(dir / "fail" / "report.json"));
  CHECK(report["gates"]["passed"] == false);
  CHECK(read_text(dir / "fail" / "report.html").find("Gates FAILED (1 of 2)") != std::string::npos);

  write_text(dir / "typo.toml", pipeline(one_model(), arms, R"(
[[gate]]
metric = "org.compaudit.metric.top1"
statistic = "top1_maen"
max = 1.0
)"));
  CHECK(cli({"run", (dir / "typo.toml").string(), "-o", (dir / "typo").string(), "-q"}, dir / "typo.log") == 8);
  CHECK(read_text(dir / "typo.log").find("the metric reports no 'top1_maen'") != std::string::npos);

  write_text(dir / "pass.toml", pipeline(one_model(), arms, R"(
[[gate]]
metric = "org.compaudit.metric.top1"
statistic = "top1_mean"
max = 1.0
)"));
  CHECK(cli({"run", (dir / "pass.toml").string(), "-o", (dir / "pass").string(), "-q"}, dir / "pass.log") == 0);
  CHECK(cli({"check", (dir / "pass").string()}, dir / "check-pass.log") == 0);
  CHECK(read_text(dir / "check-pass.log").find("gates: passed (1 of 1)") != std::string::npos);
}

TEST_CASE("init = reset gives each seed PyTorch's default initialisation, and the same seed the same weights",
          "[engine][pretrained][init]") {
  // Through the engine's own loader: fc1 of tiny_mlp.pt is Linear(64, 32), so U(-1/8, 1/8) for weight and bias.
  auto weights = [](std::uint64_t seed) {
    auto m = compaudit::models::load_torchscript_model(std::string(COMPAUDIT_ENGINE_FIXTURES) + "/tiny_mlp.pt");
    compaudit::models::reset_torchscript_parameters(*m, seed);
    std::map<std::string, at::Tensor> out;
    for (const auto& [name, t] : m->named_parameters()) out[name] = t.detach().clone();
    return out;
  };
  const auto a = weights(1), a2 = weights(1), b = weights(2);
  for (const auto& [name, t] : a) {
    INFO(name);
    CHECK(at::equal(t, a2.at(name)));
    CHECK_FALSE(at::equal(t, b.at(name)));
  }
  const double bound1 = 1.0 / 8.0, bound2 = 1.0 / std::sqrt(32.0);
  CHECK(a.at("fc1.weight").abs().max().item<double>() <= bound1);
  CHECK(a.at("fc1.bias").abs().max().item<double>() <= bound1);
  CHECK(a.at("fc2.weight").abs().max().item<double>() <= bound2);
  // Uniform on (-b, b): standard deviation b / sqrt(3); 2,048 draws put it within a few percent.
  CHECK(a.at("fc1.weight").std().item<double>() == Approx(bound1 / std::sqrt(3.0)).epsilon(0.05));
  // Not the file's weights.
  auto file = compaudit::models::load_torchscript_model(std::string(COMPAUDIT_ENGINE_FIXTURES) + "/tiny_mlp.pt");
  CHECK_FALSE(at::equal(file->named_parameters().front().second, a.at("fc1.weight")));
}

TEST_CASE("The walkthrough's pipeline (docs/from-pytorch.md) runs as committed, and --examples writes its table",
          "[engine][pretrained][walkthrough]") {
  // The committed pipeline, beside the exported files as the walkthrough lays them out (out/ next to the .toml).
  const fs::path dir = scratch("walkthrough");
  fs::create_directories(dir / "out");
  for (const char* f : {"model.pt", "fashion_test.npz", "int8_dynamic_logits.npy"})
    fs::copy_file(exported() / f, dir / "out" / f);
  fs::copy_file(fs::path(COMPAUDIT_SOURCE_DIR) / "examples" / "from-pytorch" / "pretrained-audit.toml",
                dir / "pretrained-audit.toml");
  CHECK(cli({"validate", (dir / "pretrained-audit.toml").string()}, dir / "validate.log") == 0);
  CHECK(read_text(dir / "validate.log").find("statistics: paired tests per model pair") != std::string::npos);
  const int rc = cli({"run", (dir / "pretrained-audit.toml").string(), "-q"}, dir / "run.log");
  const std::string log = read_text(dir / "run.log");
  INFO(log);
  CHECK((rc == 0 || rc == 8));  // the gates decide; either way every cell and metric is there
  const fs::path run = dir / "runs" / "from-pytorch";
  const auto report = nlohmann::json::parse(read_text(run / "report.json"));
  CHECK(report["run"]["cells"]["done"] == 4);
  CHECK(report["gates"]["count"] == 9);
  CHECK((rc == 8) == (report["gates"]["passed"] == false));
  CHECK(log.find("paired tests against the reference") != std::string::npos);
  const std::string html = read_text(run / "report.html");
  CHECK(html.find("Paired tests: each model against its compressed twin") != std::string::npos);
  CHECK(html.find("Recall change per class, with 95% paired-bootstrap intervals") != std::string::npos);

  REQUIRE(cli({"report", run.string(), "--examples", (dir / "changed.csv").string()}, dir / "report.log") == 0);
  const std::string csv = read_text(dir / "changed.csv");
  CHECK(csv.rfind("metric,arm,reference,seed,id,label,label_name,ref_pred,cand_pred,ref_conf,cand_conf,kl,flip\n", 0) == 0);
  CHECK(csv.find(",negative\n") != std::string::npos);
  CHECK(csv.find("org.compaudit.metric.flips,prune70,dense,0,") != std::string::npos);
  // The run's own files are never an export target.
  CHECK(cli({"report", run.string(), "--examples", (run / "results.sqlite").string()}, dir / "refuse.log") == 6);
  CHECK(fs::file_size(run / "results.sqlite") > 0);
}

TEST_CASE("At K = 1 a population test is refused by validate, with the paired tests named instead",
          "[engine][pretrained][fault]") {
  const fs::path dir = scratch("k1-welch");
  write_text(dir / "p.toml", pipeline(one_model(), "[[arm]]\nname = \"q\"\n  [[arm.step]]\n  plugin = \"org.compaudit.quantize.ptq\"\n",
                                      "[[metric]]\nplugin = \"org.compaudit.metric.recall_welch\"\n"));
  CHECK(cli({"validate", (dir / "p.toml").string()}, dir / "log") == 4);
  const std::string log = read_text(dir / "log");
  CHECK(log.find("needs K >= 2 (this pipeline has K = 1)") != std::string::npos);
  CHECK(log.find("org.compaudit.metric.flips") != std::string::npos);
}

TEST_CASE("Saved predictions alone: the reference and the candidate given as outputs, no model at all",
          "[engine][pretrained][predictions]") {
  const fs::path dir = scratch("outputs-only");
  write_text(dir / "p.toml", pipeline(fmt::format("predictions = \"{}/dense_logits.npy\"", exported().string()),
                                      fmt::format("[[arm]]\nname = \"onnx-int8\"\npredictions = \"{}/int8_dynamic_logits.npy\"\n",
                                                  exported().string()),
                                      "[[metric]]\nplugin = \"org.compaudit.metric.flips\"\n"));
  REQUIRE(cli({"run", (dir / "p.toml").string(), "-o", (dir / "run").string(), "-q"}, dir / "log") == 0);
  const auto store = compaudit::store::Store::open((dir / "run").string(), compaudit::store::Store::Access::read_only);
  CHECK_FALSE(store.blob("dense", 0, "state").has_value());  // no model, so no state
  // The flips metric recounts, from the two files, what numpy counts from them.
  const at::Tensor ref = compaudit::engine::read_npy((exported() / "dense_logits.npy").string()).argmax(1);
  const at::Tensor cand = compaudit::engine::read_npy((exported() / "int8_dynamic_logits.npy").string()).argmax(1);
  const at::Tensor y = compaudit::engine::read_npz((exported() / "fashion_test.npz").string()).at("y_test");
  const double negative = ((ref == y) & (cand != y)).sum().item<double>() / 2000.0;
  const compaudit::store::MetricResult* flips = nullptr;
  const auto metrics = store.metrics();
  for (const auto& m : metrics)
    if (m.metric_id == "org.compaudit.metric.flips" && m.arm == "onnx-int8") flips = &m;
  REQUIRE(flips);
  CHECK(flips->result["summary"]["negative_flip_rate"].get<double>() == Approx(negative).margin(1e-12));
  // There is no model to export.
  CHECK(cli({"export", (dir / "run").string(), "--arm", "onnx-int8", "--seed", "0", "-o", (dir / "m.pt").string()},
            dir / "export.log") == 4);
  CHECK(read_text(dir / "export.log").find("was given as saved predictions") != std::string::npos);
}
