// org.compaudit.prune.gradual — gradual magnitude pruning during training (Zhu & Gupta, "To prune, or not to prune").
//
// The scheme drives training through CompressionContext::train and takes part in it with an on_step callback: the
// sparsity follows the cubic schedule
//     s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))^3        for t0 <= t <= t1
// and the masks are recomputed (magnitude, global or layerwise, pruned weights stay pruned) every `frequency`
// optimizer steps and at t1. t0 and t1 are the fractions `begin` and `end` of the steps of the `epochs` trained.
// Training continues after t1 at the final sparsity, so the network recovers. This is also the pattern for any
// third-party scheme that must act during training: build a TrainRequest, do the work in on_step / on_epoch.
//
//     [[arm.step]]
//     plugin = "org.compaudit.prune.gradual"
//     final_sparsity = [0.7, 0.9]
//     epochs = 4
//     frequency = 20          # mask update every 20 steps (Δt)
//     end = 0.75              # reach final_sparsity after 75% of the steps
//
// Details recorded: the schedule (step, target sparsity, pruned weights) at every update, t0, t1, per-layer
// sparsity at the end and the last epoch's loss.
#include "prune_gradual_manifest.h"  // generated from manifests/prune_gradual.toml
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>

namespace compaudit::compressors {
namespace manifest = prune_gradual_manifest;

/// The Zhu & Gupta cubic schedule, clamped to [s_i, s_f] outside [t0, t1].
inline double cubic_sparsity(std::int64_t t, std::int64_t t0, std::int64_t t1, double si, double sf) {
  if (t <= t0) return si;
  if (t >= t1) return sf;
  const double x = 1.0 - static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
  return sf + (si - sf) * x * x * x;
}

class GradualPruning final : public Compressor {
 public:
  explicit GradualPruning(const Params& params) : options_(params) {
    if (options_.begin >= options_.end)
      throw Error(ErrorCode::parameters,
                  fmt::format("{}: begin = {} must be below end = {}", manifest::id, options_.begin, options_.end));
    if (options_.initial_sparsity > options_.final_sparsity)
      throw Error(ErrorCode::parameters, fmt::format("{}: initial_sparsity = {} is above final_sparsity = {}",
                                                     manifest::id, options_.initial_sparsity, options_.final_sparsity));
  }

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection(), manifest::id);
    const bool global = options_.scope == "global";
    nlohmann::json schedule = nlohmann::json::array();
    auto update = [&](std::int64_t step, double target) {
      // Re-read the layers: the host may have replaced tensors (never shapes) since compress() began.
      const std::int64_t pruned =
          prune_to(model, select_layers(model, options_.selection(), manifest::id), target, global);
      schedule.push_back({{"step", step}, {"target", target}, {"pruned", pruned}});
    };
    if (options_.initial_sparsity > 0) update(0, options_.initial_sparsity);

    std::int64_t t0 = -1, t1 = -1;
    TrainRequest request;
    request.epochs = static_cast<int>(options_.epochs);
    request.on_step = [&](const TrainingProgress& p) {
      if (t0 < 0) {  // total_steps is known once training runs
        t0 = count_for(options_.begin, p.total_steps);
        t1 = std::max<std::int64_t>(t0 + 1, count_for(options_.end, p.total_steps));
      }
      const std::int64_t t = p.step;
      if (t > t0 && t <= t1 && ((t - t0) % options_.frequency == 0 || t == t1))
        update(t, cubic_sparsity(t, t0, t1, options_.initial_sparsity, options_.final_sparsity));
    };
    const double loss = context.train(request);
    if (schedule.empty() || schedule.back()["target"].get<double>() < options_.final_sparsity)
      update(-1, options_.final_sparsity);  // training was shorter than t1: finish the schedule now

    CompressionRecord record;
    record.details["schedule"] = std::move(schedule);
    record.details["t0"] = t0;
    record.details["t1"] = t1;
    record.details["final_loss"] = loss;
    record.details["layers"] = mask_json(model, layers);
    std::int64_t total = 0, pruned = 0;
    for (const auto& l : record.details["layers"]) {
      total += l["parameters"].get<std::int64_t>();
      pruned += l["pruned"].get<std::int64_t>();
    }
    record.summary = fmt::format("gradual {} pruning to {:.1f}% over {} epochs ({} mask updates, steps {}..{})",
                                 options_.scope, 100.0 * static_cast<double>(pruned) / static_cast<double>(total),
                                 options_.epochs, record.details["schedule"].size(), t0, t1);
    return record;
  }

 private:
  const manifest::Options options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN_MANIFEST(compaudit::compressors::GradualPruning, prune_gradual_manifest)
