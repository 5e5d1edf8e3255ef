// synthetic_run.h — writes a realistic run into a results store without training anything: 10 image classes,
// dense / dense+ft / a pruning sweep / an int8 arm, K seeds, predictions whose errors grow with sparsity (more on
// two "fragile" classes), metric results in the shapes the metric plugins produce, one failed cell, thumbnails.
// Used by the report tests and by scripts/screenshot_report.sh (through report_synthetic_run).
#pragma once

#include <compaudit/store/store.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace compaudit::test {

struct SyntheticOptions {
  int seeds = 5;
  int n_test = 600;
  bool image = true;
  bool with_failure = true;
};

/// Modal label of column i over the rows; ties go to the largest label (as the PIE definition says).
inline int modal(const std::vector<store::Predictions>& rows, std::size_t i, int classes) {
  std::vector<int> count(static_cast<std::size_t>(classes), 0);
  for (const auto& r : rows) ++count[static_cast<std::size_t>(r.labels[i])];
  int best = 0;
  for (int c = 0; c < classes; ++c)
    if (count[c] >= count[best]) best = c;
  return best;
}

inline void write_synthetic_run(const std::string& run_dir, const SyntheticOptions& o = {}) {
  using nlohmann::json;
  using namespace compaudit::store;
  const int C = 10, N = o.n_test;
  const std::vector<std::string> names = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  RunInfo run;
  run.name = "synthetic-pie";
  run.pipeline_path = "examples/pipelines/synthetic.toml";
  std::vector<std::int64_t> seeds;
  for (int k = 0; k < o.seeds; ++k) seeds.push_back(k);
  run.pipeline_toml =
      "[audit]\nname = \"synthetic-pie\"\nseeds = " + std::to_string(o.seeds) +
      "\n\n[data]\nformat = \"idx\"\n\n[model]\narch = \"mlp\"\nhidden = [256, 128]\n\n[[arm]]\nname = \"prune\"\n"
      "finetune_epochs = 1\n  [[arm.step]]\n  plugin = \"org.compaudit.prune.magnitude\"\n  sparsity = [0.5, 0.7, "
      "0.9]\n"
      "\n[[arm]]\nname = \"int8\"\n  [[arm.step]]\n  plugin = \"org.compaudit.quantize.ptq\"\n  bits = 8\n";
  run.settings = {{"seeds", seeds}, {"alpha", 0.05}, {"correction", "bh"}, {"evaluation_split", "test"}};
  auto s = Store::create(run_dir, run);

  auto step = [](const char* plugin, json params) { return json{{"plugin", plugin}, {"params", params}}; };
  std::vector<ArmInfo> arms = {
      {"dense", "dense", 0, {}, json::array(), 0, ""},
      {"dense+ft", "dense+ft", 0, {}, json::array(), 1, "dense"},
  };
  for (double sp : {0.5, 0.7, 0.9}) {
    std::string v = sp == 0.5 ? "0.5" : sp == 0.7 ? "0.7" : "0.9";
    arms.push_back({"prune@sparsity=" + v,
                    "prune",
                    sp,
                    {{"sparsity", v}},
                    json::array({step("org.compaudit.prune.magnitude", {{"sparsity", sp}, {"scope", "global"}})}),
                    1,
                    "dense+ft"});
  }
  arms.push_back({"int8", "int8", 0, {}, json::array({step("org.compaudit.quantize.ptq", {{"bits", 8}})}), 0, "dense"});
  s.put_arms(arms);

  std::mt19937 rng(1234);
  DataInfo d;
  d.kind = o.image ? "image" : "tabular";
  d.num_classes = C;
  d.class_names = names;
  d.input_shape = o.image ? std::vector<std::int64_t>{1, 28, 28} : std::vector<std::int64_t>{64};
  std::vector<std::int16_t> targets(static_cast<std::size_t>(N));
  for (int i = 0; i < N; ++i) targets[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(i % C);
  d.splits = {{"train", 3000, {}}, {"test", N, targets}};
  d.splits[0].targets.resize(3000);
  for (int i = 0; i < 3000; ++i) d.splits[0].targets[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(i % C);
  s.put_data(d);

  if (o.image) {
    // A blob per class: a ring whose radius and a bar whose angle depend on the class, plus noise.
    std::vector<Thumbnail> thumbs;
    std::uniform_int_distribution<int> noise(0, 40);
    for (int i = 0; i < N; ++i) {
      Thumbnail t{"test", i, 1, 28, 28, std::vector<std::uint8_t>(784)};
      const int c = targets[static_cast<std::size_t>(i)];
      const double r = 4 + c, ang = c * 0.31;
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          const double dx = x - 13.5, dy = y - 13.5, dist = std::sqrt(dx * dx + dy * dy);
          const double bar = std::abs(dx * std::sin(ang) - dy * std::cos(ang));
          int v = noise(rng);
          if (std::abs(dist - r) < 1.3) v = 230;
          if (bar < 1.2 && dist < 12) v = 180;
          t.pixels[static_cast<std::size_t>(y * 28 + x)] = static_cast<std::uint8_t>(v);
        }
      thumbs.push_back(std::move(t));
    }
    s.put_thumbnails(thumbs);
  }

  // Predictions: each example has a fixed "difficulty"; a model errs when difficulty + noise exceeds a threshold
  // that falls with compression, more for the fragile classes 6 (Shirt) and 2 (Pullover).
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> difficulty(static_cast<std::size_t>(N));
  for (auto& v : difficulty) v = u(rng);
  auto damage = [](const ArmInfo& a) { return a.name == "int8" ? 0.01 : a.level * a.level * a.level * 0.35; };
  std::map<std::string, std::vector<Predictions>> by_arm;
  for (const auto& arm : arms) {
    for (auto seed : seeds) {
      if (o.with_failure && arm.name == "prune@sparsity=0.9" && seed == seeds.back()) {
        s.start_cell(arm.name, seed);
        s.fail_cell(arm.name, seed,
                    "plugin org.compaudit.prune.magnitude failed in compress: mask shape [128, 256] "
                    "does not match weight [256, 128] of layer fc2");
        continue;
      }
      std::mt19937 g(static_cast<unsigned>(seed * 7919 + std::hash<std::string>{}(arm.name) % 1000));
      Predictions p;
      p.arm = arm.name;
      p.seed = seed;
      p.split = "test";
      p.labels.resize(static_cast<std::size_t>(N));
      p.true_prob.resize(static_cast<std::size_t>(N));
      for (int i = 0; i < N; ++i) {
        const int t = targets[static_cast<std::size_t>(i)];
        const double fragile = (t == 6 || t == 2) ? 2.0 : 1.0;
        const double thr = 0.88 - damage(arm) * fragile - (arm.finetune_epochs ? 0.01 : 0);
        const bool wrong = difficulty[static_cast<std::size_t>(i)] + 0.08 * u(g) > thr;
        p.labels[static_cast<std::size_t>(i)] = static_cast<std::int16_t>(
            wrong ? (t + 1 + static_cast<int>(difficulty[static_cast<std::size_t>(i)] * 97) % (C - 1)) % C : t);
        p.true_prob[static_cast<std::size_t>(i)] = float_to_half(wrong ? 0.2f : 0.9f);
      }
      Cell c;
      c.arm = arm.name;
      c.seed = seed;
      c.train_seconds = 3.2;
      c.eval_seconds = 0.1;
      c.size = {{"parameters", 235146}, {"nonzeros", static_cast<int>(235146 * (1 - arm.level))}};
      s.start_cell(arm.name, seed);
      s.finish_cell(c, {p});
      by_arm[arm.name].push_back(p);
    }
  }

  // Metric results in the plugins' output shapes (docs/report-json.md), computed from the predictions above.
  auto top1_of = [&](const std::vector<Predictions>& rows) {
    double acc = 0;
    for (const auto& r : rows)
      for (int i = 0; i < N; ++i) acc += r.labels[static_cast<std::size_t>(i)] == targets[static_cast<std::size_t>(i)];
    return acc / (static_cast<double>(rows.size()) * N);
  };
  for (const auto& arm : arms) {
    const std::string ref = arm.reference.empty() ? "dense" : arm.reference;
    const auto& R = by_arm[ref];
    const auto& A = by_arm[arm.name];
    // PIE
    json examples = json::array(), pie_labels = json::array(), per_class = json::array();
    std::vector<int> count(C, 0), data_count(C, 0);
    for (int i = 0; i < N; ++i) {
      const int t = targets[static_cast<std::size_t>(i)];
      ++data_count[static_cast<std::size_t>(t)];
      const int mr = modal(R, static_cast<std::size_t>(i), C), ma = modal(A, static_cast<std::size_t>(i), C);
      if (mr != ma) {
        examples.push_back(i);
        pie_labels.push_back({{"id", i}, {"label", t}, {"reference", mr}, {"candidate", ma}});
        ++count[static_cast<std::size_t>(t)];
      }
    }
    const int pies = static_cast<int>(examples.size());
    // Per seed: the share of examples on which the arm's model and the reference model of that seed disagree.
    json per_seed = json::array();
    for (const auto& a : A)
      for (const auto& r : R)
        if (r.seed == a.seed) {
          int differ = 0;
          for (int i = 0; i < N; ++i) differ += a.labels[static_cast<std::size_t>(i)] != r.labels[static_cast<std::size_t>(i)];
          per_seed.push_back({{"seed", a.seed}, {"disagreement", double(differ) / N}});
        }
    for (int c = 0; c < C; ++c)
      per_class.push_back({{"class", c},
                           {"name", names[c]},
                           {"count", count[c]},
                           {"pie_fraction", pies ? json(double(count[c]) / pies) : json(nullptr)},
                           {"data_fraction", double(data_count[c]) / N}});
    json pie = {{"summary",
                 {{"pie_count", pies},
                  {"pie_fraction", double(pies) / N},
                  // Floor and p shaped like the plugin's (a fixture: the null itself is tested in tests/metrics).
                  {"pie_fraction_null_mean", 0.4 * pies / N},
                  {"pie_p_value", pies > 20 ? 0.001 : 0.5},
                  {"above_noise", pies > 20},
                  {"top1_ref", top1_of(R)},
                  {"top1_cand", top1_of(A)},
                  {"top1_ref_without_pies", top1_of(R) + 0.01},
                  {"top1_cand_without_pies", top1_of(A) + 0.015}}},
                {"intervals", {{"pie_fraction_ci", {0.8 * pies / N, 1.2 * pies / N}}}},
                {"null", {{"pairs", per_seed.size()}, {"permutations", 1000}, {"exact", false}, {"alpha", 0.05}}},
                {"per_seed", per_seed},
                {"examples", examples},
                {"pie_labels", pie_labels},
                {"per_class", per_class}};
    s.put_metric({0, "org.compaudit.metric.pie", arm.name, ref, pie, ""});

    // Welch (values shaped like the plugin's; p from a normal approximation — this is a fixture, not the test)
    json wc = json::array();
    int impacted = 0;
    for (int c = 0; c < C; ++c) {
      auto recall = [&](const std::vector<Predictions>& rows) {
        double hit = 0;
        for (const auto& r : rows)
          for (int i = c; i < N; i += C) hit += r.labels[static_cast<std::size_t>(i)] == c;
        return hit / (static_cast<double>(rows.size()) * (N / C));
      };
      const double dd = (recall(A) - top1_of(A)) - (recall(R) - top1_of(R));
      const double t = -dd / 0.01;
      const double p = std::erfc(std::abs(t) / std::sqrt(2.0));
      const bool imp = p <= 0.05 && arm.name != ref;
      impacted += imp;
      wc.push_back({{"class", c},
                    {"name", names[c]},
                    {"n", N / C},
                    {"recall_ref", recall(R)},
                    {"recall_cand", recall(A)},
                    {"d", dd},
                    {"t", t},
                    {"df", 7.5},
                    {"p", p},
                    {"p_adjusted", std::min(1.0, p * 1.5)},
                    {"impacted", imp},
                    {"direction", t > 0   ? "down"
                                  : t < 0 ? "up"
                                          : "none"},
                    {"status", "ok"},
                    {"means_equal", nullptr}});
    }
    s.put_metric({1,
                  "org.compaudit.metric.recall_welch",
                  arm.name,
                  ref,
                  {{"per_class", wc},
                   {"summary", {{"impacted_classes", impacted}, {"tested_classes", C}}},
                   {"alpha", 0.05},
                   {"correction", "bh"}},
                  ""});

    // Memorization bins: mismatch rises with memorization, more with damage.
    json bins = json::array();
    for (int b = 0; b < 5; ++b) {
      const double rate =
          arm.name == ref ? 0.0 : std::min(1.0, damage(arm) * 0.5 + 0.02 + 0.05 * b * (1 + damage(arm) * 4));
      bins.push_back({{"lo", b * 0.2},
                      {"hi", (b + 1) * 0.2},
                      {"n", 600 - 100 * b},
                      {"mismatched", static_cast<int>(rate * (600 - 100 * b))},
                      {"mismatch_rate", rate}});
    }
    s.put_metric({2,
                  "org.compaudit.metric.memorization",
                  arm.name,
                  ref,
                  {{"summary", {{"spearman", 0.21}, {"auc", 0.63}, {"mismatch_rate", 0.05}}}, {"bins", bins}},
                  ""});
    // A third-party metric the report has no view for.
    s.put_metric({3,
                  "org.example.metric.entropy",
                  arm.name,
                  ref,
                  {{"summary", {{"entropy_mean", 0.4 + damage(arm)}, {"entropy_max", 1.9}}},
                   {"examples", {3, 14, 15, 92}},
                   {"histogram", {1, 4, 9, 4, 1}}},
                  ""});
  }
  // Critical class (positive class 6, "Shirt"): FNR rises with damage; size: bytes shrink with sparsity.
  for (const auto& arm : arms) {
    const std::string ref = arm.reference.empty() ? "dense" : arm.reference;
    const double fnr = 0.2 + damage(arm) * 1.5;
    s.put_metric({4,
                  "org.compaudit.metric.critical_class",
                  arm.name,
                  ref,
                  {{"summary", {{"fnr_ref_mean", 0.2}, {"fnr_cand_mean", fnr}, {"auc_cand_mean", 0.95 - damage(arm)}}},
                   {"intervals", {{"fnr_cand_mean", {fnr - 0.03, fnr + 0.03}}}},
                   {"positive_class", 6},
                   {"positive_name", "Shirt"}},
                  ""});
    const double ratio = arm.name == "int8" ? 0.25 : 1.0 - arm.level;
    s.put_metric({5,
                  "org.compaudit.metric.size",
                  arm.name,
                  ref,
                  {{"summary", {{"parameters_cand", 235146}, {"bytes_ratio", ratio}, {"sparsity_cand", arm.level}}}},
                  ""});
  }
  s.log("info", "run finished");
  s.log("warning", "arm prune@sparsity=0.9: 1 of " + std::to_string(o.seeds) + " cells failed");
}

}  // namespace compaudit::test
