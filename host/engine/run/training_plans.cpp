#include "run/training_plans.h"

namespace compaudit::engine {

TrainingPlans::TrainingPlans(const host::Pipeline& pipeline, const DataSplits& data,
                             const AugmentationHook* augmentation, Teacher teacher)
    : pipeline_(pipeline), data_(data), augmentation_(augmentation), teacher_(std::move(teacher)) {}

TrainPlan TrainingPlans::dense(std::int64_t seed) const {
  TrainPlan plan;
  plan.settings = pipeline_.training;
  plan.epochs = pipeline_.training.epochs;
  plan.seed = derive_seed(seed, "dense");
  plan.augmentation = augmentation_;
  plan.num_classes = data_.num_classes;
  plan.is_image = data_.is_image;
  return plan;
}

TrainPlan TrainingPlans::finetune(std::int64_t seed, int epochs, const std::string& purpose) {
  TrainPlan plan = dense(seed);
  plan.epochs = epochs;
  plan.seed = derive_seed(seed, purpose);
  if (augmentation_) {
    // The teacher of a difficulty policy is this seed's dense model; asked for lazily, only if the policy asks.
    finetune_hook_.apply = augmentation_->apply;
    finetune_hook_.teacher = [this, seed](const at::Tensor& x) { return teacher_(seed, x); };
    plan.augmentation = &finetune_hook_;
  }
  return plan;
}

}  // namespace compaudit::engine
