// The parts of execute() around the cells: describing the run in the store, the memorization estimate, and the
// metrics over populations.
#include "run/executor_impl.h"

#include "run/store_io.h"

#include "batched/batched_train.h"
#include "batched/subset_train.h"
#include "batched/threads.h"

#include <compaudit/error.h>
#include <compaudit/metric.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>
#include <thread>

namespace compaudit::engine {

namespace {

/// m: how many of the T subsets hold each training example. Our choice (documented in docs/engine.md): every point is
/// in exactly m = round(f*T) subsets, clamped to 1..T-1 so every point has models that saw it and models that did
/// not. The realized fraction m/T can differ from f (f = 0.7, T = 8: m = 6, 0.75), so the run records both.
int subsets_per_example(const host::MemorizationSpec& spec) {
  return std::clamp(static_cast<int>(std::lround(spec.fraction * spec.models)), 1, std::max(1, spec.models - 1));
}

// The memorization models' subsets and test-split correctness, for the influence estimate (metrics/memorization):
// blobs of the run (no arm), row-major uint8 0/1 matrices [T, N_train] and [T, N_test]. Blobs, not a new table, so
// the schema stays at version 2 and a store written before them reads as it is (the influence is then unavailable).
constexpr const char* kMembershipBlob = "memorization/membership";
constexpr const char* kTestCorrectBlob = "memorization/test_correct";

/// A [rows, n] uint8 tensor from a stored blob, or undefined when the blob is absent or not a whole number of rows.
at::Tensor matrix_blob(const store::Store& store, const char* name, std::int64_t n) {
  auto bytes = store.blob("", 0, name);
  if (!bytes || n <= 0 || bytes->empty() || bytes->size() % static_cast<std::size_t>(n) != 0) return {};
  const auto rows = static_cast<std::int64_t>(bytes->size()) / n;
  return at::tensor(*bytes, at::kByte).view({rows, n});
}

}  // namespace

void Executor::describe_run() {
  if (store_.data()) return;  // resumed: already described
  nlohmann::json settings;
  settings["seeds"] = pipeline_.seeds;
  settings["formats"] = pipeline_.report.formats;
  settings["pipeline_dir"] = pipeline_dir_;
  settings["model"] = {{"arch", pipeline_.model.arch},
                       {"hidden", pipeline_.model.hidden},
                       {"path", pipeline_.model.path.empty() ? "" : resolve_model_path()},
                       {"checkpoints", pipeline_.model.checkpoints},
                       {"init", pipeline_.model.init},
                       {"pretrained", pipeline_.model.pretrained},
                       {"predictions", pipeline_.model.predictions}};
  nlohmann::json saved = nlohmann::json::object();  // arms given as saved outputs
  for (const auto& arm : pipeline_.arms)
    if (!arm.predictions.empty()) saved[arm.name] = arm.predictions;
  settings["saved_predictions"] = saved;
  settings["gates"] = gates_json(pipeline_.gates);
  if (pipeline_.attribution.enabled) settings["attribution"] = attribution_json(pipeline_.attribution);
  if (pipeline_.search.enabled) settings["search"] = search_json(pipeline_);
  const auto& t = pipeline_.training;
  settings["training"] = {{"epochs", t.epochs}, {"batch_size", t.batch_size}, {"optimizer", t.optimizer},
                          {"lr", t.lr}, {"momentum", t.momentum}, {"weight_decay", t.weight_decay},
                          {"schedule", t.schedule}, {"threads", at::get_num_threads()}};
  settings["data"] = {{"format", pipeline_.data.format}, {"train", data_.train.size()},
                      {"validation", data_.validation.size()}, {"test", data_.test.size()},
                      {"imbalance", pipeline_.data.imbalance}};
  settings["normalization"] = {{"mode", data_.normalize}, {"shift", data_.norm_shift}, {"scale", data_.norm_scale},
                               {"per", data_.is_image ? "channel" : "feature"}};
  if (pipeline_.augmentation)
    settings["augmentation"] = {{"plugin", pipeline_.augmentation->plugin},
                                {"params", to_json(pipeline_.augmentation->params)}};
  if (pipeline_.memorization.enabled)
    settings["memorization"] = {
        {"models", pipeline_.memorization.models},
        {"fraction", pipeline_.memorization.fraction},
        {"subsets_per_example", subsets_per_example(pipeline_.memorization)},
        {"realized_fraction", static_cast<double>(subsets_per_example(pipeline_.memorization)) /
                                  static_cast<double>(pipeline_.memorization.models)}};
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : pipeline_.metrics) metrics.push_back({{"plugin", m.plugin}, {"params", to_json(m.params)}});
  settings["metrics"] = metrics;
  for (const auto& [key, value] : options_.extra_settings.items()) settings[key] = value;  // scale-out: "shard"
  store_.transaction([&] {
    store_.put_run_settings(settings);
    store_.put_arms(arm_infos(pipeline_));
    store_.put_data(data_info(data_));
    const auto thumbs = test_thumbnails(data_);
    if (!thumbs.empty()) store_.put_thumbnails(thumbs);
  });
}

