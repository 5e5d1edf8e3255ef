#include "analysis/search.h"

#include "training/trainer.h"

#include <compaudit/error.h>
#include <compaudit/model.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <optional>

namespace compaudit::engine::analysis {

namespace {

using nlohmann::json;

class Runner {
 public:
  explicit Runner(const SearchProblem& p) : p_(p), uncompressed_(p.values.size()) {}

  /// The trial of `config`, evaluated (predictions and size) on first request.
  std::size_t evaluate(const Config& config, const std::string& note) {
    if (auto it = index_.find(config); it != index_.end()) return it->second;
    std::vector<const LayerChange*> changes;
    for (std::size_t l = 0; l < config.size(); ++l)
      if (config[l] < uncompressed_)
        if (const auto& o = option(l, config[l])) changes.push_back(&*o);
    auto model = with_changes(*p_.reference, changes);
    at::Tensor probs = predict_probabilities(*model, *p_.inputs);
    const Outcome o = compare(p_.reference_outcome, probs);
    const ModelSize size = measure(*model);
    json cfg = json::object();
    for (std::size_t l = 0; l < config.size(); ++l)
      cfg[p_.layers[l]] = config[l] < uncompressed_ ? p_.values[config[l]] : json();
    trials_.push_back({{"id", trials_.size()},
                       {"config", cfg},
                       {"parameters", size.parameters},
                       {"nonzeros", size.nonzeros},
                       {"bytes", size.bytes},
                       {"sparse_bytes", size.sparse_bytes},
                       {"stored_bytes", stored(*model, config)},
                       {"accuracy", o.accuracy},
                       {"negative_flip_rate", o.negative_flip_rate},
                       {"critical_recall", o.critical_recall ? json(*o.critical_recall) : json()},
                       {"critical_recall_change", o.critical_recall_change ? json(*o.critical_recall_change) : json()},
                       {"damage", damage(o, p_.reference_outcome)},
                       {"gates", nullptr},
                       {"passed", nullptr},
                       {"frontier", false},
                       {"note", note}});
    probabilities_.push_back(std::move(probs));
    configs_.push_back(config);
    index_[config] = trials_.size() - 1;
    if (p_.progress) p_.progress(static_cast<int>(trials_.size()), p_.max_trials);
    return trials_.size() - 1;
  }

  /// Judges trial `t` with the gates (once); returns whether they passed.
  bool judge(std::size_t t) {
    json& trial = trials_[t];
    if (trial["passed"].is_null()) {
      const json verdict = p_.judge(probabilities_[t]);
      trial["gates"] = verdict["results"];
      trial["passed"] = verdict["passed"];
    }
    return trial["passed"].get<bool>();
  }

  /// How far trial t's gates are from passing: the sum over gates of their "excess" (0 when passed).
  double violation(std::size_t t) const {
    double v = 0;
    for (const auto& g : trials_[t]["gates"]) v += g.value("excess", g.value("passed", false) ? 0.0 : 1.0);
    return v;
  }
  /// Whether relaxing to trial a is better than to trial b: closer to passing, then less damage, then fewer bytes.
  bool better_relaxation(std::size_t a, std::size_t b) const {
    if (violation(a) != violation(b)) return violation(a) < violation(b);
    if (damage_of(a) != damage_of(b)) return damage_of(a) < damage_of(b);
    return bytes_of(a) < bytes_of(b);
  }
  const Config& config_of(std::size_t t) const { return configs_[t]; }
  bool budget_left() const { return static_cast<int>(trials_.size()) < p_.max_trials; }
  double damage_of(std::size_t t) const { return trials_[t]["damage"].get<double>(); }
  double bytes_of(std::size_t t) const { return trials_[t]["stored_bytes"].get<double>(); }
  json& trials() { return trials_; }
  std::size_t uncompressed() const { return uncompressed_; }

 private:
  const std::optional<LayerChange>& option(std::size_t l, std::size_t v) {
    const auto key = std::make_pair(l, v);
    if (auto it = options_.find(key); it != options_.end()) return it->second;
    std::vector<LayerChange> changes = p_.option(l, v);
    std::optional<LayerChange> one;
    for (auto& c : changes) {
      if (c.layer != p_.layers[l])
        throw Error(ErrorCode::runtime,
                    fmt::format("compressing layer '{}' alone changed layer '{}': the search needs a compressor that "
                                "changes only the layers it is given (e.g. scope = \"layer\")",
                                p_.layers[l], c.layer));
      one = std::move(c);
    }
    return options_[key] = std::move(one);
  }

  /// Stored bytes of the whole model: each layer's cheapest form, cached per (layer, its level).
  double stored(models::TrainableModel& model, const Config& config) {
    double total = 0;
    for (const Layer& layer : model.layers()) {
      std::size_t level = uncompressed_ + 1;  // not searchable
      for (std::size_t l = 0; l < p_.layers.size(); ++l)
        if (p_.layers[l] == layer.name) level = config[l];
      const auto key = std::make_pair(layer.name, level);
      auto it = stored_.find(key);
      if (it == stored_.end()) it = stored_.emplace(key, stored_bytes(layer_parameters(model, layer))).first;
      total += it->second;
    }
    return total;
  }

