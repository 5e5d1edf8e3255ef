// org.compaudit.prune.lottery — iterative magnitude pruning with rewinding (Frankle & Carbin's lottery tickets;
// rewinding to step k as in Frankle et al., "Linear mode connectivity and the lottery ticket hypothesis").
//
// Starting from the trained dense model, each of `rounds` rounds prunes a fraction of the remaining weights
// (so that round r reaches 1 - (1 - sparsity)^(r / rounds)), rewinds every parameter to its value at step
// `rewind_step` of the dense model's training (0 = initialisation; the host's CompressionContext::rewind_point),
// keeps the mask, and retrains for `epochs`. The last round's retraining gives the final ticket.
// Parameters must still have the dense model's shapes: put this step before any structured pruning.
//
//     [[arm.step]]
//     plugin = "org.compaudit.prune.lottery"
//     sparsity = [0.8, 0.9]
//     rounds = 3
//     epochs = 2                  # retraining epochs per round
//     rewind_step = 0             # or k > 0: "late rewinding"
//
// Details recorded: per round {round, sparsity, pruned, loss}, the rewind step, per-layer sparsity at the end.
#include "prune_lottery_manifest.h"  // generated from manifests/prune_lottery.toml
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>

namespace compaudit::compressors {
namespace manifest = prune_lottery_manifest;

class LotteryTicket final : public Compressor {
 public:
  explicit LotteryTicket(const Params& params) : options_(params) {}

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection(), manifest::id);
    const auto point = context.rewind_point(options_.rewind_step);
    nlohmann::json rounds = nlohmann::json::array();
    double loss = 0.0;
    for (std::int64_t r = 1; r <= options_.rounds; ++r) {
      const double target = 1.0 - std::pow(1.0 - options_.sparsity, static_cast<double>(r) /
                                                                       static_cast<double>(options_.rounds));
      const std::int64_t pruned = prune_to(model, select_layers(model, options_.selection(), manifest::id), target,
                                           options_.scope == "global");
      rewind_parameters(model, point, manifest::id);
      TrainRequest request;
      request.epochs = static_cast<int>(options_.epochs);
      loss = context.train(request);
      context.log(fmt::format("lottery round {}/{}: sparsity {:.3f}, loss {:.4f}", r, options_.rounds, target, loss));
      rounds.push_back({{"round", r}, {"sparsity", target}, {"pruned", pruned}, {"loss", loss}});
    }

    CompressionRecord record;
    record.details["rounds"] = std::move(rounds);
    record.details["rewind_step"] = options_.rewind_step;
    record.details["layers"] = mask_json(model, layers);
    record.summary = fmt::format("lottery ticket: {} rounds to {:.1f}% sparsity, rewound to step {}, final loss {:.4f}",
                                 options_.rounds, 100 * options_.sparsity, options_.rewind_step, loss);
    return record;
  }

 private:
  const manifest::Options options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN_MANIFEST(compaudit::compressors::LotteryTicket, prune_lottery_manifest)
