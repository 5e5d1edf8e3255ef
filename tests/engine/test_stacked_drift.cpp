// The generated drift test of population batching: every registered stacked architecture
// (batched/stacked_architecture.h) x every optimizer of the table (training/optimizers.h) x every combination of the
// options that optimizer offers (each off / at its default and on / non-default: momentum, weight decay, Adam's
// betas; Nesterov when an optimizer offers it), on several shapes per architecture, for 30 steps.
//
// The stack (StackedTrainer: the architecture's written-out backward, the table's fused step) against the oracle:
// copies of the same models, each through its own forward() with autograd, the mean cross entropy of its batch
// (training/cross_entropy.h), the optimizer's torch::optim twin (one per model, as train_model has) and
// apply_masks(). Same batches, same learning rates. Every fourth step goes through step_models instead: the
// models' batches differ in size and one model skips the step (the memorization models' path: padding for a stack
// that computes all models in one pass, per-model batches otherwise), so the models' step counts part.
//
// Tolerance: the one of the stacks' step-by-step tests (test_batched.cpp, test_batched_cnn.cpp): 1e-5 per parameter,
// the same zeros. The stack does the arithmetic in another order (other product kernels, sums in another order, no
// FMA in the fused step), ~1e-7 relative per operation; a real bug (a wrong gradient, option, mask, step count or
// learning rate) moves parameters by far more.
//
// Adding an architecture: its shapes in kShapes (the test fails for a registered architecture without any).
// Adding an optimizer or an option: nothing here unless the option is new (variants(), a switch over the options).
#include "population_helpers.h"

#include "batched/stacked_architecture.h"
#include "batched/stacked_trainer.h"
#include "training/cross_entropy.h"
#include "training/optimizers.h"
#include "training/trainer.h"

#include <compaudit/models/models.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace compaudit;
using namespace compaudit::engine;
using namespace engine_test;  // population_helpers.h

