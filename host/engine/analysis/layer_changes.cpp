#include "analysis/layer_changes.h"

#include "run/realized.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>

namespace compaudit::engine::analysis {

namespace {

bool same(const ParameterValue& a, const ParameterValue& b) {
  return a.bits == b.bits && a.value.sizes() == b.value.sizes() && a.value.equal(b.value);
}

}  // namespace

std::vector<ParameterValue> layer_parameters(models::TrainableModel& model, const Layer& layer) {
  std::vector<ParameterValue> out;
  out.push_back({layer.name + ".weight", layer.weight.detach().clone(), model.storage_bits(layer.name + ".weight")});
  if (layer.bias.defined())
    out.push_back({layer.name + ".bias", layer.bias.detach().clone(), model.storage_bits(layer.name + ".bias")});
  return out;
}

double model_stored_bytes(models::TrainableModel& model) {
  double total = 0;
  for (const Layer& layer : model.layers()) total += stored_bytes(layer_parameters(model, layer));
  return total;
}

std::vector<LayerChange> changed_layers(models::TrainableModel& reference, models::TrainableModel& candidate) {
  at::NoGradGuard no_grad;
  const auto ref_layers = reference.layers();
  const auto cand_layers = candidate.layers();
  if (ref_layers.size() != cand_layers.size())
    throw Error(ErrorCode::runtime, fmt::format("the compressed model has {} layers, its reference {}",
                                                cand_layers.size(), ref_layers.size()));
  std::vector<LayerChange> out;
  for (std::size_t i = 0; i < ref_layers.size(); ++i) {
    const Layer& r = ref_layers[i];
    const Layer& c = cand_layers[i];
    if (r.name != c.name)
      throw Error(ErrorCode::runtime, fmt::format("layer {} is '{}' in the compressed model, '{}' in its reference", i,
                                                  c.name, r.name));
    LayerChange change{static_cast<int>(i), r.name, r.type, layer_parameters(candidate, c), layer_parameters(reference, r)};
    if (change.candidate.size() != change.reference.size())
      throw Error(ErrorCode::runtime, fmt::format("layer '{}' has a bias in one model only", r.name));
    bool changed = false;
    for (std::size_t p = 0; p < change.candidate.size(); ++p) {
      if (change.candidate[p].value.sizes() != change.reference[p].value.sizes())
        throw Error(ErrorCode::runtime,
                    fmt::format("layer '{}' changed shape ({} -> {}): attribution and search need compression that "
                                "keeps shapes (a structured pruner that masks, not one that shrinks)",
                                r.name, fmt::join(change.reference[p].value.sizes(), "x"),
                                fmt::join(change.candidate[p].value.sizes(), "x")));
      changed = changed || !same(change.candidate[p], change.reference[p]);
    }
    if (changed) out.push_back(std::move(change));
  }
  return out;
}

std::unique_ptr<models::TrainableModel> with_changes(const models::TrainableModel& reference,
                                                     const std::vector<const LayerChange*>& changes) {
  auto model = reference.clone();
  for (const LayerChange* change : changes)
    for (const ParameterValue& p : change->candidate) {
      model->replace_parameter(p.name, p.value);
      model->set_storage_bits(p.name, p.bits);
    }
  return model;
}

double stored_bytes(const std::vector<ParameterValue>& parameters) {
  at::NoGradGuard no_grad;
  double total = 0;
  for (const ParameterValue& p : parameters) {
    const double bytes_per = p.bits / 8.0;
    const double dense = static_cast<double>(p.value.numel());
    double values = std::min(dense, static_cast<double>(p.value.count_nonzero().item<std::int64_t>()));
    if (p.value.dim() >= 2) {
      const at::Tensor m = p.value.reshape({p.value.size(0), -1});
      const double r = static_cast<double>(numerical_rank(m));
      values = std::min(values, r * static_cast<double>(m.size(0) + m.size(1)));
    }
    total += values * bytes_per;
  }
  return total;
}

}  // namespace compaudit::engine::analysis
