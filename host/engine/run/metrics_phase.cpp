#include "run/metrics_phase.h"

#include "run/executor.h"
#include "run/memorization_phase.h"
#include "run/store_io.h"

#include <compaudit/error.h>
#include <compaudit/metric.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

namespace compaudit::engine {
namespace {

/// A [rows, n] uint8 tensor from a stored blob, or undefined when the blob is absent or not a whole number of rows.
at::Tensor matrix_blob(const store::Store& store, const char* name, std::int64_t n) {
  auto bytes = store.blob("", 0, name);
  if (!bytes || n <= 0 || bytes->empty() || bytes->size() % static_cast<std::size_t>(n) != 0) return {};
  const auto rows = static_cast<std::int64_t>(bytes->size()) / n;
  return at::tensor(*bytes, at::kByte).view({rows, n});
}

}  // namespace

void measure(const host::Pipeline& pipeline, const DataSplits& data, PluginSet& plugins, store::Store& store,
             Progress& progress, int delay_ms) {
  store.clear_metrics();
  std::map<std::string, std::vector<std::int64_t>> done;  // arm -> done seeds in pipeline order
  for (std::int64_t seed : pipeline.seeds)
    for (const auto& arm : pipeline.arms)
      if (auto c = store.cell(arm.name, seed); c && c->status == store::CellStatus::done)
        done[arm.name].push_back(seed);

  const EvalData eval{"test", data.test.targets, data.num_classes, data.class_names};
  at::Tensor mem;
  at::Tensor membership, test_correct;  // undefined for a store written before they were recorded
  if (auto scores = store.memorization("train")) {
    mem = at::tensor(std::vector<float>(scores->begin(), scores->end()), at::kFloat);
    try {
      membership = matrix_blob(store, kMembershipBlob, mem.numel());
      test_correct = matrix_blob(store, kTestCorrectBlob, data.test.size());
    } catch (const Error& e) {  // a corrupt record costs the influence estimate, not the metrics
      membership = test_correct = at::Tensor();
      store.log("warning", std::string("memorization subset records unreadable, no influence estimate: ") + e.what());
    }
  }

  for (std::size_t i = 0; i < pipeline.metrics.size(); ++i) {
    const auto& spec = pipeline.metrics[i];
    const int index = static_cast<int>(i);
    auto put = [&](const std::string& arm, const std::string& ref, nlohmann::json result, std::string error) {
      if (delay_ms > 0)  // durability tests only (host::TestHooks)
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      store.put_metric({index, spec.plugin, arm, ref, std::move(result), std::move(error)});
    };
    std::shared_ptr<Metric> metric;
    MetricNeeds needs;
    try {
      metric = plugins.metric(spec, &needs);
    } catch (const std::exception& e) {
      for (const auto& arm : pipeline.arms) put(arm.name, reference_arm(pipeline, arm), nullptr, e.what());
      progress.note(fmt::format("metric {} failed: {}", spec.plugin, e.what()));
      continue;
    }
    for (const auto& arm : pipeline.arms) {
      const std::string ref = reference_arm(pipeline, arm);
      try {
        // Pair by seed: only seeds whose cells are done in both populations.
        std::vector<std::int64_t> seeds;
        for (std::int64_t s : done[arm.name])
          if (std::count(done[ref].begin(), done[ref].end(), s)) seeds.push_back(s);
        if (seeds.empty()) throw Error(ErrorCode::runtime, "no finished cells to compare (" + arm.name + " vs " + ref + ")");
        const Population reference = load_population(store, ref, "test", seeds, needs.probabilities);
        const Population candidate =
            arm.name == ref ? reference : load_population(store, arm.name, "test", seeds, needs.probabilities);
        MetricExtras extras;
        Population ref_train, cand_train;
        if (needs.memorization) {
          if (!mem.defined())
            throw Error(ErrorCode::pipeline, "metric needs memorization scores: add a [memorization] table",
                        spec.where);
          ref_train = load_population(store, ref, "train", seeds, false);
          cand_train = arm.name == ref ? ref_train : load_population(store, arm.name, "train", seeds, false);
          extras.memorization = mem;
          extras.reference_train = &ref_train;
          extras.candidate_train = &cand_train;
          extras.train_targets = data.train.targets;
          extras.memorization_models = pipeline.memorization.models;
          extras.memorization_subsets_per_example = subsets_per_example(pipeline.memorization);
          extras.memorization_fraction = pipeline.memorization.fraction;
          extras.memorization_membership = membership;
          extras.memorization_test_correct = test_correct;
        }
        nlohmann::json result = host::guarded(spec.plugin, "compute", [&] {
          return metric->compute(MetricInput{eval, reference, candidate, extras});
        });
        if (result.is_object()) result["reference"] = ref;  // which population it was measured against
        put(arm.name, ref, std::move(result), "");
      } catch (const std::exception& e) {
        put(arm.name, ref, nullptr, e.what());
        progress.note(fmt::format("metric {} on {} failed: {}", spec.plugin, arm.name, e.what()));
      }
    }
  }
}

}  // namespace compaudit::engine