namespace {

struct Shape {
  std::vector<std::int64_t> hidden;  ///< as [model].hidden
  std::vector<std::int64_t> input;   ///< one example's shape
  int classes = 0;
  std::int64_t models = 0, batch = 0;
};

// The shapes each registered architecture is tried on.
const std::map<std::string, std::vector<Shape>> kShapes{
    {"mlp", {{{32, 16}, {16}, 4, 3, 20}, {{24}, {3, 5}, 3, 2, 7}, {{8, 8, 8}, {10}, 5, 4, 1}}},
    {"cnn", {{{4, 6}, {2, 6, 6}, 4, 3, 20}, {{3}, {1, 8, 8}, 5, 2, 7}, {{2, 3}, {3, 4, 4}, 3, 2, 4}}},
};

constexpr int kSteps = 30;
constexpr double kParameterTolerance = 1e-5;

// Learning rates of the usual magnitude per optimizer (decayed per step); 0.01 for one the test does not know.
double base_lr(const std::string& optimizer) {
  if (optimizer == "sgd") return 0.05;
  if (optimizer == "adam") return 0.005;
  return 0.01;
}

// An option's two settings: off (or torch::optim's default) and on (non-default).
std::vector<std::pair<std::string, void (*)(OptimizerHyper&)>> variants(OptimizerOption option) {
  switch (option) {
    case OptimizerOption::momentum:
      return {{"momentum 0", [](OptimizerHyper& h) { h.momentum = 0; }},
              {"momentum 0.9", [](OptimizerHyper& h) { h.momentum = 0.9; }}};
    case OptimizerOption::weight_decay:
      return {{"weight decay 0", [](OptimizerHyper& h) { h.weight_decay = 0; }},
              {"weight decay 5e-3", [](OptimizerHyper& h) { h.weight_decay = 5e-3; }}};
    case OptimizerOption::betas:
      return {{"betas default", [](OptimizerHyper& h) { h.beta1 = 0.9, h.beta2 = 0.999; }},
              {"betas (0.8, 0.99)", [](OptimizerHyper& h) { h.beta1 = 0.8, h.beta2 = 0.99; }}};
  }
  FAIL("an option without variants in the drift test");
  return {};
}

// Every combination of the entry's options' variants: (description, hyper-parameters).
std::vector<std::pair<std::string, OptimizerHyper>> combinations(const OptimizerEntry& entry, double lr) {
  std::vector<std::pair<std::string, OptimizerHyper>> out{{entry.name, OptimizerHyper{}}};
  out.front().second.lr = lr;
  for (OptimizerOption option : entry.honours) {
    std::vector<std::pair<std::string, OptimizerHyper>> next;
    for (const auto& [text, hyper] : out)
      for (const auto& [name, set] : variants(option)) {
        OptimizerHyper h = hyper;
        set(h);
        next.push_back({text + ", " + name, h});
      }
    out = std::move(next);
  }
  return out;
}

// K models of `arch` / `shape`: all but the last magnitude-pruned (bool masks), model 0 with a float mask on its
// first layer's bias, so the stack holds bool, float and missing masks.
Models start_models(const std::string& arch, const Shape& shape) {
  Models out;
  for (std::int64_t k = 0; k < shape.models; ++k) {
    out.push_back(models::make_builtin_model(arch, shape.hidden, shape.input, shape.classes, 100 + k));
    if (k + 1 < shape.models) prune(*out.back(), 0.5);
  }
  const Layer first = out.front()->layers().front();
  out.front()->set_mask(first.name + ".bias", at::full(first.bias.sizes(), 0.5));
  return out;
}

// The largest absolute difference between the stacked and the oracle models' parameters; checks the same zeros.
double compare(const Models& stacked, const Models& oracle, const Models& start, double& moved) {
  double worst = 0;
  for (std::size_t i = 0; i < stacked.size(); ++i) {
    const auto a = stacked[i]->named_parameters(), b = oracle[i]->named_parameters(), s = start[i]->named_parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t j = 0; j < a.size(); ++j) {
      INFO("model " << i << ", " << a[j].first);
      worst = std::max(worst, (a[j].second - b[j].second).abs().max().item<double>());
      CHECK(at::equal(a[j].second.eq(0), b[j].second.eq(0)));  // masked weights are +0 in both
      moved = std::max(moved, (a[j].second - s[j].second).abs().max().item<double>());
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("Every stacked architecture x optimizer x option trains as autograd with its torch::optim twin does",
          "[engine][batched][drift]") {
  at::set_num_threads(1);
  for (const auto& arch : batched::stacked_architectures()) {
    INFO("architecture " << arch.name);
    const auto shapes = kShapes.find(arch.name);
    REQUIRE(shapes != kShapes.end());  // a registered architecture needs shapes here
    for (const Shape& shape : shapes->second) {
      INFO("hidden " << shape.hidden.size() << " layers, K = " << shape.models << ", B = " << shape.batch);
      const std::int64_t K = shape.models, B = shape.batch;
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(17);
      std::vector<std::int64_t> data_shape{97};
      data_shape.insert(data_shape.end(), shape.input.begin(), shape.input.end());
      const at::Tensor inputs = at::randn(data_shape, gen);
      const at::Tensor targets = at::randint(shape.classes, {97}, gen, at::kLong);
      const Models start = start_models(arch.name, shape);

      for (const auto& entry : optimizers()) {
        for (const auto& [what, hyper] : combinations(entry, base_lr(entry.name))) {
          INFO(what);
          Models stacked = clones(start), oracle = clones(start);
          const auto stack = batched::pack(raw(stacked));
          batched::StackedTrainer trainer(*stack, OptimizerSettings{&entry, hyper});
          std::vector<std::unique_ptr<torch::optim::Optimizer>> opts;
          for (auto& m : oracle) {
            m->train(true);
            auto params = m->parameters_for_optimizer();
            for (auto& p : params) p.requires_grad_(true);
            opts.push_back(entry.torch(params, hyper));
          }
          for (int step = 0; step < kSteps; ++step) {
            const double lr = hyper.lr / (1 + 0.1 * step);
            // Model k's batch at this step: b_k rows of the data, from its own offset.
            const bool uneven = step % 4 == 3;
            std::vector<at::Tensor> xs(static_cast<std::size_t>(K)), ys(static_cast<std::size_t>(K));
            std::vector<double> lrs(static_cast<std::size_t>(K));
            for (std::int64_t k = 0; k < K; ++k) {
              const std::int64_t b = uneven ? std::max<std::int64_t>(1, B - k) : B;
              if (uneven && k == (step / 4) % K) continue;  // this model skips the step
              const at::Tensor rows = (at::arange(b, at::kLong) + (step * K + k) * B) % inputs.size(0);
              xs[k] = inputs.index_select(0, rows);
              ys[k] = targets.index_select(0, rows);
              lrs[k] = uneven ? lr * (1 + 0.1 * static_cast<double>(k)) : lr;
            }
            if (uneven) {
              trainer.step_models(xs, ys, lrs);
            } else {
              trainer.step(at::stack(xs, 0), at::stack(ys, 0), lr);
            }
            for (std::int64_t k = 0; k < K; ++k) {
              if (!xs[k].defined()) continue;
              auto& opt = *opts[static_cast<std::size_t>(k)];
              set_lr(opt, lrs[k]);
              opt.zero_grad();
              cross_entropy_per_example(oracle[static_cast<std::size_t>(k)]->forward(xs[k]), ys[k]).mean().backward();
              opt.step();
              at::NoGradGuard no_grad;
              oracle[static_cast<std::size_t>(k)]->apply_masks();
            }
          }
          stack->unpack(raw(stacked));
          double moved = 0;
          const double worst = compare(stacked, oracle, start, moved);
          INFO("largest parameter difference " << worst << ", largest move " << moved);
          CHECK(worst < kParameterTolerance);
          CHECK(moved > 1e-2);  // training moved the models (not a no-op that trivially matches)
          if (std::getenv("COMPAUDIT_DRIFT_VERBOSE"))
            std::printf("%s %s K=%lld B=%lld: %s: max diff %.3g, moved %.3g\n", arch.name.c_str(),
                        shape.input.size() == 1 ? "flat" : "image", static_cast<long long>(K),
                        static_cast<long long>(B), what.c_str(), worst, moved);
        }
      }
    }
  }
}
