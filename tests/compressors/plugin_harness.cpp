#include "plugin_harness.h"

#include <ATen/ATen.h>

#include <fstream>

namespace compaudit::testing {

nlohmann::json fixture(const std::string& file) {
  std::ifstream in(COMPAUDIT_FIXTURE_DIR "/" + file);
  if (!in) throw std::runtime_error("missing fixture " + file);
  return nlohmann::json::parse(in);
}

at::Tensor fixture_tensor(const nlohmann::json& shape, const nlohmann::json& values) {
  return at::tensor(values.get<std::vector<double>>(), at::kDouble).reshape(shape.get<std::vector<std::int64_t>>());
}

TestContext::TestContext(models::TrainableModel& model, int classes, std::int64_t features, int batches, int batch)
    : model_(model), classes_(classes), batches_(batches), batch_(batch) {
  at::Generator gen = at::detail::createCPUGenerator(1234);
  const at::Tensor centers = at::randn({classes, features}, gen) * 2.0;
  auto draw = [&](std::int64_t n, at::Tensor& x, at::Tensor& y) {
    y = at::arange(n, at::kLong).remainder(classes);
    x = centers.index_select(0, y) + at::randn({n, features}, gen);
  };
  draw(static_cast<std::int64_t>(batches) * batch, x_, y_);
  draw(4L * classes * 10, vx_, vy_);
  for (const auto& [name, t] : model.named_parameters()) initial_.emplace_back(name, t.detach().clone());
}

double TestContext::train(const TrainRequest& request) {
  TrainingProgress progress;
  progress.epochs = request.epochs;
  progress.total_steps = static_cast<std::int64_t>(request.epochs) * batches_;
  double loss_sum = 0.0;
  for (int e = 0; e < request.epochs; ++e) {
    progress.epoch = e;
    loss_sum = 0.0;
    for (int b = 0; b < batches_; ++b) {
      const at::Tensor x = x_.slice(0, b * batch_, (b + 1) * batch_), y = y_.slice(0, b * batch_, (b + 1) * batch_);
      const at::Tensor logits = model_.forward(x);
      at::Tensor loss = request.loss ? request.loss(logits, y) : at::cross_entropy_loss(logits, y);
      loss.backward();
      {
        at::NoGradGuard no_grad;
        for (auto& p : model_.parameters_for_optimizer()) {
          if (!p.grad().defined()) continue;
          p.sub_(p.grad() * 0.1);
          p.mutable_grad().zero_();
        }
      }
      model_.apply_masks();
      ++progress.step;
      progress.last_loss = loss.item<double>();
      loss_sum += progress.last_loss;
      steps_seen.push_back(progress.step);
      if (request.on_step) request.on_step(progress);
    }
    ++epochs_trained;
    if (request.on_epoch) request.on_epoch(progress);
  }
  return loss_sum / batches_;
}

Evaluation TestContext::evaluate(const std::string& split) {
  at::NoGradGuard no_grad;
  const bool train = split == "train";
  return {at::softmax(model_.forward(train ? x_ : vx_), 1), train ? y_ : vy_};
}

std::vector<std::pair<std::string, at::Tensor>> TestContext::rewind_point(std::int64_t step) {
  rewinds.push_back(step);
  return initial_;  // the tests only check that the step is passed through and the values restored
}

at::Tensor TestContext::calibration_batch(std::int64_t n) { return x_.slice(0, 0, std::min(n, x_.size(0))); }

}  // namespace compaudit::testing
