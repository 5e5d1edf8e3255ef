// org.compaudit.compress.classdep — class-dependent compression (Entezari & Saukh, "Class-dependent compression of
// deep neural networks").
//
// Iterative pruning with rewinding (as org.compaudit.prune.lottery) whose retraining favours one critical class:
//  * the loss is cross entropy weighted per class: `pos_weight` for the critical class and 1 for the others, or
//    explicit `class_weights`; plus, if `ranking_weight` > 0, a ranking term
//        mean over critical examples i of softplus(max_j s_j - s_i),  j over the other examples of the batch,
//    where s is the critical class's log-odds, pushing positive scores above the largest negative one;
//  * the pruning score is |w| ("magnitude") or the magnitude increase |w_final| - |w_init| ("increase", w_init at
//    initialisation);
//  * in every round the epoch with the best validation ROC AUC of the critical class (ties: average ranks, as
//    sklearn's roc_auc_score) is kept.
// Goal: the critical class's false negatives stay near the dense model's as sparsity rises, at the cost of more
// false positives.
//
//     [[arm.step]]
//     plugin = "org.compaudit.compress.classdep"
//     critical_class = 0          # breast cancer: 0 = malignant
//     sparsity = [0.5, 0.8, 0.9]
//     pos_weight = 5.0
//     ranking_weight = 0.5
//     score = "increase"
//
// Details recorded: per round {round, sparsity, best_epoch, best_auc, aucs, false_negatives, false_positives}
// on the validation split, and per-layer sparsity at the end.
#include "classdep_manifest.h"  // generated from manifests/classdep.toml
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>

namespace compaudit::compressors {


class ClassDependentCompression final : public Compressor {
 public:
  static constexpr const char* kId = classdep_manifest::id;

  explicit ClassDependentCompression(const Params& params) : options_(params) {}

  CompressionRecord compress(Model& model, CompressionContext& context) override {
    const int classes = context.num_classes();
    const auto c = options_.critical_class;
    if (c >= classes)
      throw Error(ErrorCode::parameters, fmt::format("{}: critical_class = {} but the data has {} classes", kId, c, classes));
    if (!options_.class_weights.empty() && static_cast<int>(options_.class_weights.size()) != classes)
      throw Error(ErrorCode::parameters, fmt::format("{}: class_weights has {} entries for {} classes", kId,
                                                     options_.class_weights.size(), classes));
    at::Tensor weights = options_.class_weights.empty() ? at::ones({classes}, at::kFloat)
                                                        : at::tensor(options_.class_weights, at::kDouble).to(at::kFloat);
    if (options_.class_weights.empty()) weights[c] = options_.pos_weight;

    const std::vector<Layer> layers = select_layers(model, options_.selection(), kId);
    const auto point = context.rewind_point(options_.rewind_step);
    std::map<std::string, at::Tensor> init;
    if (options_.score == "increase")
      for (auto& [name, t] : context.rewind_point(0)) init[name] = t;

    nlohmann::json rounds = nlohmann::json::array();
    for (std::int64_t r = 1; r <= options_.rounds; ++r) {
      const double target = 1.0 - std::pow(1.0 - options_.sparsity, double(r) / double(options_.rounds));
      const std::vector<Layer> current = select_layers(model, options_.selection(), kId);
      std::vector<at::Tensor> scores;
      for (const auto& l : current)  // |w_final| - |w_init|: weights that grew in training matter
        if (options_.score == "increase") scores.push_back(l.weight.detach().abs() - init.at(l.name + ".weight").abs());
      const std::int64_t pruned = prune_to(model, current, target, options_.scope == "global", scores);
      rewind_parameters(model, point, kId);
      nlohmann::json round = train_best_epoch(model, context, weights);
      round["round"] = r, round["sparsity"] = target, round["pruned"] = pruned;
      context.log(fmt::format("classdep round {}/{}: sparsity {:.3f}, best validation AUC {:.4f} (epoch {})", r,
                              options_.rounds, target, round["best_auc"].get<double>(), round["best_epoch"].get<int>()));
      rounds.push_back(std::move(round));
    }
    CompressionRecord record;
    record.details["critical_class"] = c;
    record.details["class_weights"] = std::vector<float>(weights.data_ptr<float>(), weights.data_ptr<float>() + classes);
    record.details["score"] = options_.score;
    record.details["rounds"] = rounds;
    record.details["layers"] = mask_json(model, layers);
    record.summary = fmt::format("class-dependent pruning to {:.1f}% for class {} (weight {:g}): validation AUC {:.4f}, "
                                 "{} false negatives", 100 * options_.sparsity, c, weights[c].item<double>(),
                                 rounds.back()["best_auc"].get<double>(), rounds.back()["false_negatives"].get<int>());
    return record;
  }

 private:
  // Trains `epochs` with the class-weighted loss and keeps the parameters of the epoch whose validation AUC of the
  // critical class is highest.
  nlohmann::json train_best_epoch(Model& model, CompressionContext& context, const at::Tensor& weights) {
    const auto c = options_.critical_class;
    const double ranking = options_.ranking_weight;
    double best = -1.0;
    int best_epoch = -1;
    std::vector<std::pair<std::string, at::Tensor>> best_params;
    nlohmann::json aucs = nlohmann::json::array(), counts;
    TrainRequest request;
    request.epochs = static_cast<int>(options_.epochs);
    request.loss = [&](const at::Tensor& logits, const at::Tensor& targets) {
      at::Tensor loss = at::cross_entropy_loss(logits, targets, weights.to(logits.scalar_type()));
      const at::Tensor pos = targets.eq(c);
      if (ranking > 0 && pos.any().item<bool>() && (~pos).any().item<bool>()) {
        // log-odds of the critical class: s = z_c - logsumexp(z_j, j != c)
        const at::Tensor others = logits.index_fill(1, at::tensor({c}), -std::numeric_limits<float>::infinity());
        const at::Tensor s = logits.select(1, c) - others.logsumexp(1);
        loss = loss + ranking * at::softplus(s.masked_select(~pos).max() - s.masked_select(pos)).mean();
      }
      return loss;
    };
    request.on_epoch = [&](const TrainingProgress& p) {
      const Evaluation e = context.evaluate("validation");
      const at::Tensor positive = e.targets.eq(c), predicted = e.probabilities.argmax(1).eq(c);
      double auc = roc_auc(e.probabilities.select(1, c), positive);
      if (std::isnan(auc)) auc = 0.5;  // a validation split without both outcomes ranks nothing
      aucs.push_back(auc);
      if (auc > best) {
        best = auc, best_epoch = p.epoch, best_params.clear();
        for (const auto& [name, t] : model.named_parameters()) best_params.emplace_back(name, t.detach().clone());
        counts = {{"false_negatives", (positive & ~predicted).sum().item<int>()},
                  {"false_positives", (~positive & predicted).sum().item<int>()}};
      }
    };
    const double loss = context.train(request);
    if (!best_params.empty()) rewind_parameters(model, best_params, kId);
    nlohmann::json out = {{"best_epoch", best_epoch}, {"best_auc", best}, {"aucs", aucs}, {"loss", loss}};
    out.update(counts);
    return out;
  }

  const classdep_manifest::Options options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN_MANIFEST(compaudit::compressors::ClassDependentCompression, classdep_manifest)