std::string Executor::resolve_model_path() const {
  std::filesystem::path p(pipeline_.model.path);
  return (p.is_absolute() ? p : std::filesystem::path(pipeline_dir_) / p).lexically_normal().string();
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

void Executor::memorization() {
  const auto& spec = pipeline_.memorization;
  if (!spec.enabled || store_.memorization("train")) return;
  const int T = spec.models;
  if (T < 2) throw Error(ErrorCode::pipeline, "[memorization] models must be at least 2", {pipeline_.path});
  // Every training point is in exactly m of the T subsets (subsets_per_example), chosen at random per point. Each
  // subset then holds about a fraction m/T of the data, and mem[i] is always defined.
  const int m = subsets_per_example(spec);
  const std::int64_t n = data_.train.size();
  std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(T));
  std::vector<std::vector<char>> in(static_cast<std::size_t>(T), std::vector<char>(static_cast<std::size_t>(n), 0));
  std::mt19937_64 rng(derive_seed(pipeline_.data.split_seed, "memorization/subsets"));
  std::vector<int> order(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < n; ++i) {
    std::iota(order.begin(), order.end(), 0);
    for (int j = 0; j < m; ++j) std::swap(order[j], order[j + rng() % (T - j)]);
    for (int j = 0; j < m; ++j) in[order[j]][i] = 1;
  }
  const int epochs = spec.epochs > 0 ? spec.epochs : pipeline_.training.epochs;
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
    models[t] = new_model(model_seed);
    plans[t] = dense_plan(model_seed);
    plans[t].epochs = epochs;
    plans[t].seed = derive_seed(model_seed, "memorization");
  }
  // correct[t][i]: model t classifies training example i correctly; test_correct[t]: the same on the test split.
  std::vector<at::Tensor> correct(static_cast<std::size_t>(T)), test_correct(static_cast<std::size_t>(T));
  const auto score = [&](int t, const at::Tensor& probs, const at::Tensor& test_probs) {
    correct[t] = probs.argmax(1).eq(data_.train.targets).to(at::kDouble).contiguous();
    test_correct[t] = test_probs.argmax(1).eq(data_.test.targets).to(at::kByte).contiguous();
  };
  const std::string why_alone = memorization_alone(models, plans, data_.train.inputs.slice(0, 0, 8));
  if (why_alone.empty()) {
    // Population batching (batched/subset_train.h): two fixed halves of the T models, each one stack, in parallel
    // on two chains when the run has them. Fixed halves, not one stack per chain, so the estimate has the same bits
    // at any --threads.
    progress_->start(fmt::format("memorization: {} models in two stacks", T));
    const auto train_half = [&](int lo, int hi) {
      std::vector<models::TrainableModel*> stack;
      for (int t = lo; t < hi; ++t) stack.push_back(models[t].get());
      batched::train_on_subsets(stack, data_.train, {subsets.begin() + lo, subsets.begin() + hi},
                                {plans.begin() + lo, plans.begin() + hi});
      const auto probs = batched::predict_population(stack, data_.train.inputs);
      const auto test_probs = batched::predict_population(stack, data_.test.inputs);
      for (int t = lo; t < hi; ++t)
        score(t, probs[static_cast<std::size_t>(t - lo)], test_probs[static_cast<std::size_t>(t - lo)]);
    };
    const int half = (T + 1) / 2;
    if (chain_count() > 1) {
      std::exception_ptr error;
      std::thread second([&] {
        try {
          batched::use_one_thread_here();
          train_half(half, T);
        } catch (...) {
          error = std::current_exception();
        }
      });
      // This thread is a chain for now; it gets its intra-op threads back for the metrics (as on a resumed run,
      // where the stored estimate is not recomputed).
      const int threads = at::get_num_threads();
      try {
        batched::use_one_thread_here();
        train_half(0, half);
      } catch (...) {
        second.join();
        at::set_num_threads(threads);
        throw;
      }
      second.join();
      at::set_num_threads(threads);
      if (error) std::rethrow_exception(error);
    } else {
      train_half(0, half);
      train_half(half, T);
    }
  } else {
    store_.log("info", "memorization models trained one at a time: " + why_alone);
    for (int t = 0; t < T; ++t) {
      progress_->start(fmt::format("memorization model {}/{}", t + 1, T));
      Dataset subset{data_.train.inputs.index_select(0, subsets[t]), data_.train.targets.index_select(0, subsets[t]),
                     {}, {}};
      train_model(*models[t], subset, plans[t]);
      score(t, predict_probabilities(*models[t], data_.train.inputs),
            predict_probabilities(*models[t], data_.test.inputs));
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
  store_.transaction([&] {  // all or nothing: a run resumed after a crash sees the scores only with their records
    store_.put_blob("", 0, kMembershipBlob, membership);
    store_.put_blob("", 0, kTestCorrectBlob, tested);
    store_.put_memorization("train", mem);
  });
  progress_->finish(fmt::format("memorization ({} models)", T), true,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void Executor::metrics() {
  store_.clear_metrics();
  std::map<std::string, std::vector<std::int64_t>> done;  // arm -> done seeds in pipeline order
  for (std::int64_t seed : pipeline_.seeds)
    for (const auto& arm : pipeline_.arms)
      if (auto c = store_.cell(arm.name, seed); c && c->status == store::CellStatus::done)
        done[arm.name].push_back(seed);

  const EvalData eval{"test", data_.test.targets, data_.num_classes, data_.class_names};
  at::Tensor mem;
  at::Tensor membership, test_correct;  // undefined for a store written before they were recorded
  if (auto scores = store_.memorization("train")) {
    mem = at::tensor(std::vector<float>(scores->begin(), scores->end()), at::kFloat);
    try {
      membership = matrix_blob(store_, kMembershipBlob, mem.numel());
      test_correct = matrix_blob(store_, kTestCorrectBlob, data_.test.size());
    } catch (const Error& e) {  // a corrupt record costs the influence estimate, not the metrics
      membership = test_correct = at::Tensor();
      store_.log("warning", std::string("memorization subset records unreadable, no influence estimate: ") + e.what());
    }
  }

  for (std::size_t i = 0; i < pipeline_.metrics.size(); ++i) {
    const auto& spec = pipeline_.metrics[i];
    const int index = static_cast<int>(i);
    auto put = [&](const std::string& arm, const std::string& ref, nlohmann::json result, std::string error) {
      if (options_.hooks.metric_delay_ms > 0)  // durability tests only (host::TestHooks)
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.hooks.metric_delay_ms));
      store_.put_metric({index, spec.plugin, arm, ref, std::move(result), std::move(error)});
    };
    std::shared_ptr<Metric> metric;
    MetricNeeds needs;
    try {
      const host::Manifest* manifest = registry_.find(spec.plugin);
      if (!manifest) throw Error(ErrorCode::pipeline, "metric plugin '" + spec.plugin + "' is not installed", spec.where);
      metric = loader_.instantiate_as<Metric>(*manifest, spec.params);
      // The manifest's `needs` alone (SDK 1.1, metric.h): what `validate` checked before any work is what the metric
      // gets; Metric::needs() is not called.
      for (const auto& n : manifest->needs) {
        if (n == "probabilities") needs.probabilities = true;
        if (n == "memorization") needs.memorization = true;
      }
    } catch (const std::exception& e) {
      for (const auto& arm : pipeline_.arms) put(arm.name, reference_arm(pipeline_, arm), nullptr, e.what());
      progress_->note(fmt::format("metric {} failed: {}", spec.plugin, e.what()));
      continue;
    }
    for (const auto& arm : pipeline_.arms) {
      const std::string ref = reference_arm(pipeline_, arm);
      try {
        // Pair by seed: only seeds whose cells are done in both populations.
        std::vector<std::int64_t> seeds;
        for (std::int64_t s : done[arm.name])
          if (std::count(done[ref].begin(), done[ref].end(), s)) seeds.push_back(s);
        if (seeds.empty()) throw Error(ErrorCode::runtime, "no finished cells to compare (" + arm.name + " vs " + ref + ")");
        const Population reference = load_population(store_, ref, "test", seeds, needs.probabilities);
        const Population candidate =
            arm.name == ref ? reference : load_population(store_, arm.name, "test", seeds, needs.probabilities);
        MetricExtras extras;
        Population ref_train, cand_train;
        if (needs.memorization) {
          if (!mem.defined())
            throw Error(ErrorCode::pipeline, "metric needs memorization scores: add a [memorization] table",
                        spec.where);
          ref_train = load_population(store_, ref, "train", seeds, false);
          cand_train = arm.name == ref ? ref_train : load_population(store_, arm.name, "train", seeds, false);
          extras.memorization = mem;
          extras.reference_train = &ref_train;
          extras.candidate_train = &cand_train;
          extras.train_targets = data_.train.targets;
          extras.memorization_models = pipeline_.memorization.models;
          extras.memorization_subsets_per_example = subsets_per_example(pipeline_.memorization);
          extras.memorization_fraction = pipeline_.memorization.fraction;
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
        progress_->note(fmt::format("metric {} on {} failed: {}", spec.plugin, arm.name, e.what()));
      }
    }
  }
}

}  // namespace compaudit::engine
