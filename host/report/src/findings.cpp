// Findings: plain sentences about what the numbers do and do not show, so that a small, noisy audit says so
// instead of hiding it (docs/science.md). Each finding is {"kind", "arm" (or family), "text"}; report.json carries
// them and report.html lists them at the top.
#include "findings.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "lookup.h"
#include "stats/trend.h"

namespace compaudit::report {

using nlohmann::json;

namespace {

const json* arm_named(const json& report, const std::string& name) {
  for (const auto& a : report["arms"])
    if (a.value("name", "") == name) return &a;
  return nullptr;
}

std::string pp(double v) { return fmt::format("{:+.2f} pp", v * 100); }
std::string pc(double v) { return fmt::format("{:.2f}%", v * 100); }

/// "rises", "falls" or "is not monotonic" over values in level order.
std::string trend(const std::vector<double>& v) {
  bool up = true, down = true;
  for (std::size_t i = 1; i < v.size(); ++i) up &= v[i] >= v[i - 1], down &= v[i] <= v[i - 1];
  return up ? "rises" : down ? "falls" : "is not monotonic";
}

/// The per-seed statistic `key` of metric `id` (its "per_seed" rows) for arms in level order, as [seed][level] over
/// the seeds present at every level (a failed cell drops its seed from the test rather than break the blocks).
std::vector<std::vector<double>> per_seed_grid(const std::vector<const json*>& arms, const char* id, const char* key) {
  std::map<std::int64_t, std::vector<std::optional<double>>> by_seed;
  for (std::size_t l = 0; l < arms.size(); ++l) {
    const json* r = metric_result(*arms[l], id);
    if (!r || !r->contains("per_seed") || !(*r)["per_seed"].is_array()) return {};
    for (const auto& row : (*r)["per_seed"]) {
      auto value = number(row, key);
      if (!value || !row.contains("seed") || !row["seed"].is_number_integer()) continue;
      auto& values = by_seed[row["seed"].get<std::int64_t>()];
      values.resize(arms.size());
      values[l] = value;
    }
  }
  std::vector<std::vector<double>> grid;
  for (const auto& [seed, values] : by_seed) {
    if (values.size() != arms.size() || std::any_of(values.begin(), values.end(), [](auto& v) { return !v; }))
      continue;
    grid.emplace_back();
    for (const auto& v : values) grid.back().push_back(*v);
  }
  return grid;
}

/// "PIE fraction rises with level: a → b → c (...)" only when the trend test rejects at alpha; otherwise the
/// fractions and "trend not shown (p = ...)". The tested statistic is the per-seed disagreement between the candidate
/// and the reference model of the same seed (the PIE fraction itself exists only for the whole population).
json pie_trend(const std::vector<const json*>& arms, const std::vector<double>& pies, const std::string& pie_text) {
  std::vector<double> levels;
  for (const json* a : arms) levels.push_back(a->value("level", 0.0));
  const auto grid = per_seed_grid(arms, kPie, "disagreement");
  if (grid.empty())
    return {{"shown", false},
            {"text", fmt::format("PIE fraction with level: {}; trend not tested (no per-seed statistic at every level)",
                                 pie_text)}};
  const double alpha = number_at(*metric_result(*arms.front(), kPie), {"null", "alpha"}).value_or(0.05);
  const stats::TrendTest t = stats::spearman_trend_test(grid, levels);
  const std::string how =
      fmt::format("Spearman ρ = {} between level and the per-seed disagreement with the reference, {} seeds × {} "
                  "levels, permutation p = {:.3g}",
                  t.rho ? fmt::format("{:+.2f}", *t.rho) : std::string("undefined"), t.seeds, t.levels, t.p_value);
  const bool shown = t.rho && t.p_value < alpha;
  const char* direction = t.rho && *t.rho > 0 ? "rises" : "falls";
  std::string text;
  if (!shown)
    text = fmt::format("PIE fraction with level: {}; trend not shown (p = {:.3g} >= alpha = {:g}; {})", pie_text,
                       t.p_value, alpha, how);
  else if (trend(pies) == direction)
    text = fmt::format("PIE fraction {} with level: {} ({})", direction, pie_text, how);
  else {
    // The tested statistic moved one way and the population's PIE fractions (modal labels, not means) another: state
    // what was shown, with its own means, rather than a sentence whose numbers contradict its verb.
    std::string means;
    for (std::size_t l = 0; l < levels.size(); ++l) {
      double sum = 0;
      for (const auto& row : grid) sum += row[l];
      means += (l ? " → " : "") + pc(sum / static_cast<double>(grid.size()));
    }
    text = fmt::format("per-seed disagreement with the reference {} with level: {} ({}); the PIE fraction ({}) does "
                       "not move the same way, so its trend is not shown",
                       direction, means, how, pie_text);
  }
  // "shown" is the PIE fraction's trend: a disagreement trend the fractions do not follow does not show it.
  return {{"shown", shown && trend(pies) == direction},
          {"p_value", t.p_value},
          {"rho", t.rho ? json(*t.rho) : json()},
          {"text", text}};
}

/// The PIE fraction beside its seed-noise floor, its interval and whether it is above noise at the metric's alpha.
std::optional<std::string> pie_noise(const json& pie) {
  auto f = number_at(pie, {"summary", "pie_fraction"});
  auto floor = number_at(pie, {"summary", "pie_fraction_null_mean"});
  auto p = number_at(pie, {"summary", "pie_p_value"});
  if (!f || !floor || !p) return std::nullopt;
  std::string ci;
  if (auto range = pie_interval(pie)) ci = fmt::format(" [95% CI {}, {}]", pc(range->first), pc(range->second));
  const double alpha = number_at(pie, {"null", "alpha"}).value_or(0.05);
  return fmt::format("PIE fraction {}{} against a seed-noise floor of {} (permutation p = {:.3g}, {:.0f} {}swaps): {} "
                     "at alpha = {:g}",
                     pc(*f), ci, pc(*floor), *p, number_at(pie, {"null", "permutations"}).value_or(0),
                     flag_at(pie, {"null", "exact"}) ? "exhaustive " : "",
                     flag_at(pie, {"summary", "above_noise"}) ? "above noise" : "not above noise", alpha);
}

/// What Welch's test can say at this K: "underpowered" below its minimum K, and the K that would detect the
/// observed effects (docs/science.md §3).
std::optional<std::string> welch_power(const json& welch) {
  auto need_min = number_at(welch, {"summary", "k_needed_min"}), need_max = number_at(welch, {"summary", "k_needed_max"});
  const std::string need =
      need_min ? fmt::format("the observed effects would need K = {:.0f}{} models per population for power 0.8",
                             *need_min, need_max && *need_max != *need_min ? fmt::format(" to {:.0f}", *need_max) : "")
               : "no class has an effect to size";
  const auto models = [&](const char* key) { return number_at(welch, {"summary", key}).value_or(0); };
  if (text_at(welch, {"summary", "status"}, "ok") == "underpowered")
    return fmt::format("Welch's test is underpowered with K = {:.0f} and {:.0f} models (fewer than {:.0f}): no "
                       "impacted classes are counted; {}",
                       models("models_ref"), models("models_cand"), models("min_models"), need);
  if (number_at(welch, {"summary", "impacted_classes"}).value_or(-1) == 0 && need_min)
    return fmt::format("no impacted class at K = {:.0f}; {}", models("models_cand"), need);
  return std::nullopt;
}

}  // namespace

json findings(const json& report) {
  json out = json::array();
  auto add = [&](const std::string& kind, const std::string& subject, const std::string& text) {
    out.push_back({{"kind", kind}, {"subject", subject}, {"text", text}});
  };

  // Top-1 against the reference: is the difference larger than the intervals?
  for (const auto& arm : report["arms"]) {
    if (!is_compared(arm)) continue;
    const json* ref = arm_named(report, arm["reference"]);
    auto m = number(arm["top1"], "mean");
    auto rm = ref ? number((*ref)["top1"], "mean") : std::nullopt;
    if (!m || !rm) continue;
    const auto& ci = arm["top1"]["ci95"];
    const auto& rci = (*ref)["top1"]["ci95"];
    const std::string name = arm["name"];
    if (!ci.is_array() || !rci.is_array()) {
      add("top1", name,
          fmt::format("top-1 {} ({} against {}); too few models for an interval.", pc(*m), pp(*m - *rm),
                      ref->value("name", "")));
      continue;
    }
    const bool overlap = ci[0].get<double>() <= rci[1].get<double>() && rci[0].get<double>() <= ci[1].get<double>();
    add("top1", name,
        fmt::format("top-1 {} ({} against {}): {}", pc(*m), pp(*m - *rm), ref->value("name", ""),
                    overlap ? fmt::format("the 95% intervals overlap, not distinguishable with {} models",
                                          arm["top1"].value("n", 0))
                            : "the 95% intervals do not overlap"));
  }

  // Along each swept family: PIE fraction and impacted classes against level.
  std::map<std::string, std::vector<const json*>> families;
  for (const auto& arm : report["arms"])
    if (!is_uncompressed(arm) && !arm.value("sweep", json::object()).empty())
      families[arm["base_name"]].push_back(&arm);
  for (auto& [family, arms] : families) {
    std::set<double> levels;
    for (const json* a : arms) levels.insert(a->value("level", 0.0));
    if (levels.size() < 2) continue;  // a sweep over a non-numeric parameter has no order
    std::stable_sort(arms.begin(), arms.end(),
                     [](const json* a, const json* b) { return a->value("level", 0.0) < b->value("level", 0.0); });
    std::vector<double> pies, impacted;
    std::string pie_text, imp_text;
    for (const json* a : arms) {
      const json* p = metric_result(*a, kPie);
      const json* w = metric_result(*a, kWelch);
      if (auto f = p ? number_at(*p, {"summary", "pie_fraction"}) : std::nullopt) {
        pies.push_back(*f);
        pie_text += (pie_text.empty() ? "" : " → ") + pc(*f);
      }
      if (auto n = w ? number_at(*w, {"summary", "impacted_classes"}) : std::nullopt) {
        impacted.push_back(*n);
        imp_text += (imp_text.empty() ? "" : " → ") + fmt::format("{:.0f}", *n);
      }
    }
    if (pies.size() == arms.size()) {
      const json t = pie_trend(arms, pies, pie_text);
      add("pie_trend", family, t["text"]);
      out.back()["shown"] = t["shown"];
      if (t.contains("p_value")) out.back()["p_value"] = t["p_value"];
    }
    // A count of impacted classes has no per-seed value to test a trend on: the counts are stated, not a trend.
    if (impacted.size() == arms.size())
      add("impacted_trend", family,
          fmt::format("impacted classes with level: {} (counts per level; no trend test: the count has no per-seed "
                      "statistic)",
                      imp_text));
  }

  // Per compared arm: PIEs against their noise floor; what Welch's test can say at this K.
  for (const auto& arm : report["arms"]) {
    if (!is_compared(arm)) continue;
    if (const json* p = metric_result(arm, kPie))
      if (auto text = pie_noise(*p)) {
        add("pie_noise", arm["name"], *text);
        out.back()["shown"] = flag_at(*p, {"summary", "above_noise"});
      }
    if (const json* w = metric_result(arm, kWelch))
      if (auto text = welch_power(*w)) add("power", arm["name"], *text);
  }

  // Removing PIEs: does top-1 rise for both populations (Hooker et al.)?
  int rises = 0, total = 0;
  for (const auto& arm : report["arms"]) {
    const json* p = is_compared(arm) ? metric_result(arm, kPie) : nullptr;
    if (!p || number_at(*p, {"summary", "pie_count"}).value_or(0) == 0) continue;
    auto r = number_at(*p, {"summary", "top1_ref"}), rw = number_at(*p, {"summary", "top1_ref_without_pies"});
    auto c = number_at(*p, {"summary", "top1_cand"}), cw = number_at(*p, {"summary", "top1_cand_without_pies"});
    if (!r || !rw || !c || !cw) continue;
    ++total;
    rises += *rw > *r && *cw > *c;
  }
  if (total)
    add("pie_removal", "",
        fmt::format("removing the PIEs raises top-1 of both populations for {} of {} arms (expected of any two "
                    "populations: PIEs are examples their modal labels disagree on, where at least one is wrong, so "
                    "this is not evidence of compression damage; a control's own PIEs do the same)",
                    rises, total));
  if (total) out.back()["shown"] = false;

  // Memorization: mismatch rate from the lowest to the highest non-empty bin, Spearman's rho with its bootstrap
  // interval over training examples, and the subset fraction as run (m of T, against the fraction asked for).
  const auto memorization_detail = [](const json& r) {
    std::string out;
    if (auto rho = number_at(r, {"summary", "spearman"})) {
      out += fmt::format("; Spearman {:.3f}", *rho);
      const json ci = r.contains("intervals") && r["intervals"].is_object() ? r["intervals"].value("spearman", json())
                                                                              : json();
      if (ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number())
        out += fmt::format(" [95% bootstrap {:.3f}, {:.3f}]", ci[0].get<double>(), ci[1].get<double>());
    }
    const auto m = number_at(r, {"subsets", "per_example"}), t = number_at(r, {"subsets", "models"});
    const auto asked = number_at(r, {"subsets", "requested_fraction"});
    if (m && t && asked) out += fmt::format("; subsets {:.0f}/{:.0f} = {:.3g} (asked {:.3g})", *m, *t, *m / *t, *asked);
    return out;
  };
  for (const auto& arm : report["arms"]) {
    const json* r = is_compared(arm) ? metric_result(arm, kMemorization) : nullptr;
    if (!r || !r->contains("bins")) continue;
    std::vector<double> rates;
    for (const auto& b : (*r)["bins"])
      if (auto v = number(b, "mismatch_rate")) rates.push_back(*v);
    if (rates.size() < 2) continue;
    add("memorization", arm["name"],
        fmt::format("mismatch rate {} with memorization ({} in the lowest bin, {} in the highest){}", trend(rates),
                    pc(rates.front()), pc(rates.back()),
                    memorization_detail(*r)));
  }

  const auto failed = report["failed_cells"].size();
  if (failed)
    add("failed_cells", "",
        fmt::format("{} cell{} failed; the statistics above use the remaining seeds", failed, failed == 1 ? "" : "s"));
  return out;
}

}  // namespace compaudit::report
