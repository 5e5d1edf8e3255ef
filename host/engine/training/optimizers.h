// host/engine/training/optimizers.h — the pipeline's optimizers, in one table.
//
// Each entry maps an optimizer name ([training] optimizer) to both of its implementations, which must compute the
// same arithmetic:
//   torch    the torch::optim optimizer one-at-a-time training steps (train_model, through make_optimizer);
//   fused    the stacked populations' step (batched/stacked_optimizer.h): one pass over a model's slice of a
//            parameter, fused with its mask (batched/fused_step.h); null when the stacked path has none, and then
//            a model with that optimizer trains alone (batched::batchable_plan says why).
// and lists the TrainingSpec options its arithmetic reads (`honours`) and which of them the fused step implements
// (`fused_honours`). An option the torch twin honours but the fused step does not makes a plan that sets it
// unbatchable, never silently ignored (stacked_optimizer_problem). The drift test (tests/engine/test_stacked_drift.cpp)
// is generated from this table: every optimizer x every option it offers, against its torch twin.
//
// Adding an optimizer: an entry in optimizers.cpp (and its name in host/core's [training] validation).
#pragma once

#include "batched/fused_step.h"

#include <compaudit/host/pipeline.h>

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace compaudit::engine {

/// What an optimizer step reads, in double as torch::optim keeps it. TrainingSpec sets lr, momentum and
/// weight_decay; Adam's betas and eps are torch::optim's defaults there (the drift test also tries others).
struct OptimizerHyper {
  double lr = 0, momentum = 0, weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

/// An option an optimizer may offer. momentum and weight_decay come from TrainingSpec; betas only from
/// OptimizerHyper (TrainingSpec has no such field, so pipelines always run the defaults).
enum class OptimizerOption { momentum, weight_decay, betas };

/// One model's slice of one parameter (n floats each): weights, gradient, and the entry's state buffers (m1: SGD's
/// momentum buffer or Adam's first moment, null when buffers() == 0; m2: Adam's second moment). `step`: the model's
/// 1-based step number (SGD's first momentum step, Adam's bias corrections).
using FusedStep = void (*)(float* w, const float* g, float* m1, float* m2, batched::StepMask mask, std::size_t n,
                           const OptimizerHyper& h, std::int64_t step);

struct OptimizerEntry {
  std::string name;
  std::vector<OptimizerOption> honours;        ///< options its arithmetic reads (the torch twin honours them all)
  std::vector<OptimizerOption> fused_honours;  ///< those the fused step implements too
  /// The torch::optim twin over `params`.
  std::unique_ptr<torch::optim::Optimizer> (*torch)(std::vector<at::Tensor> params, const OptimizerHyper& h);
  FusedStep fused = nullptr;                   ///< null: no stacked step (such models train one at a time)
  /// State buffers per parameter the fused step keeps (0, 1 or 2), zero-initialised.
  int (*buffers)(const OptimizerHyper& h);
};

/// Every optimizer, in the order error messages list them.
const std::vector<OptimizerEntry>& optimizers();
/// The entry named `name`; Error(pipeline) at `where` naming the known ones when there is none.
const OptimizerEntry& find_optimizer(const std::string& name, const SourceLocation& where = {});
/// A TrainingSpec's optimizer: its entry and hyper-parameters (Error(pipeline) for an unknown name).
struct OptimizerSettings {
  const OptimizerEntry* entry = nullptr;
  OptimizerHyper hyper;
};
OptimizerSettings optimizer_settings(const host::TrainingSpec& s);

/// Whether `entry` offers `option` (in `honours`).
bool offers(const OptimizerEntry& entry, OptimizerOption option);
/// "momentum", "weight_decay", "betas".
const char* option_name(OptimizerOption option);

/// "" when the stacked path implements what `s` asks of its optimizer, else why not: no fused step, or an option
/// the optimizer honours, set away from its neutral value, that the fused step does not implement. An unknown
/// optimizer is "" here (both paths throw the same Error(pipeline) for it).
std::string stacked_optimizer_problem(const host::TrainingSpec& s);

}  // namespace compaudit::engine
