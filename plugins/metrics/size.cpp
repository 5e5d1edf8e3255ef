// org.compaudit.metric.size — how much smaller did compression make the models? Parameters, non-zeros and bytes at
// the stored precision, from the host's per-seed records, plus any kernel norm loss the compressors reported.
//
//     [[metric]]
//     plugin = "org.compaudit.metric.size"
//
// The host puts {"size": {"parameters", "nonzeros", "bytes", "sparse_bytes"}} (compaudit::measure() of the final
// model) into Population::records[k] for every seed, and the compressors' records, one per step of the chain, as
// an array under "records" (or "steps"): [{"plugin", "summary", "details": {...}}, ...]. This metric reads nothing
// else, so it works for any compressor:
//   - size: mean over seeds of each count for both populations, the candidate's sparsity (1 - nonzeros /
//     parameters) and the candidate / reference ratios of the means (bytes_ratio = 0.25: four times smaller);
//   - norm loss: every member named "norm_loss" holding a number, at any depth of a step's details (tensor
//     truncation reports one per layer and cut), is listed with the scalar members beside it (layer, cut, ...);
//   - realized figures: what the final model — after fine-tuning — still has, measured by the host
//     under size.realized (host/engine/run/realized.h): per layer sparsity, norm loss against the dense model,
//     numerical rank along each recorded cut beside its chi, and for weights stored below 32 bits the fraction off
//     the declared grid and the most distinct values per channel beside 2^bits.
//
// Output:
//     "summary": { parameters_ref, parameters_cand, nonzeros_ref, nonzeros_cand, bytes_ref, bytes_cand,
//                  sparse_bytes_ref, sparse_bytes_cand, sparsity_cand, nonzeros_ratio, bytes_ratio,
//                  sparse_bytes_ratio, norm_loss_mean, norm_loss_max,
//                  realized_rank_excess_max      max over seeds, layers, cuts of rank - chi (<= 0: the rank held)
//                  realized_norm_loss_mean       mean realized norm loss of the layers with a recorded cut
//                  realized_off_grid_fraction_max  max fraction of a weight's values off its declared grid
//                  realized_levels_excess_max    max over weights of levels_max - levels_allowed (<= 0: the bits
//                                                claimed are bits realized) }   (null when the records lack them)
//     "models":    { "reference": [ {seed, parameters, nonzeros, bytes, sparse_bytes}, ... ], "candidate": [...] }
//     "norm_loss": [ {seed, step, plugin, norm_loss, <scalar siblings>...}, ... ]
//     "realized":  [ {seed, layer, parameter, sparsity, norm_loss, cuts: [{cut, chi, rank}], bits,
//                     off_grid_fraction, levels_max, levels_allowed}, ... ]   (members present where they apply)
#include "metric_size_manifest.h"  // generated from manifests/metric_size.toml
#include "stats/population.h"

#include <compaudit/metric.h>

#include <algorithm>
#include <map>

namespace {

using compaudit::metrics::number_or_null;
constexpr const char* kFields[] = {"parameters", "nonzeros", "bytes", "sparse_bytes"};

/// Per-field means over the seeds whose record has a size; nullopt when none has.
struct SizeMeans {
  std::map<std::string, std::optional<double>> mean;
  nlohmann::json models = nlohmann::json::array();
};

SizeMeans read_sizes(const compaudit::Population& pop) {
  SizeMeans out;
  std::map<std::string, std::pair<double, int>> sums;
  for (std::size_t k = 0; k < pop.records.size(); ++k) {
    const nlohmann::json& record = pop.records[k];
    if (!record.is_object() || !record.contains("size") || !record["size"].is_object()) continue;
    nlohmann::json row = {{"seed", compaudit::metrics::seed_of(pop, k)}};
    for (const char* field : kFields) {
      const auto it = record["size"].find(field);
      if (it == record["size"].end() || !it->is_number()) continue;
      row[field] = *it;
      sums[field].first += it->get<double>();
      sums[field].second += 1;
    }
    out.models.push_back(std::move(row));
  }
  for (const char* field : kFields) {
    const auto it = sums.find(field);
    out.mean[field] = it == sums.end() ? std::nullopt : std::optional<double>(it->second.first / it->second.second);
  }
  return out;
}

/// Appends every numeric "norm_loss" found under `node`, with the scalar members of the object that holds it.
void collect_norm_loss(const nlohmann::json& node, const nlohmann::json& where, nlohmann::json& out,
                       std::vector<double>& values) {
  if (node.is_object()) {
    const auto it = node.find("norm_loss");
    if (it != node.end() && it->is_number()) {
      nlohmann::json entry = where;
      for (const auto& [key, value] : node.items())
        if (!value.is_structured() && key != "norm_loss") entry[key] = value;
      entry["norm_loss"] = *it;
      values.push_back(it->get<double>());
      out.push_back(std::move(entry));
    }
  }
  if (node.is_structured())
    for (const auto& child : node) collect_norm_loss(child, where, out, values);
}

/// The compression steps of one seed's record: its "records" (the host's name) or "steps" array, else none.
nlohmann::json steps_of(const nlohmann::json& record) {
  if (!record.is_object()) return nlohmann::json::array();
  for (const char* key : {"records", "steps"})
    if (record.contains(key) && record[key].is_array()) return record[key];
  return nlohmann::json::array();
}

/// The realized rows of every candidate seed, and the summary figures over them.
struct Realized {
  nlohmann::json rows = nlohmann::json::array();
  std::optional<double> rank_excess_max, off_grid_max, levels_excess_max;
  double truncated_loss_sum = 0.0;
  int truncated_layers = 0;
};

void keep_max(std::optional<double>& slot, double value) { slot = slot ? std::max(*slot, value) : value; }

/// The number `object[key]`, if it is one.
std::optional<double> number_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? std::optional<double>(it->get<double>()) : std::nullopt;
}

