#include "run/analysis_phase.h"

#include "analysis/attribution.h"
#include "analysis/search.h"
#include "run/context.h"
#include "run/state_io.h"
#include "run/store_io.h"

#include <compaudit/error.h>
#include <compaudit/layers.h>
#include <compaudit/metric.h>
#include <compaudit/report/gates.h>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

namespace compaudit::engine {
namespace {

std::vector<std::uint8_t> bytes_of(const nlohmann::json& j) {
  const std::string text = j.dump();
  return {text.begin(), text.end()};
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

/// A gate as evaluate_gates reads it from the run settings.
nlohmann::json gate_json(const host::GateSpec& g) {
  return {{"gate", g.name}, {"metric", g.metric}, {"statistic", g.statistic}, {"class", g.class_name},
          {"min", g.min ? nlohmann::json(*g.min) : nlohmann::json()},
          {"max", g.max ? nlohmann::json(*g.max) : nlohmann::json()}};
}

/// `value` as the searched parameter's declared type (an integer parameter such as a rank gets an int64).
ParamValue typed(const host::SearchSpec& spec, const host::Manifest& m, const ParamValue& value) {
  return host::search_step_params(spec, m, value, {}).values().at(spec.parameter);
}

/// A search value as the record stores it (a JSON number or string) back as a parameter value.
ParamValue param_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return v.get<double>();
}

toml::array toml_array(const nlohmann::json& list) {
  toml::array a;
  for (const auto& v : list) {
    if (v.is_string()) a.push_back(v.get<std::string>());
    else if (v.is_number_integer()) a.push_back(v.get<std::int64_t>());
    else if (v.is_number()) a.push_back(v.get<double>());
    else if (v.is_boolean()) a.push_back(v.get<bool>());
  }
  return a;
}

void put_toml(toml::table& t, const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) t.insert_or_assign(key, v.get<std::string>());
  else if (v.is_boolean()) t.insert_or_assign(key, v.get<bool>());
  else if (v.is_number_integer()) t.insert_or_assign(key, v.get<std::int64_t>());
  else if (v.is_number()) t.insert_or_assign(key, v.get<double>());
  else if (v.is_array()) t.insert_or_assign(key, toml_array(v));
}

/// How far a judged gate's value lies outside its bounds, relative to the bound (at least 1e-3): 0 when it passed,
/// 1 when there is no value (it fails closed). The greedy search relaxes toward the smallest sum.
double excess(const nlohmann::json& gate, const nlohmann::json& judged) {
  if (judged["passed"].get<bool>()) return 0.0;
  if (!judged["value"].is_number()) return 1.0;
  const double v = judged["value"].get<double>();
  double out = 0;
  for (const char* side : {"max", "min"}) {
    if (!gate[side].is_number()) continue;
    const double bound = gate[side].get<double>();
    const double over = side[1] == 'a' ? v - bound : bound - v;
    if (over > 0) out += over / std::max(std::abs(bound), 1e-3);
  }
  return std::isfinite(out) ? out : 1.0;
}

/// The parameter's value unless it is the manifest's default (the [[arm]] TOML then leaves it out).
bool is_default(const host::Manifest& m, const std::string& name, const ParamValue& value) {
  for (const auto& p : m.params)
    if (p.name == name) return p.default_value && compaudit::to_string(*p.default_value) == compaudit::to_string(value);
  return false;
}

}  // namespace

AnalysisPhase::AnalysisPhase(const RunParts& parts, std::function<bool(std::int64_t)> seed_filter)
    : parts_(parts), seed_filter_(std::move(seed_filter)) {}

std::optional<analysis::CriticalClass> AnalysisPhase::critical_class(const std::string& text) const {
  if (text.empty()) return std::nullopt;
  for (std::size_t c = 0; c < parts_.data.class_names.size(); ++c)
    if (parts_.data.class_names[c] == text) return analysis::CriticalClass{static_cast<int>(c), text};
  try {
    const int index = std::stoi(text);
    if (index >= 0 && index < parts_.data.num_classes && std::to_string(index) == text)
      return analysis::CriticalClass{index, parts_.data.class_names.at(static_cast<std::size_t>(index))};
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::pipeline, fmt::format("critical_class '{}' is not a class of the data", text),
              parts_.pipeline.attribution.where);
}

