// tests/support/digits_audit.h — the small digits audits that whole-run tests (engine, isolation, scaling, blas) run.
//
// A test that runs a whole audit needs a pipeline, and most of it is the same everywhere: scikit-learn's digits,
// a small MLP, a couple of epochs, the usual arms and metrics. DigitsAudit holds those parts, with the defaults most
// tests use; a test sets only the fields its check depends on, so what differs from the usual stays visible where
// the test is written, and toml() writes the pipeline text.
#pragma once

#include "skip.h"  // same folder

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace compaudit::test_support {

/// scikit-learn's digits (1,797 8x8 images, 10 classes), as Debian's python3-sklearn ships it. The environment
/// variable COMPAUDIT_TEST_DIGITS, read by the tests only, names another file instead: point it at a missing path to
/// see every test that needs digits report skipped (tests/README.md).
inline const std::string kDigitsCsv = [] {
  const char* override_path = std::getenv("COMPAUDIT_TEST_DIGITS");
  return std::string(override_path != nullptr && *override_path != '\0'
                         ? override_path
                         : "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz");
}();

/// Global magnitude pruning at 0.5 and 0.9 with one epoch of fine-tuning: two arms, and the dense+ft control.
inline const std::string kPruneArms = R"(
[[arm]]
name = "prune"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = [0.5, 0.9]
)";

/// Int8 post-training quantization of the weights, without fine-tuning.
inline const std::string kInt8Arm = R"(
[[arm]]
name = "int8"
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"
)";

/// First statement of a test case that runs an audit on digits: skips it (support/skip.h) when the file is missing.
#define COMPAUDIT_SKIP_UNLESS_DIGITS()                                                 \
  COMPAUDIT_SKIP_UNLESS(std::filesystem::exists(::compaudit::test_support::kDigitsCsv), \
                        "scikit-learn's digits (python3-sklearn) not found at " + ::compaudit::test_support::kDigitsCsv)

/// An arm whose plugin throws in compress(): critical class 12 on 10-class digits. Only the data tell, so `validate`
/// accepts it; its cells fail with the plugin's error while the run goes on.
inline const std::string kThrowingArm = R"(
[[arm]]
name = "broken"
  [[arm.step]]
  plugin = "org.compaudit.compress.classdep"
  critical_class = 12
  sparsity = 0.5
)";

struct DigitsAudit {
  std::string name = "digits";
  int seeds = 3;
  std::string arch = "mlp";
  std::string hidden = "[32]";       ///< [model] hidden, as TOML
  int epochs = 2;
  std::string lr = "0.05";
  bool one_thread = true;            ///< [training] threads = 1 (a run without --threads / RunRequest::threads)
  std::string arms = kPruneArms + kInt8Arm;     ///< the [[arm]] tables
  std::vector<std::string> metrics = {"top1"};  ///< org.compaudit.metric.NAME, in this order
  std::string tables;                ///< further tables after the metrics: [memorization], [report], [run]...

  std::string toml() const {
    // The validation split is the engine's default (10 % of the training set).
    std::string text = fmt::format(R"([audit]
name = "{}"
seeds = {}

[data]
format = "csv"
train = "{}"
header = false
test_fraction = 0.25

[model]
arch = "{}"
hidden = {}

[training]
epochs = {}
batch_size = 64
lr = {}
)", name, seeds, kDigitsCsv, arch, hidden, epochs, lr);
    if (one_thread) text += "threads = 1\n";
    text += arms;
    for (const std::string& m : metrics) text += fmt::format("\n[[metric]]\nplugin = \"org.compaudit.metric.{}\"\n", m);
    return text + tables;
  }
};

}  // namespace compaudit::test_support