Realized read_realized(const compaudit::Population& pop) {
  Realized out;
  for (std::size_t k = 0; k < pop.records.size(); ++k) {
    const nlohmann::json& record = pop.records[k];
    if (!record.is_object() || !record.contains("size") || !record["size"].is_object()) continue;
    const auto found = record["size"].find("realized");
    if (found == record["size"].end() || !found->is_object()) continue;
    const nlohmann::json& realized = *found;
    if (!realized.contains("layers") || !realized["layers"].is_array()) continue;
    for (const nlohmann::json& layer : realized["layers"]) {
      if (!layer.is_object()) continue;
      nlohmann::json row = {{"seed", compaudit::metrics::seed_of(pop, k)}};
      row.update(layer);
      if (layer.contains("cuts") && layer["cuts"].is_array()) {
        for (const auto& cut : layer["cuts"])
          if (const auto rank = number_at(cut, "rank"), chi = number_at(cut, "chi"); rank && chi)
            keep_max(out.rank_excess_max, *rank - *chi);
        if (const auto loss = number_at(layer, "norm_loss")) {
          out.truncated_loss_sum += *loss;
          ++out.truncated_layers;
        }
      }
      if (const auto off = number_at(layer, "off_grid_fraction")) keep_max(out.off_grid_max, *off);
      if (const auto levels = number_at(layer, "levels_max"), allowed = number_at(layer, "levels_allowed");
          levels && allowed)
        keep_max(out.levels_excess_max, *levels - *allowed);
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

std::optional<double> ratio(const std::optional<double>& num, const std::optional<double>& den) {
  if (!num || !den || *den == 0.0) return std::nullopt;
  return *num / *den;
}

class SizeMetric final : public compaudit::Metric {
 public:
  explicit SizeMetric(const compaudit::Params&) {}

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const SizeMeans ref = read_sizes(input.reference);
    const SizeMeans cand = read_sizes(input.candidate);
    nlohmann::json summary = nlohmann::json::object();
    for (const char* field : kFields) {
      summary[std::string(field) + "_ref"] = number_or_null(ref.mean.at(field));
      summary[std::string(field) + "_cand"] = number_or_null(cand.mean.at(field));
    }
    const std::optional<double> density = ratio(cand.mean.at("nonzeros"), cand.mean.at("parameters"));
    summary["sparsity_cand"] = number_or_null(density ? std::optional<double>(1.0 - *density) : std::nullopt);
    summary["nonzeros_ratio"] = number_or_null(ratio(cand.mean.at("nonzeros"), ref.mean.at("nonzeros")));
    summary["bytes_ratio"] = number_or_null(ratio(cand.mean.at("bytes"), ref.mean.at("bytes")));
    summary["sparse_bytes_ratio"] = number_or_null(ratio(cand.mean.at("sparse_bytes"), ref.mean.at("sparse_bytes")));

    nlohmann::json norm_loss = nlohmann::json::array();
    std::vector<double> values;
    for (std::size_t k = 0; k < input.candidate.records.size(); ++k) {
      const nlohmann::json steps = steps_of(input.candidate.records[k]);
      for (std::size_t s = 0; s < steps.size(); ++s) {
        const nlohmann::json& step = steps[s];
        if (!step.is_object() || !step.contains("details")) continue;
        nlohmann::json where = {{"seed", compaudit::metrics::seed_of(input.candidate, k)}, {"step", s}};
        if (step.contains("plugin") && step["plugin"].is_string()) where["plugin"] = step["plugin"];
        collect_norm_loss(step["details"], where, norm_loss, values);
      }
    }
    summary["norm_loss_mean"] = nullptr;
    summary["norm_loss_max"] = nullptr;
    if (!values.empty()) {
      double sum = 0.0;
      for (double v : values) sum += v;
      summary["norm_loss_mean"] = sum / static_cast<double>(values.size());
      summary["norm_loss_max"] = *std::max_element(values.begin(), values.end());
    }
    Realized realized = read_realized(input.candidate);
    summary["realized_rank_excess_max"] = number_or_null(realized.rank_excess_max);
    summary["realized_norm_loss_mean"] = number_or_null(
        realized.truncated_layers > 0 ? std::optional<double>(realized.truncated_loss_sum / realized.truncated_layers)
                                      : std::nullopt);
    summary["realized_off_grid_fraction_max"] = number_or_null(realized.off_grid_max);
    summary["realized_levels_excess_max"] = number_or_null(realized.levels_excess_max);
    return {{"summary", std::move(summary)},
            {"models", {{"reference", ref.models}, {"candidate", cand.models}}},
            {"norm_loss", std::move(norm_loss)},
            {"realized", std::move(realized.rows)}};
  }
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(SizeMetric, metric_size_manifest)
