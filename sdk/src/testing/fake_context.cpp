// testing::FakeContext (compaudit/testing.h): the host's CompressionContext services over a FakeModel and one
// batch of data, with plain full-batch SGD.
#include <compaudit/error.h>
#include <compaudit/testing.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>

namespace compaudit::testing {

namespace {
NamedTensors copies(const NamedTensors& from) {
  NamedTensors out;
  for (const auto& [name, t] : from) out.emplace_back(name, t.detach().clone());
  return out;
}
}  // namespace

FakeContext::FakeContext(FakeModel& model, std::int64_t seed, int num_classes)
    : model_(model), seed_(seed), num_classes_(num_classes) {
  rewind_points_[0] = copies(model.named_parameters());
}

void FakeContext::set_data(const at::Tensor& inputs, const at::Tensor& targets) {
  if (inputs.size(0) != targets.size(0))
    throw Error(ErrorCode::runtime, fmt::format("FakeContext::set_data: {} inputs but {} targets", inputs.size(0),
                                                targets.size(0)));
  inputs_ = inputs.to(at::kFloat).clone();
  targets_ = targets.to(at::kLong).clone();
}

void FakeContext::set_rewind_point(std::int64_t step, const NamedTensors& parameters) {
  rewind_points_[step] = copies(parameters);
}

int FakeContext::num_classes() const {
  if (num_classes_ > 0) return num_classes_;
  const std::vector<Layer> layers = model_.layers();
  return layers.empty() ? 0 : static_cast<int>(layers.back().weight.size(0));
}

double FakeContext::train(const TrainRequest& request) {
  if (request.epochs < 0) throw Error(ErrorCode::runtime, "TrainRequest.epochs is negative");
  ++train_calls;
  if (!inputs_.defined()) return 0.0;  // no data: a no-op that only counts the call
  TrainingProgress progress;
  progress.epochs = request.epochs;
  progress.total_steps = static_cast<std::int64_t>(request.epochs) * steps_per_epoch;
  double last_epoch_mean = 0.0;
  for (int e = 0; e < request.epochs; ++e) {
    progress.epoch = e;
    double sum = 0.0;
    for (int s = 0; s < steps_per_epoch; ++s) {
      const at::Tensor logits = model_.forward(inputs_);
      const at::Tensor loss = request.loss ? request.loss(logits, targets_) : at::cross_entropy_loss(logits, targets_);
      loss.backward();
      {
        at::NoGradGuard no_grad;
        for (at::Tensor& p : model_.trainable_parameters()) {
          if (!p.grad().defined()) continue;
          p.sub_(p.grad() * learning_rate);
          p.mutable_grad().zero_();
        }
      }
      model_.after_step();  // masks, then every-step projections: the host's order
      ++steps;
      ++progress.step;
      progress.last_loss = loss.item<double>();
      sum += progress.last_loss;
      if (request.on_step) request.on_step(progress);
    }
    last_epoch_mean = sum / std::max(1, steps_per_epoch);
    if (request.on_epoch) request.on_epoch(progress);
  }
  model_.after_training();
  return last_epoch_mean;
}

Evaluation FakeContext::evaluate(const std::string& split) {
  if (split != "train" && split != "validation" && split != "test")
    throw Error(ErrorCode::runtime, "evaluate: unknown split '" + split + "' (train, validation or test)");
  if (!inputs_.defined()) throw Error(ErrorCode::runtime, "FakeContext::evaluate: call set_data first");
  at::NoGradGuard no_grad;
  return {at::softmax(model_.forward(inputs_), 1), targets_.clone()};
}

std::vector<std::pair<std::string, at::Tensor>> FakeContext::rewind_point(std::int64_t step) {
  rewinds.push_back(step);
  auto it = rewind_points_.find(step);
  if (it == rewind_points_.end())
    throw Error(ErrorCode::runtime, fmt::format("FakeContext: no rewind point for step {} (set_rewind_point)", step));
  return copies(it->second);
}

at::Tensor FakeContext::calibration_batch(std::int64_t n) {
  if (!inputs_.defined()) throw Error(ErrorCode::runtime, "FakeContext::calibration_batch: call set_data first");
  return inputs_.slice(0, 0, std::min(n, inputs_.size(0))).clone();
}

}  // namespace compaudit::testing