  const SearchProblem& p_;
  std::size_t uncompressed_;
  std::map<std::pair<std::size_t, std::size_t>, std::optional<LayerChange>> options_;
  std::map<std::pair<std::string, std::size_t>, double> stored_;
  std::map<Config, std::size_t> index_;
  json trials_ = json::array();
  std::vector<at::Tensor> probabilities_;
  std::vector<Config> configs_;
};

std::string describe(const SearchProblem& p, std::size_t l, std::size_t from, std::size_t to) {
  auto v = [&](std::size_t i) {
    if (i >= p.values.size()) return std::string("none");
    return p.values[i].is_string() ? p.values[i].get<std::string>() : p.values[i].dump();
  };
  return fmt::format("{}: {} -> {}", p.layers[l], v(from), v(to));
}

void greedy(const SearchProblem& p, Runner& run) {
  const std::size_t L = p.layers.size();
  Config config(L, 0);
  std::size_t current = run.evaluate(config, "start: every layer at the most compression");
  // Relax, while the gates fail: each compressed layer's one-step relaxation is judged (attribution of the gates'
  // failure, relative to the current configuration), and the one that brings the gates closest to passing is kept
  // (ties: the one that removes the most damage, then the fewest bytes added).
  while (!run.judge(current) && run.budget_left()) {
    std::optional<std::size_t> best;
    for (std::size_t l = 0; l < L && run.budget_left(); ++l) {
      if (config[l] >= run.uncompressed()) continue;
      Config probe = config;
      ++probe[l];
      const std::size_t t = run.evaluate(probe, "probe: relax " + describe(p, l, config[l], probe[l]));
      run.judge(t);
      if (!best || run.better_relaxation(t, *best)) best = t;
    }
    if (!best) break;  // every layer uncompressed (or no budget)
    std::size_t layer = 0;
    for (std::size_t l = 0; l < L; ++l)
      if (run.config_of(*best)[l] != config[l]) layer = l;
    run.trials()[*best]["note"] = "relax " + describe(p, layer, config[layer], config[layer] + 1);
    config = run.config_of(*best);
    current = *best;
  }
  if (!run.judge(current)) return;
  // Tighten: compress each layer one value more while the gates still pass.
  for (bool changed = true; changed && run.budget_left();) {
    changed = false;
    for (std::size_t l = 0; l < L && run.budget_left(); ++l) {
      if (config[l] == 0) continue;
      Config tighter = config;
      --tighter[l];
      const std::size_t t = run.evaluate(tighter, "tighten " + describe(p, l, config[l], tighter[l]));
      if (run.judge(t)) {
        config = tighter;
        changed = true;
      }
    }
  }
}

void exhaustive(const SearchProblem& p, Runner& run) {
  const std::size_t L = p.layers.size(), V = p.values.size() + 1;
  double total = 1;
  for (std::size_t l = 0; l < L; ++l) total *= static_cast<double>(V);
  if (total > p.max_trials)
    throw Error(ErrorCode::pipeline, fmt::format("an exhaustive search of {} layers x {} settings is {:g} "
                                                 "configurations, above max_trials = {}: use strategy = \"greedy\"",
                                                 L, V, total, p.max_trials));
  Config config(L, 0);
  for (;;) {
    run.judge(run.evaluate(config, "exhaustive"));
    std::size_t l = 0;
    while (l < L && ++config[l] == V) config[l++] = 0;
    if (l == L) break;
  }
}

}  // namespace

std::vector<bool> pareto_frontier(const json& trials) {
  struct Point {
    double bytes, flips, quality;
  };
  std::vector<Point> pts;
  for (const auto& t : trials) {
    const json& q = t["critical_recall"].is_null() ? t["accuracy"] : t["critical_recall"];
    pts.push_back({t["stored_bytes"].get<double>(), t["negative_flip_rate"].get<double>(), q.get<double>()});
  }
  std::vector<bool> on(pts.size(), true);
  for (std::size_t i = 0; i < pts.size(); ++i)
    for (std::size_t j = 0; j < pts.size() && on[i]; ++j) {
      const Point &a = pts[j], &b = pts[i];
      const bool no_worse = a.bytes <= b.bytes && a.flips <= b.flips && a.quality >= b.quality;
      const bool better = a.bytes < b.bytes || a.flips < b.flips || a.quality > b.quality;
      if (j != i && no_worse && better) on[i] = false;
    }
  return on;
}

json search(const SearchProblem& p) {
  Runner run(p);
  if (p.strategy == "exhaustive") exhaustive(p, run);
  else greedy(p, run);
  json& trials = run.trials();
  const auto frontier = pareto_frontier(trials);
  std::optional<std::size_t> chosen;
  for (std::size_t t = 0; t < trials.size(); ++t) {
    trials[t]["frontier"] = static_cast<bool>(frontier[t]);
    if (!trials[t]["passed"].is_boolean() || !trials[t]["passed"].get<bool>()) continue;
    if (!chosen || run.bytes_of(t) < run.bytes_of(*chosen) ||
        (run.bytes_of(t) == run.bytes_of(*chosen) && run.damage_of(t) < run.damage_of(*chosen)))
      chosen = t;
  }
  json config = chosen ? trials[*chosen]["config"] : json();
  return {{"trials", trials},
          {"chosen", chosen ? json(*chosen) : json()},
          {"passed", chosen.has_value()},
          {"config", config}};
}

}  // namespace compaudit::engine::analysis
