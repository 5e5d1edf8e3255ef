#include "run/memorization_phase.h"

#include "batched/batched_train.h"
#include "batched/subset_train.h"
#include "run/scheduler.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

namespace compaudit::engine {

int subsets_per_example(const host::MemorizationSpec& spec) {
  return std::clamp(static_cast<int>(std::lround(spec.fraction * spec.models)), 1, std::max(1, spec.models - 1));
}

namespace {

/// "" when the memorization models can train as stacks (batched/subset_train.h), else why not.
std::string memorization_alone(const std::vector<std::unique_ptr<models::TrainableModel>>& models,
                               const std::vector<TrainPlan>& plans, const at::Tensor& probe) {
  std::vector<models::TrainableModel*> all;
  for (const auto& m : models) all.push_back(m.get());
  for (const auto& p : plans)
    if (std::string why = batched::batchable_plan(p); !why.empty()) return why;
  return batched::batchable_models(all, probe);  // built-in MLPs and CNNs
}

}  // namespace

void memorize(const host::Pipeline& pipeline, const DataSplits& data, const ModelSource& source,
              const TrainingPlans& training, int chains, store::Store& store, Progress& progress) {
  const auto& spec = pipeline.memorization;
  if (!spec.enabled || store.memorization("train")) return;
  const int T = spec.models;
  if (T < 2) throw Error(ErrorCode::pipeline, "[memorization] models must be at least 2", {pipeline.path});
  // Every training point is in exactly m of the T subsets (subsets_per_example), chosen at random per point. Each
  // subset then holds about a fraction m/T of the data, and mem[i] is always defined.
  const int m = subsets_per_example(spec);
  const std::int64_t n = data.train.size();
  std::vector<std::vector<char>> in(static_cast<std::size_t>(T), std::vector<char>(static_cast<std::size_t>(n), 0));
  std::mt19937_64 rng(derive_seed(pipeline.data.split_seed, "memorization/subsets"));
  std::vector<int> order(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < n; ++i) {
    std::iota(order.begin(), order.end(), 0);
    for (int j = 0; j < m; ++j) std::swap(order[j], order[j + rng() % (T - j)]);
    for (int j = 0; j < m; ++j) in[order[j]][i] = 1;
  }
  const int epochs = spec.epochs > 0 ? spec.epochs : pipeline.training.epochs;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<models::TrainableModel>> models(static_cast<std::size_t>(T));
  std::vector<TrainPlan> plans(static_cast<std::size_t>(T));
  std::vector<at::Tensor> subsets(static_cast<std::size_t>(T));
  for (int t = 0; t < T; ++t) {
    std::vector<std::int64_t> rows;
    for (std::int64_t i = 0; i < n; ++i)
      if (in[t][i]) rows.push_back(i);
    subsets[t] = at::tensor(rows, at::kLong);
    const std::int64_t model_seed = 1000000 + t;
    at::manual_seed(derive_seed(model_seed, "memorization"));
    models[t] = source.new_model(model_seed);
    plans[t] = training.dense(model_seed);
    plans[t].epochs = epochs;
    plans[t].seed = derive_seed(model_seed, "memorization");
  }
  // correct[t][i]: model t classifies training example i correctly; test_correct[t]: the same on the test split.
  std::vector<at::Tensor> correct(static_cast<std::size_t>(T)), test_correct(static_cast<std::size_t>(T));
  const auto score = [&](int t, const at::Tensor& probs, const at::Tensor& test_probs) {
    correct[t] = probs.argmax(1).eq(data.train.targets).to(at::kDouble).contiguous();
    test_correct[t] = test_probs.argmax(1).eq(data.test.targets).to(at::kByte).contiguous();
  };
  const std::string why_alone = memorization_alone(models, plans, data.train.inputs.slice(0, 0, 8));
  if (why_alone.empty()) {
    // Population batching (batched/subset_train.h): two fixed halves of the T models, each one stack, in parallel
    // on two chains when the run has them. Fixed halves, not one stack per chain, so the estimate has the same bits
    // at any --threads.
    progress.start(fmt::format("memorization: {} models in two stacks", T));
    const auto train_half = [&](int lo, int hi) {
      std::vector<models::TrainableModel*> stack;
      for (int t = lo; t < hi; ++t) stack.push_back(models[t].get());
      batched::train_on_subsets(stack, data.train, {subsets.begin() + lo, subsets.begin() + hi},
                                {plans.begin() + lo, plans.begin() + hi});
      const auto probs = batched::predict_population(stack, data.train.inputs);
      const auto test_probs = batched::predict_population(stack, data.test.inputs);
      for (int t = lo; t < hi; ++t)
        score(t, probs[static_cast<std::size_t>(t - lo)], test_probs[static_cast<std::size_t>(t - lo)]);
    };
    const int half = (T + 1) / 2;
    // Two tasks: on two chains when the run has them, else one after the other on this thread.
    run_on_chains(2, chains > 1 ? 2 : 1, [&](std::size_t h) { h == 0 ? train_half(0, half) : train_half(half, T); });
  } else {
    store.log("info", "memorization models trained one at a time: " + why_alone);
    for (int t = 0; t < T; ++t) {
      progress.start(fmt::format("memorization model {}/{}", t + 1, T));
      Dataset subset{data.train.inputs.index_select(0, subsets[t]), data.train.targets.index_select(0, subsets[t]),
                     {}, {}};
      train_model(*models[t], subset, plans[t]);
      score(t, predict_probabilities(*models[t], data.train.inputs),
            predict_probabilities(*models[t], data.test.inputs));
    }
  }
  std::vector<double> sum_in(n, 0), sum_out(n, 0);
  for (int t = 0; t < T; ++t) {
    const double* c = correct[t].data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) (in[t][i] ? sum_in : sum_out)[i] += c[i];
  }
  std::vector<float> mem(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) mem[i] = static_cast<float>(sum_in[i] / m - sum_out[i] / (T - m));
  std::vector<std::uint8_t> membership, tested;
  for (int t = 0; t < T; ++t) {
    membership.insert(membership.end(), in[t].begin(), in[t].end());
    const std::uint8_t* c = test_correct[t].data_ptr<std::uint8_t>();
    tested.insert(tested.end(), c, c + test_correct[t].numel());
  }
  store.transaction([&] {  // all or nothing: a run resumed after a crash sees the scores only with their records
    store.put_blob("", 0, kMembershipBlob, membership);
    store.put_blob("", 0, kTestCorrectBlob, tested);
    store.put_memorization("train", mem);
  });
  progress.finish(fmt::format("memorization ({} models)", T), true,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace compaudit::engine
