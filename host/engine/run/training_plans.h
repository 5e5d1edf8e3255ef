// host/engine/run/training_plans.h — how each model of a run is trained: the dense plan of seed k, and the
// fine-tuning plan every arm of seed k shares (so a control and the compressed arms see the same batches).
#pragma once

#include "data/dataset.h"
#include "training/trainer.h"

#include <compaudit/host/pipeline.h>

#include <cstdint>
#include <functional>
#include <string>

namespace compaudit::engine {

class TrainingPlans {
 public:
  /// The teacher's probabilities for seed k (its dense model), asked for only when an augmentation policy asks.
  using Teacher = std::function<at::Tensor(std::int64_t seed, const at::Tensor& inputs)>;
  /// `augmentation`: the pipeline's policy (run/plugin_set.h) or nullptr. The references must outlive this.
  TrainingPlans(const host::Pipeline& pipeline, const DataSplits& data, const AugmentationHook* augmentation,
                Teacher teacher);

  /// The dense training plan of `seed` (also re-run for its first steps to rewind). Thread-safe.
  TrainPlan dense(std::int64_t seed) const;
  /// The fine-tuning plan of `seed` with `epochs` epochs and the random stream of `purpose`. With an augmentation
  /// policy the plan points at this object's one teacher hook, set for `seed`: use the plan before the next call
  /// (the executor makes and trains such models one at a time, under its host lock).
  TrainPlan finetune(std::int64_t seed, int epochs, const std::string& purpose);

 private:
  const host::Pipeline& pipeline_;
  const DataSplits& data_;
  const AugmentationHook* augmentation_;
  Teacher teacher_;
  AugmentationHook finetune_hook_;  // the policy with seed k's dense model as its teacher
};

}  // namespace compaudit::engine