std::vector<std::pair<std::string, std::int64_t>> AnalysisPhase::attribution_work(bool planned) const {
  std::vector<std::pair<std::string, std::int64_t>> work;
  const auto& spec = parts_.pipeline.attribution;
  if (!spec.enabled) return work;
  for (const auto& arm : parts_.pipeline.arms) {
    if (arm.name == "dense" || host::is_control(arm) || !arm.predictions.empty()) continue;
    if (!matches_any(spec.arms, arm.name)) continue;
    for (std::int64_t seed : parts_.pipeline.seeds) {
      if (seed_filter_ && !seed_filter_(seed)) continue;
      const auto cell = parts_.store.cell(arm.name, seed);
      const auto dense = parts_.store.cell("dense", seed);
      // Planned (progress total, before the cells): every cell not failed; to do now: done cells only.
      const auto usable = [&](const std::optional<store::Cell>& c) {
        return planned ? (!c || c->status != store::CellStatus::failed) : (c && c->status == store::CellStatus::done);
      };
      if (!usable(cell) || !usable(dense)) continue;
      if (!parts_.store.blob(arm.name, seed, "attribution")) work.emplace_back(arm.name, seed);
    }
  }
  return work;
}

void AnalysisPhase::attribute(Progress& progress) {
  const auto& spec = parts_.pipeline.attribution;
  // Seed by seed, so each dense model is restored from the store once, not once per arm.
  auto work = attribution_work(false);
  std::stable_sort(work.begin(), work.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  std::int64_t dense_seed = -1;
  std::unique_ptr<models::TrainableModel> dense;
  for (const auto& [arm, seed] : work) {
    const std::string what = "attribution " + cell_name(arm, seed);
    progress.start(what);
    const auto t0 = std::chrono::steady_clock::now();
    nlohmann::json record;
    bool ok = true;
    try {
      const Dataset& split = spec.split == "validation" ? parts_.data.validation : parts_.data.test;
      if (!dense || dense_seed != seed) {
        dense.reset();  // a failed restore must not leave the previous seed's model in place
        dense = parts_.models.stored("dense", seed);
        dense_seed = seed;
      }
      auto compressed = parts_.models.stored(arm, seed);
      record = analysis::attribute(*dense, *compressed, split, critical_class(spec.critical_class), spec.examples);
    } catch (const std::exception& e) {  // this arm and seed cannot be attributed; the rest of the run goes on
      record = {{"error", e.what()}};
      ok = false;
      progress.note(fmt::format("  {}: {}", what, e.what()));
    }
    record["arm"] = arm;
    record["seed"] = seed;
    record["reference"] = "dense";
    record["split"] = spec.split;
    parts_.store.put_blob(arm, seed, "attribution", bytes_of(record));
    progress.finish(what, ok, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

void AnalysisPhase::compress_layers(models::TrainableModel& model, const std::string& arm, std::int64_t seed,
                               const std::vector<std::string>& layers, const ParamValue& value,
                               nlohmann::json* records) {
  const host::SearchSpec& spec = parts_.pipeline.search;
  const host::Manifest& manifest = parts_.plugins.manifest(spec.plugin, "compressor", spec.where);
  auto compressor =
      parts_.plugins.compressor(spec.plugin, host::search_step_params(spec, manifest, value, layers), spec.where);
  CellContext context(parts_, model, arm, seed);
  CompressionRecord record = host::guarded(spec.plugin, "compress", [&] { return compressor->compress(model, context); });
  if (records)
    records->push_back({{"plugin", spec.plugin}, {"summary", record.summary}, {"details", record.details},
                        {"log", context.lines()}});
}

const nlohmann::json& AnalysisPhase::search_record(std::int64_t seed, Progress& progress) {
  if (auto it = search_records_.find(seed); it != search_records_.end()) return it->second;
  const host::SearchSpec& spec = parts_.pipeline.search;
  const std::string arm = spec.name;
  // Another arm's cell (the uniform one) may need it first, or again after a resume: it is deterministic, and the
  // stored record is the one the searched arm's cell wrote.
  if (const auto blob = parts_.store.blob(arm, seed, "search")) {
    auto record = nlohmann::json::parse(blob->begin(), blob->end());
    if (record.contains("trials")) return search_records_[seed] = std::move(record);
  }
  const host::Manifest& manifest = parts_.plugins.manifest(spec.plugin, "compressor", spec.where);
  models::TrainableModel& dense = parts_.models.dense(seed);
  if (parts_.data.validation.size() == 0)
    throw Error(ErrorCode::pipeline, "[search] needs a validation split (data.validation_fraction > 0)", spec.where);
  const auto critical = critical_class(spec.critical_class);
  const std::optional<int> critical_index = critical ? std::optional<int>(critical->index) : std::nullopt;

  // Searchable layers: those the plugin's own selection parameters (exclude, layer_types) select.
  std::vector<std::string> layers;
  {
    auto probe = dense.clone();
    for (const Layer& l : select_layers(*probe, read_selection(spec.params), spec.plugin)) layers.push_back(l.name);
  }

  // The judge: each gate's metric (its first [[metric]]) on the validation split, dense against the candidate.
  std::map<std::string, std::shared_ptr<Metric>> metrics;
  std::vector<nlohmann::json> gates;
  for (const auto& g : parts_.pipeline.gates)
    if (spec.gates.empty() || std::count(spec.gates.begin(), spec.gates.end(), g.name)) {
      gates.push_back(gate_json(g));
      if (metrics.count(g.metric)) continue;
      for (const auto& m : parts_.pipeline.metrics)
        if (m.plugin == g.metric) {
          metrics[g.metric] = parts_.plugins.metric(m);
          break;
        }
    }
  const EvalData eval{"validation", parts_.data.validation.targets, parts_.data.num_classes, parts_.data.class_names};
  const at::Tensor dense_probs = predict_probabilities(dense, parts_.data.validation.inputs);
  auto population = [&](const std::string& name, const at::Tensor& probs) {
    return Population{name, {seed}, probs.argmax(1).unsqueeze(0), probs.unsqueeze(0), {nlohmann::json::object()}};
  };
  const Population reference = population("dense", dense_probs);

  analysis::SearchProblem problem;
  problem.reference = &dense;
  problem.layers = layers;
  for (const auto& v : spec.values) problem.values.push_back(to_json(v));
  problem.inputs = &parts_.data.validation.inputs;
  problem.reference_outcome = analysis::make_reference(dense_probs, parts_.data.validation.targets, critical_index);
  problem.strategy = spec.strategy;
  problem.max_trials = spec.max_trials;
  problem.option = [&](std::size_t l, std::size_t v) {
    auto model = dense.clone();
    compress_layers(*model, arm, seed, {layers[l]}, spec.values[v], nullptr);
    return analysis::changed_layers(dense, *model);
  };
  problem.judge = [&](const at::Tensor& probs) {
    const Population candidate = population(arm, probs);
    nlohmann::json results = nlohmann::json::array();
    bool passed = true;
    for (const auto& g : gates) {
      nlohmann::json result;
      std::string error;
      try {
        const MetricExtras extras;
        result = host::guarded(g["metric"].get<std::string>(), "compute", [&] {
          return metrics.at(g["metric"].get<std::string>())->compute(MetricInput{eval, reference, candidate, extras});
        });
      } catch (const std::exception& e) {
        error = e.what();
      }
      nlohmann::json judged = report::judge_gate(g, result, error);
      judged["gate"] = g["gate"];
      judged["excess"] = excess(g, judged);
      passed = passed && judged["passed"].get<bool>();
      results.push_back(std::move(judged));
    }
    return nlohmann::json{{"results", results}, {"passed", passed}};
  };
  const std::string what = cell_name(arm, seed);
  problem.progress = [&](int done, int budget) {
    progress.start(fmt::format("{}: search, {} of at most {} configurations", what, done, budget));
  };

  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json found = analysis::search(problem);
  nlohmann::json record = {{"seed", seed},
                           {"split", "validation"},
                           {"plugin", spec.plugin},
                           {"parameter", spec.parameter},
                           {"values", values_json(spec.values)},
                           {"layers", layers},
                           {"strategy", spec.strategy},
                           {"critical_class", critical ? nlohmann::json{{"index", critical->index}, {"name", critical->name}}
                                                       : nlohmann::json()},
                           {"gates", gates},
                           {"evaluations", found["trials"].size()},
                           {"trials", found["trials"]},
                           {"chosen", found["chosen"]},
                           {"config", found["config"]},
                           {"passed", found["passed"]}};
  // The chosen configuration as a ready [[arm]]: one step per compressed layer, in model order, with the parameters
  // that differ from the plugin's defaults.
  if (found["passed"].get<bool>()) {
    toml::table arm_table{{"name", arm}};
    const host::ArmSpec* spec_arm = nullptr;
    for (const auto& a : parts_.pipeline.arms)
      if (a.search) spec_arm = &a;
    if (spec_arm && spec_arm->finetune_epochs > 0) arm_table.insert("finetune_epochs", spec_arm->finetune_epochs);
    toml::array steps;
    for (const auto& layer : layers) {
      const nlohmann::json& value = found["config"][layer];
      if (value.is_null()) continue;
      toml::table step{{"plugin", spec.plugin}};
      step.insert("layers", toml::array{layer});
      put_toml(step, spec.parameter, to_json(typed(spec, manifest, param_value(value))));
      for (const auto& [k, pv] : spec.params.values())
        if (!is_default(manifest, k, pv)) put_toml(step, k, to_json(pv));
      steps.push_back(std::move(step));
    }
    arm_table.insert("step", std::move(steps));
    toml::table doc{{"arm", toml::array{std::move(arm_table)}}};
    std::ostringstream text;
    text << toml::toml_formatter(doc, toml::format_flags::relaxed_float_precision |
                                          toml::format_flags::indent_sub_tables);
    record["arm_toml"] = text.str();
    record["stored_bytes"] = found["trials"][found["chosen"].get<std::size_t>()]["stored_bytes"];
  }
  record["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  parts_.store.put_blob(arm, seed, "search", bytes_of(record));
  return search_records_[seed] = std::move(record);
}

std::unique_ptr<models::TrainableModel> AnalysisPhase::searched_model(const host::ArmSpec& arm, std::int64_t seed,
                                                                       nlohmann::json& records, Progress& progress) {
  const nlohmann::json& record = search_record(seed, progress);
  if (!record.value("passed", false))
    throw Error(ErrorCode::runtime, fmt::format("no configuration of {} passed the validation gates ({} tried; the "
                                                "search record lists them)",
                                                parts_.pipeline.search.plugin, record["trials"].size()));
  // The chosen steps, in model order, on a copy of the dense model: what the record's arm_toml gives when pasted.
  auto model = parts_.models.dense(seed).clone();
  for (const auto& layer : record["layers"]) {
    const nlohmann::json& value = record["config"][layer.get<std::string>()];
    if (!value.is_null())
      compress_layers(*model, arm.name, seed, {layer.get<std::string>()}, param_value(value), &records);
  }
  if (records.empty())
    records.push_back({{"plugin", parts_.pipeline.search.plugin}, {"summary", "search: every layer left uncompressed"}});
  return model;
}

std::unique_ptr<models::TrainableModel> AnalysisPhase::uniform_model(const host::ArmSpec& arm, std::int64_t seed,
                                                                      nlohmann::json& records, Progress& progress) {
  const host::SearchSpec& spec = parts_.pipeline.search;
  const nlohmann::json& record = search_record(seed, progress);
  if (!record.value("passed", false))
    throw Error(ErrorCode::runtime, "the search found no configuration, so there is no size to match");
  const double target = record["stored_bytes"].get<double>();
  const auto layers = record["layers"].get<std::vector<std::string>>();
  models::TrainableModel& dense = parts_.models.dense(seed);
  auto bytes_at = [&](const ParamValue& value) {
    auto model = dense.clone();
    compress_layers(*model, arm.name, seed, layers, value, nullptr);
    return analysis::model_stored_bytes(*model);
  };
  // One value for every layer whose stored bytes come closest to the searched arm's: bisection between the least and
  // the most compression for a real parameter (bytes fall as compression rises), every integer in between for an
  // integer one (a rank), every listed value for a string one (a precision).
  const host::Manifest& manifest = parts_.plugins.manifest(spec.plugin, "compressor", spec.where);
  const ParamValue first = typed(spec, manifest, spec.values.front());
  ParamValue best = spec.values.back();
  double best_gap = std::abs(bytes_at(best) - target);
  auto consider = [&](const ParamValue& v) {
    if (const double gap = std::abs(bytes_at(v) - target); gap < best_gap) best = v, best_gap = gap;
  };
  if (std::holds_alternative<double>(first)) {
    double lo = std::get<double>(typed(spec, manifest, spec.values.back()));  // least compression
    double hi = std::get<double>(first);                                        // most
    for (int i = 0; i < 30; ++i) {
      const double mid = 0.5 * (lo + hi);
      const double bytes = bytes_at(mid);
      if (const double gap = std::abs(bytes - target); gap < best_gap) best = mid, best_gap = gap;
      (bytes > target ? lo : hi) = mid;
    }
    consider(first);
  } else if (std::holds_alternative<std::int64_t>(first)) {
    std::int64_t a = std::get<std::int64_t>(first), b = std::get<std::int64_t>(typed(spec, manifest, spec.values.back()));
    for (std::int64_t v = std::min(a, b); v <= std::max(a, b); ++v) consider(v);
  } else {
    for (const auto& v : spec.values) consider(v);
  }
  auto model = dense.clone();
  compress_layers(*model, arm.name, seed, layers, best, &records);
  records.back()["summary"] = fmt::format("uniform {} = {} on every searched layer, matching the searched arm's "
                                          "{:.0f} stored bytes to {:.0f}: {}",
                                          spec.parameter, compaudit::to_string(typed(spec, manifest, best)), target,
                                          best_gap,
                                          records.back()["summary"].get<std::string>());
  return model;
}

}  // namespace compaudit::engine
