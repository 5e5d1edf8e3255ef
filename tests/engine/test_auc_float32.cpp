// The critical-class AUC is computed on float32 probabilities: the store keeps fp16 predictions,
// where 0.99990 and 0.99995 both round to 1.0, so the engine keeps each cell's float32 test probabilities beside them
// and metrics get those. The oracle is scikit-learn's roc_auc_score on the float32 values of the saved files.
#include "engine_lib.h"
#include "test_helpers.h"

#include "support/skip.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace compaudit;
namespace fs = std::filesystem;

namespace {

// 400 test rows of two classes; class 1's probability lies in [0.99990, 0.99995] (multiples of 1e-7, which float32
// tells apart and fp16 does not), higher on average for true class-1 rows. Rows [1 - p, p] sum to exactly 1 in
// float32 (1 - p is exact near 1), so the engine reads them as probabilities unchanged.
const char* kScript = R"PY(
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score
out = sys.argv[1]
rng = np.random.default_rng(13)
n = 400
y = np.arange(n) % 2
def probs(shift):
    u = rng.integers(0, 500, size=n) + shift * y
    p = (0.99990 + np.minimum(u, 500) * 1e-7).astype(np.float32)
    return np.stack([np.float32(1) - p, p], 1).astype(np.float32)
dense, cand = probs(150), probs(60)
np.save(f"{out}/dense.npy", dense)
np.save(f"{out}/cand.npy", cand)
with open(f"{out}/test.csv", "w") as f:
    for i in range(n):
        f.write(f"{i % 7},{i % 5},{y[i]}\n")
res = {}
for name, p in (("dense", dense), ("cand", cand)):
    res[name] = roc_auc_score(y, p[:, 1].astype(np.float64))
    res[name + "_fp16"] = roc_auc_score(y, p[:, 1].astype(np.float16).astype(np.float64))
print(json.dumps(res))
)PY";

}  // namespace

TEST_CASE("The critical-class AUC is sklearn's on the float32 probabilities, not on their fp16 copies",
          "[engine][auc]") {
  COMPAUDIT_SKIP_UNLESS(std::system("/usr/bin/python3 -c 'import sklearn, numpy' 2>/dev/null") == 0,
                        "python3-sklearn / numpy not installed");
  const auto dir = engine_test::scratch_dir("auc-float32");
  engine_test::write_text(dir / "make.py", kScript);
  const nlohmann::json oracle =
      nlohmann::json::parse(engine_test::shell(fmt::format("/usr/bin/python3 {} {}", (dir / "make.py").string(),
                                                           dir.string())));
  // The case is one fp16 gets wrong: it ties every probability, sklearn's float32 AUC does not.
  REQUIRE(std::abs(oracle["cand"].get<double>() - oracle["cand_fp16"].get<double>()) > 0.05);

  engine_test::write_text(dir / "p.toml", fmt::format(R"([audit]
name = "auc-float32"

[data]
format = "csv"
train = "{0}/test.csv"  # required by the csv format; nothing is trained (the arms are saved outputs)
test = "{0}/test.csv"
header = false

[model]
predictions = "{0}/dense.npy"

[[arm]]
name = "cand"
predictions = "{0}/cand.npy"

[[metric]]
plugin = "org.compaudit.metric.critical_class"
positive_class = 1
)", dir.string()));
  REQUIRE(engine_test::run_pipeline((dir / "p.toml").string(), (dir / "run").string()) == host::exit_ok);

  const store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  const nlohmann::json* result = nullptr;
  const auto metrics = s.metrics();
  for (const auto& m : metrics)
    if (m.metric_id == "org.compaudit.metric.critical_class" && m.arm == "cand") result = &m.result;
  REQUIRE(result != nullptr);
  const nlohmann::json& models = (*result)["models"];
  CHECK(models["reference"][0]["auc"].get<double>() == Approx(oracle["dense"].get<double>()).margin(1e-12));
  CHECK(models["candidate"][0]["auc"].get<double>() == Approx(oracle["cand"].get<double>()).margin(1e-12));
}
