// [attribution] and [search] end to end on Fashion-MNIST (Debian's dataset-fashion-mnist) through the real engine
// library: the store holds the "attribution" record (layers by harm) and the "search" record (trials, a chosen
// configuration that passed, its [[arm]] TOML). Then the guarantee that makes the searched arm's test results a
// verdict: the search never reads the test split's labels — a run whose test labels are all wrong (poisoned) searches
// exactly as the first, while its test-split results differ. Last, the printed [[arm]] pasted into a pipeline gives
// the searched arm's model bit for bit.
#include "engine_lib.h"
#include "stored_state.h"
#include "test_helpers.h"

#include "support/skip.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <sstream>

using namespace compaudit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

bool fashion_present() {
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"})
    if (!fs::exists(kFashion + f)) return false;
  return true;
}

/// The audit: K = 1, a 784-64-10 MLP on 3,000 training images (600 of them the validation split), 1,000 test images.
/// Five epochs, not two: after two the model hardly predicts Shirt, pruning everything at 0.95 *raises* Shirt's
/// recall and the search ends at its first configuration; after five Shirt is learnt and the gate binds (the search
/// relaxes both layers over about ten trials). Each run takes about 3 s. `tables`: the arms and analysis tables.
std::string pipeline(const std::string& name, const std::string& test_labels, const std::string& tables) {
  return fmt::format(R"([audit]
name = "{}"
seeds = 1

[data]
format = "idx"
train = "{}train-images-idx3-ubyte.gz"
train_labels = "{}train-labels-idx1-ubyte.gz"
test = "{}t10k-images-idx3-ubyte.gz"
test_labels = "{}"
train_limit = 3000
test_limit = 1000
validation_fraction = 0.2
class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]

[model]
arch = "mlp"
hidden = [64]

[training]
epochs = 5
batch_size = 64
lr = 0.05
threads = 1

[[metric]]
plugin = "org.compaudit.metric.flips"

[[metric]]
plugin = "org.compaudit.metric.paired_bootstrap"
critical_class = 6

[report]
formats = ["json"]
{})",
                     name, kFashion, kFashion, kFashion, test_labels, tables);
}

/// A pruned arm attributed, the Shirt gate, and the search.
const std::string kSearchTables = R"(
[[arm]]
name = "prune"
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.9

[[gate]]
name = "shirt-recall"
arm = "searched"
metric = "org.compaudit.metric.paired_bootstrap"
statistic = "recall_drop_upper"
class = "Shirt"
max = 0.05

[attribution]
arms = ["prune"]
critical_class = "Shirt"
examples = 5

[search]
plugin = "org.compaudit.prune.magnitude"
parameter = "sparsity"
values = [0.95, 0.9, 0.7, 0.5]
critical_class = "Shirt"
)";

json blob_json(const store::Store& s, const std::string& arm, const std::string& name) {
  const auto bytes = s.blob(arm, 0, name);
  REQUIRE(bytes.has_value());
  return json::parse(bytes->begin(), bytes->end());
}

/// Runs `text` as a pipeline into dir/run; every cell must be done (a gate of the searched arm on the test split may
/// fail: that is the verdict, not an error of the run).
store::Store run(const fs::path& dir, const std::string& text) {
  fs::create_directories(dir);
  engine_test::write_text(dir / "pipeline.toml", text);
  const int rc = engine_test::run_pipeline((dir / "pipeline.toml").string(), (dir / "run").string());
  INFO(dir.string());
  REQUIRE((rc == host::exit_ok || rc == host::exit_gate_failed));
  store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  for (const auto& c : s.cells()) {
    INFO(c.arm << " seed " << c.seed << ": " << c.error);
    CHECK(store::to_string(c.status) == std::string("done"));
  }
  return s;
}

/// The test labels with every label moved to the next class, as a plain (not gzipped) IDX1 file.
void write_poisoned_labels(const fs::path& path) {
  gzFile in = gzopen((kFashion + "t10k-labels-idx1-ubyte.gz").c_str(), "rb");
  REQUIRE(in != nullptr);
  std::vector<std::uint8_t> raw(8 + 10000);
  const int got = gzread(in, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(in);
  REQUIRE(got == static_cast<int>(raw.size()));
  std::vector<std::uint8_t> out;
  engine_test::put_be32(out, 0x00000801);
  engine_test::put_be32(out, 10000);
  for (std::size_t i = 8; i < raw.size(); ++i) out.push_back(static_cast<std::uint8_t>((raw[i] + 1) % 10));
  engine_test::write_bytes(path, out);
}

void check_same_state(const engine_test::State& a, const engine_test::State& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [key, tensor] : a) {
    INFO(key);
    REQUIRE(b.count(key) == 1);
    CHECK(tensor.equal(b.at(key)));
  }
}

}  // namespace

TEST_CASE("Attribution and search run end to end, the search never reads the test labels, its arm TOML reproduces it",
          "[engine][analysis][search][e2e]") {
  COMPAUDIT_SKIP_UNLESS(fashion_present(),
                        "Fashion-MNIST (Debian's dataset-fashion-mnist) not found in " + kFashion);
  const auto dir = engine_test::scratch_dir("search-pipeline");
  const std::string labels = kFashion + "t10k-labels-idx1-ubyte.gz";
  const store::Store first = run(dir / "clean", pipeline("search-clean", labels, kSearchTables));

  // --- the attribution record: every compressed layer, most harmful first ---
  const json attribution = blob_json(first, "prune", "attribution");
  INFO(attribution.dump(1));
  REQUIRE(!attribution.contains("error"));
  CHECK(attribution["arm"] == "prune");
  CHECK(attribution["reference"] == "dense");
  CHECK(attribution["split"] == "test");
  CHECK(attribution["examples_total"] == 1000);
  CHECK(attribution["critical_class"] == json({{"index", 6}, {"name", "Shirt"}}));
  REQUIRE(attribution["layers"].size() == 2);  // fc1, fc2 (global pruning at 0.9 touches both)
  REQUIRE(attribution["arm_totals"]["critical_negative_flips"].get<int>() > 0);  // damage to explain
  for (std::size_t i = 0; i < attribution["layers"].size(); ++i) {
    const auto& l = attribution["layers"][i];
    REQUIRE(l["harm"].is_number());
    if (i > 0) CHECK(attribution["layers"][i - 1]["harm"].get<double>() >= l["harm"].get<double>());
    CHECK(l["output_error"]["relative_l2"].get<double>() > 0);
    CHECK(l["flipped_examples"].size() <= 5);
  }

  // --- the search record: trials, a chosen configuration that passed, its [[arm]] ---
  const json search = blob_json(first, "searched", "search");
  {
    INFO(search.dump(1));
    CHECK(search["split"] == "validation");
    CHECK(search["layers"] == json({"fc1", "fc2"}));
    REQUIRE(search["trials"].size() > 1);
    REQUIRE(search["passed"] == true);
    REQUIRE(search["chosen"].is_number_integer());
    const json& chosen = search["trials"][search["chosen"].get<std::size_t>()];
    CHECK(chosen["passed"] == true);
    for (const auto& t : search["trials"])
      if (t["passed"] == true) CHECK(chosen["stored_bytes"].get<double>() <= t["stored_bytes"].get<double>());
    // The arm as TOML: one [[arm.step]] per compressed layer, with that layer's value.
    const toml::table doc = toml::parse(search["arm_toml"].get<std::string>());
    const toml::array* arms = doc["arm"].as_array();
    REQUIRE(arms != nullptr);
    REQUIRE(arms->size() == 1);
    const toml::table& arm = *arms->get(0)->as_table();
    CHECK(arm["name"].value<std::string>() == "searched");
    const toml::array* steps = arm["step"].as_array();
    REQUIRE(steps != nullptr);
    std::map<std::string, double> compressed;
    for (const auto& [layer, value] : chosen["config"].items())
      if (!value.is_null()) compressed[layer] = value.get<double>();
    REQUIRE(!compressed.empty());  // the gate leaves room for some compression
    // The cell's model is the configuration the search judged (built again as a chain of per-layer steps).
    const auto cell = first.cell("searched", 0);
    REQUIRE(cell);
    CHECK(cell->size["nonzeros"] == chosen["nonzeros"]);
    CHECK(cell->size["parameters"] == chosen["parameters"]);
    REQUIRE(steps->size() == compressed.size());
    for (const auto& node : *steps) {
      const toml::table& step = *node.as_table();
      CHECK(step["plugin"].value<std::string>() == "org.compaudit.prune.magnitude");
      const toml::array* layers = step["layers"].as_array();
      REQUIRE((layers != nullptr && layers->size() == 1));
      const std::string layer = layers->get(0)->value<std::string>().value_or("");
      REQUIRE(compressed.count(layer) == 1);
      CHECK(step["sparsity"].value<double>() == compressed[layer]);
    }
  }

  // --- poisoned test labels: the same search, other test results ---
  const fs::path poisoned = dir / "t10k-labels-poisoned-idx1-ubyte";
  write_poisoned_labels(poisoned);
  const store::Store second = run(dir / "poisoned", pipeline("search-poisoned", poisoned.string(), kSearchTables));
  const json search2 = blob_json(second, "searched", "search");
  CHECK(search2["trials"] == search["trials"]);  // configs, validation statistics, gates
  CHECK(search2["chosen"] == search["chosen"]);
  CHECK(search2["arm_toml"] == search["arm_toml"]);
  check_same_state(engine_test::final_state(first, "searched", 0), engine_test::final_state(second, "searched", 0));
  int compared = 0;
  for (const auto& m1 : first.metrics())
    for (const auto& m2 : second.metrics())
      if (m1.arm == "searched" && m2.arm == "searched" && m1.metric_index == m2.metric_index) {
        INFO(m1.metric_id);
        CHECK(m1.result["summary"] != m2.result["summary"]);  // the poisoning reached the test split
        ++compared;
      }
  CHECK(compared == 2);
  const auto p1 = first.predictions("searched", 0, "test"), p2 = second.predictions("searched", 0, "test");
  REQUIRE((p1 && p2));
  CHECK(p1->true_prob != p2->true_prob);

  // --- the printed [[arm]], renamed and pasted into a pipeline, gives the searched model ---
  toml::table pasted = toml::parse(search["arm_toml"].get<std::string>());
  pasted["arm"].as_array()->get(0)->as_table()->insert_or_assign("name", "pasted");
  std::ostringstream pasted_text;
  pasted_text << pasted;
  const store::Store third = run(dir / "pasted", pipeline("search-pasted", labels, "\n" + pasted_text.str() + "\n"));
  check_same_state(engine_test::final_state(first, "searched", 0), engine_test::final_state(third, "pasted", 0));
  const auto p3 = third.predictions("pasted", 0, "test");
  REQUIRE(p3);
  CHECK(p3->labels == p1->labels);
  CHECK(p3->probs == p1->probs);
}
